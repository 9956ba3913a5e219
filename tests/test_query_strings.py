"""Every GET route survives every query string: odd values are ignored or refused, never a 500.

The query-parameter names are not listed by hand: they are read from the code (every
`request.args` look-up with a literal name, the fields of every form bound to
`request.args`, and the names the pager and the tallies carry over), so a parameter added
tomorrow is swept tomorrow. Every GET route of the URL map gets each name at once with
each hostile value (the fixed grid), then hypothesis draws routes and query strings.

Known failures replay on every run: the ones found once are pinned with `@example`, and
hypothesis keeps what it finds in the committed example database tests/hypothesis-db
(a failure found once is shrunk, saved there, and tried first on every later run).
"""

from __future__ import annotations

import ast
import inspect
import os
import traceback
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import url_for
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from wtforms.fields.core import UnboundField

from tests.test_route_walk import EXPECT, ROLES, build_scene, url_args
from volunteer_app.extensions import db

#: The four-eyes rule is tested in tests/test_national_record.py.
pytestmark = pytest.mark.config(FOUR_EYES_APPROVAL=False)

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "volunteer_app"
EXAMPLES_DB = DirectoryBasedExampleDatabase(str(Path(__file__).parent / "hypothesis-db"))
EXAMPLES = int(os.environ.get("QUERY_EXAMPLES", "150"))

BIG = "99999999999999999999"
#: Values that have broken, or could break, a parser: blanks, signs, numbers no column
#: holds, digits of other scripts (int() takes "٣", not "²"), impossible dates, markup.
HOSTILE_VALUES = (
    "",
    " ",
    "-149980",
    "0",
    "-1",
    BIG,
    "1e309",
    "abc",
    "²",
    "①",
    "٣",
    "１２",
    "2026-02-30",
    "0001-01-01",
    "9999-12-31",
    "2026-13",
    "<b>x</b>",
    "\u202e",
    "//example.invalid",
)
#: Read through helpers with a computed name (the tally dimensions) or by the pager.
INDIRECT_NAMES = ("page", "per_page", "area", "party", "host", "next", "format")


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_request_args(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "args"
        and isinstance(node.value, ast.Name)
        and node.value.id == "request"
    )


def query_parameter_names() -> set[str]:
    """Every query-string name the app reads, found in its source."""
    names: set[str] = set(INDIRECT_NAMES)
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(tree):
            # request.args.get("x") / .getlist("x")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and _is_request_args(node.func.value)
                and node.args
                and _literal(node.args[0])
            ):
                names.add(_literal(node.args[0]))
            # arg_int("x"), arg_choice("x", …): the readers of volunteer_app/query.py
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id.startswith("arg_")
                and node.args
                and _literal(node.args[0])
            ):
                names.add(_literal(node.args[0]))
            # request.args["x"]
            if (
                isinstance(node, ast.Subscript)
                and _is_request_args(node.value)
                and _literal(node.slice)
            ):
                names.add(_literal(node.slice))
            # "x" in request.args
            if (
                isinstance(node, ast.Compare)
                and any(_is_request_args(c) for c in node.comparators)
                and _literal(node.left)
            ):
                names.add(_literal(node.left))
            # SomeForm(request.args): every field of the form
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.args
                and _is_request_args(node.args[0])
            ):
                names |= _form_fields(module, node.func.id)
            # KEPT_ARGS = ("status", …) and the like: names carried from one page to the next
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple):
                target = node.targets[0]
                if isinstance(target, ast.Name) and target.id.endswith("_ARGS"):
                    names |= {v for v in map(_literal, node.value.elts) if v}
    return names


def _form_fields(module: str, class_name: str) -> set[str]:
    import importlib

    namespace = importlib.import_module(module)
    form = getattr(namespace, class_name)
    return {name for name, _ in inspect.getmembers(form, lambda v: isinstance(v, UnboundField))}


def get_routes(app) -> list[tuple[str, str]]:
    """(endpoint, role): every GET route, with the first caller that may open it."""
    out = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "bootstrap.static"):
            continue
        answers = EXPECT.get(rule.endpoint, {}).get("GET")
        if answers is None:
            continue  # test_route_walk fails on a route missing from its table
        role = next((r for r, a in zip(ROLES, answers, strict=True) if a == 200), None)
        if role is None:
            role = next(r for r, a in zip(ROLES, answers, strict=True) if a != "302→login")
        out.append((rule.endpoint, role))
    return sorted(out)


class ServerError(AssertionError):
    """A query string that answered 500 (or raised in the view)."""


@pytest.fixture
def scene(app, tree, make_user, make_volunteer, make_event):
    return build_scene(app, tree, make_user, make_volunteer, make_event)


def ask(scene, endpoint: str, role: str, query: dict[str, str]):
    """GET the route with the query; a 5xx or an exception is a ServerError."""
    app = scene.app
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        path = url_for(endpoint, **url_args(scene, endpoint, rule.arguments))
    try:
        response = scene.clients[role].get(path, query_string=query)
    except Exception as error:
        db.session.rollback()
        frames = traceback.extract_tb(error.__traceback__)
        ours = [f for f in frames if "/volunteer_app/" in f.filename] or frames
        spot = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}"
        raise ServerError(
            f"GET {path} {query!r} as {role}: {type(error).__name__}: {error} at {spot}"
        ) from error
    if response.status_code >= 500:
        raise ServerError(f"GET {path} {query!r} as {role}: {response.status_code}")
    if response.status_code in (301, 302, 303, 307, 308):
        location = urlsplit(response.location)
        assert location.netloc in ("", "localhost") and not response.location.startswith(
            ("//", "/\\")
        ), f"GET {path} {query!r} redirects off-site: {response.location}"
    return response


def test_the_query_names_are_read_from_the_code():
    names = query_parameter_names()
    # A few that the views read today, each in a different way.
    assert {"status", "page", "when", "category", "q", "period", "start", "sort"} <= names
    assert "csrf_token" not in names and "submit" in names  # form fields, whatever they are


def test_an_odd_status_on_the_organisers_event_list_is_ignored_not_a_server_error(scene):
    """Found by the sweep: `?status=%20&page=-149980` gave ValueError: ' ' is not a valid
    EventStatus (events/organise_views.py)."""
    response = ask(scene, "events.organise_list", "organiser_a", {"status": " ", "page": "-149980"})
    assert response.status_code == 200
    assert scene.event.title in response.get_data(as_text=True)  # the unfiltered list


def test_every_get_route_survives_every_query_string(scene, capsys):
    names = sorted(query_parameter_names())
    routes = get_routes(scene.app)
    assert len(routes) > 60  # the URL map, not a stub
    tried = 0
    for endpoint, role in routes:
        for value in HOSTILE_VALUES:
            ask(scene, endpoint, role, dict.fromkeys(names, value))
            tried += 1

    values = st.one_of(st.sampled_from(HOSTILE_VALUES), st.text(max_size=20))
    queries = st.dictionaries(st.sampled_from(names), values, min_size=1, max_size=4)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=EXAMPLES_DB,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(route=st.sampled_from(routes), query=queries)
    @example(route=("events.organise_list", "organiser_a"), query={"status": " ", "page": "-1"})
    def sweep(route: tuple[str, str], query: dict[str, str]) -> None:
        nonlocal tried
        tried += 1
        ask(scene, route[0], route[1], query)

    sweep()
    with capsys.disabled():
        print(f"\nquery strings: {tried} tried on {len(routes)} GET routes, {len(names)} names")
