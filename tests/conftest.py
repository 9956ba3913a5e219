"""Fixtures: the app on each database, per-test isolation, clients, users per role, factories.

Every test that uses `app` runs once on SQLite and once on PostgreSQL when
TEST_DATABASE_URL is set (otherwise the PostgreSQL run is skipped, saying why).
The schema is built by the migrations, once per database per session.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, make_url, text

from config import TestingConfig
from volunteer_app import create_app
from volunteer_app.extensions import db
from volunteer_app.models import OrgLevel, OrgUnit, Role, RoleGrant, User
from volunteer_app.services import orgs
from volunteer_app.services.passwords import hash_password

PG_URL = os.environ.get("TEST_DATABASE_URL")
PG_SKIP = (
    "PostgreSQL run skipped: TEST_DATABASE_URL is not set "
    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test; .ci/run sets it)"
)
PASSWORD = "Passw0rd2026"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots", action="store_true", help="save browser screenshots to docs/screenshots"
    )


def _upgrade(url: str) -> None:
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()


def _worker_postgres(url: str) -> str:
    """Under pytest-xdist (`make test` runs a worker per core) each worker gets a database of
    its own next to the given one (test_gw0, test_gw1, …): the suite empties its database
    between tests, so two workers must never share one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the calendar-sensitive tests (tests/dated.py) `dated`: `make test` runs them
    again on moved clocks."""
    from tests.dated import is_dated

    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        function = getattr(item, "originalname", item.name)
        if is_dated(module, function):
            item.add_marker(pytest.mark.dated)


def pytest_report_header(config: pytest.Config) -> str:
    return "databases: " + ", ".join(BACKENDS) + ("" if PG_URL else f"  ({PG_SKIP})")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not PG_URL:
        terminalreporter.write_line(f"NOTE: {PG_SKIP}", yellow=True, bold=True)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated, empty database of each kind, made once per test session."""
    if request.param == "postgresql":
        assert PG_URL
        url = _worker_postgres(PG_URL)
        _reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    _upgrade(url)
    return url


def _clean(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(text(f"DELETE FROM {table}"))
                conn.execute(text("DELETE FROM sqlite_sequence")) if _has_sequence(conn) else None
        db.engine.dispose()


def _has_sequence(conn) -> bool:
    return "sqlite_sequence" in inspect(conn).get_table_names()


class FreshContextClient(FlaskClient):
    """Each request gets its own app context (its own `g` and database session), as in a
    real server, even though the test itself holds an app context open."""

    def open(self, *args, **kwargs):
        # The test's own session ends its transaction around each request, so that it
        # neither holds a lock the request needs nor reads a snapshot from before it.
        db.session.commit()
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.commit()
        return response


@pytest.fixture
def app(database_url: str, request: pytest.FixtureRequest):
    """A fresh app on an empty (migrated) database; `@pytest.mark.config(...)` overrides."""
    overrides: dict = {}
    for marker in request.node.iter_markers("config"):
        overrides = {**marker.kwargs, **overrides}
    application = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url, **overrides)
    application.test_client_class = FreshContextClient
    with application.app_context():
        yield application
        db.session.remove()
    _clean(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


# ---------------------------------------------------------------- factories


@dataclass
class Tree:
    """A small district: two towns, a party tree and two organisers."""

    district: OrgUnit
    town_a: OrgUnit
    community_a1: OrgUnit
    community_a2: OrgUnit
    town_b: OrgUnit
    community_b1: OrgUnit
    party_root: OrgUnit
    committee: OrgUnit
    branch: OrgUnit
    youth_league: OrgUnit
    womens_federation: OrgUnit


@pytest.fixture
def tree(app: Flask) -> Tree:
    make = orgs.create_node
    district = make("即墨区", OrgLevel.DISTRICT, None)
    town_a = make("环秀街道", OrgLevel.TOWN, district)
    town_b = make("潮海街道", OrgLevel.TOWN, district)
    party_root = make("中共即墨区委", OrgLevel.PARTY_ROOT, district)
    committee = make("中共环秀街道工作委员会", OrgLevel.PARTY_COMMITTEE, party_root)
    result = Tree(
        district=district,
        town_a=town_a,
        community_a1=make("东关社区", OrgLevel.COMMUNITY, town_a),
        community_a2=make("西关社区", OrgLevel.COMMUNITY, town_a),
        town_b=town_b,
        community_b1=make("岘山社区", OrgLevel.COMMUNITY, town_b),
        party_root=party_root,
        committee=committee,
        branch=make("东关社区党支部", OrgLevel.PARTY_BRANCH, committee),
        youth_league=make("共青团即墨区委员会", OrgLevel.ORGANISER, district),
        womens_federation=make("即墨区妇女联合会", OrgLevel.ORGANISER, district),
    )
    db.session.commit()
    return result


_phones = itertools.count(1)
_FAST_HASH: dict[str, str] = {}


def _hash(password: str) -> str:
    if password not in _FAST_HASH:
        _FAST_HASH[password] = hash_password(password)
    return _FAST_HASH[password]


@pytest.fixture
def make_user(app: Flask):
    """make_user(role=None, node=None, phone=None, password=PASSWORD) -> User (committed)."""

    def make(
        role: Role | None = None,
        node: OrgUnit | None = None,
        *,
        phone: str | None = None,
        password: str = PASSWORD,
        name: str = "测试用户",
    ) -> User:
        phone = phone or f"139{next(_phones):08d}"
        user = User(phone=phone, password_hash=_hash(password), display_name=name)
        db.session.add(user)
        db.session.flush()
        if role is not None:
            assert node is not None, "a role needs a node"
            db.session.add(RoleGrant(user_id=user.id, org_unit_id=node.id, role=role))
        db.session.commit()
        return user

    return make


# ---------------------------------------------------------------- HTTP helpers

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/auth/login") -> str:
    """The CSRF token of the client's session, read from a form page."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class Auth:
    def __init__(self, client: FlaskClient):
        self.client = client

    def login(self, phone: str, password: str = PASSWORD, **extra):
        token = csrf_token(self.client)
        return self.client.post(
            "/auth/login",
            data={"csrf_token": token, "phone": phone, "password": password, **extra},
        )

    def logout(self):
        token = csrf_token(self.client, "/")
        return self.client.post("/auth/logout", data={"csrf_token": token})

    def post(self, path: str, data: dict | None = None, **kwargs):
        """POST with the session's CSRF token added."""
        token = csrf_token(self.client, "/")
        return self.client.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture
def login_as(app: Flask, tree: Tree, make_user):
    """login_as(role, node=None) -> (client, user): a fresh client logged in with that role."""

    def login(role: Role | None, node: OrgUnit | None = None) -> tuple[FlaskClient, User]:
        if role is not None and node is None:
            node = tree.district if role is Role.ADMIN else tree.town_a
        user = make_user(role, node)
        client = app.test_client()
        response = Auth(client).login(user.phone)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client, user

    return login


ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- volunteers and events

_serials = itertools.count(100)


@pytest.fixture
def make_volunteer(app: Flask, tree: Tree):
    """make_volunteer(community=None, birth=date(1990,1,1), party=False, **user_kw) -> User
    with a complete profile (built directly, for speed)."""
    from datetime import date

    from volunteer_app.models import Gender, IdType, PoliticalStatus, VolunteerProfile
    from volunteer_app.services import pii
    from volunteer_app.services.idnumbers import make_resident_number, mask
    from volunteer_app.timeutil import utcnow

    def make(
        community: OrgUnit | None = None,
        *,
        birth: date = date(1990, 1, 1),
        party: bool = False,
        commit: bool = True,
        **user_kw,
    ) -> User:
        phone = user_kw.pop("phone", None) or f"139{next(_phones):08d}"
        user = User(phone=phone, password_hash=_hash(PASSWORD), display_name="志愿者")
        db.session.add(user)
        db.session.flush()
        serial = next(_serials)
        region = ("370282", "370281", "370283", "370285", "370211", "370212")[serial // 500 % 6]
        number = make_resident_number(region, birth, 2 * (serial % 500) + 1, True)
        now = utcnow()
        db.session.add(
            VolunteerProfile(
                user_id=user.id,
                real_name=f"志愿者{user.id}",
                id_type=IdType.RESIDENT,
                id_number_encrypted=pii.encrypt(number),
                id_hash=pii.keyed_hash(f"resident:{number}"),
                id_masked=mask(number),
                gender=Gender.MALE,
                birth_date=birth,
                community_id=(community or tree.community_a1).id,
                political_status=PoliticalStatus.CPC_MEMBER if party else PoliticalStatus.MASSES,
                branch_id=tree.branch.id if party else None,
                skills=[],
                service_categories=["traffic_order"],
                availability=[],
                emergency_name="家人",
                emergency_phone="13700009999",
                privacy_version="2026-11",
                consented_at=now,
                sensitive_consented_at=now,
                guardian_name="监护人" if (now.year - birth.year) < 18 else None,
                guardian_phone="13700008888" if (now.year - birth.year) < 18 else None,
                guardian_consented_at=now if (now.year - birth.year) < 18 else None,
            )
        )
        if commit:
            db.session.commit()
        return user

    return make


@pytest.fixture
def make_event(app: Flask, tree: Tree, make_user):
    """make_event(capacity=10, waitlist=5, starts_in=timedelta(days=2), hours=3, **event_kw)
    -> (event, shift): a published event hosted by town A with one shift."""
    from datetime import timedelta

    from volunteer_app.models import Event, EventStatus, Shift
    from volunteer_app.timeutil import utcnow

    def make(
        capacity: int = 10,
        waitlist: int = 5,
        *,
        starts_in: timedelta = timedelta(days=2),
        hours: float = 3,
        host: OrgUnit | None = None,
        status: EventStatus = EventStatus.PUBLISHED,
        opens_days: int | None = 7,
        title: str = "街巷清洁",
        **event_kw,
    ):
        now = utcnow().replace(microsecond=0)
        start = now + starts_in
        event = Event(
            host_id=(host or tree.town_a).id,
            area_id=tree.community_a1.id,
            title=title,
            category=event_kw.pop("category", "env_sanitation"),
            address="东关社区广场",
            status=status,
            starts_at=start,
            ends_at=start + timedelta(hours=hours),
            **event_kw,
        )
        shift = Shift(
            event=event,
            post="清扫组",
            starts_at=start,
            ends_at=start + timedelta(hours=hours),
            capacity=capacity,
            taken=0,
            waitlisted=0,
            waitlist_enabled=waitlist > 0,
            waitlist_limit=waitlist,
            signup_opens_at=start - timedelta(days=opens_days) if opens_days is not None else None,
        )
        db.session.add_all([event, shift])
        db.session.commit()
        return event, shift

    return make
