"""What the tally pages share: the dimensions and their labels, number formats, where each
dimension starts for a user and loading a node (permissions.tally_nodes), period labels,
audited downloads."""

from __future__ import annotations

import io
from datetime import date, timedelta

from flask import abort, request, send_file, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import OrgKind, OrgUnit, Role, User
from ..permissions import PAGE_ROLES as ALL_PAGE_ROLES
from ..permissions import tally_nodes
from ..services import audit, exports
from ..services.scope import covers, grant_nodes
from .forms import MAX_MONTHS
from .periods import Period

PAGE_ROLES = tuple(ALL_PAGE_ROLES["tallies.index"])
#: Who may see a dimension, on the node or above it (permissions.tally_nodes).
DIM_ROLES: dict[str, tuple[Role, ...]] = {dim: policy.roles for dim, policy in tally_nodes.items()}
DIM_KIND = {"area": OrgKind.AREA, "party": OrgKind.PARTY, "host": None}
DIM_ORDER = ("area", "party", "host")
DIM_LABELS = {
    "area": _l("By community"),
    "party": _l("By Party organisation"),
    "host": _l("By organising unit"),
}
#: Sortable columns of the table of units: key -> (label, value of a Figures).
METRICS = {
    "volunteers": (_l("Volunteers who served"), lambda f: f.volunteers),
    "sessions": (_l("Sessions served"), lambda f: f.sessions),
    "hours": (_l("Approved hours"), lambda f: f.hours),
    "registered": (_l("Registered volunteers"), lambda f: f.registered),
    "per_volunteer": (_l("Hours per registered volunteer"), lambda f: f.hours_per_volunteer),
    "new": (_l("New registrations"), lambda f: f.new_registrations),
}
PEOPLE_PER_PAGE = 25


def fmt_hours(value: float) -> str:
    return f"{value:,.1f}"


def fmt_ratio(value: float) -> str:
    return f"{value:,.2f}"


def fmt_count(value: int) -> str:
    return f"{value:,}"


def mask_name(name: str | None) -> str:
    """王*明: the first and last character (a two-character name keeps the first)."""
    name = (name or "").strip()
    if len(name) <= 1:
        return name or "—"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# ---------------------------------------------------------------- scope


def _outermost(nodes: list[OrgUnit]) -> list[OrgUnit]:
    out: list[OrgUnit] = []
    for node in sorted({n.id: n for n in nodes}.values(), key=lambda n: (len(n.path), n.path)):
        if not any(node.is_within(o) for o in out):
            out.append(node)
    return sorted(out, key=lambda n: n.path)


def _party_tops_below(node: OrgUnit) -> list[OrgUnit]:
    """The topmost Party nodes inside a (non-Party) node's subtree: 区委 under the district."""
    parent = aliased(OrgUnit)
    return list(
        db.session.scalars(
            select(OrgUnit)
            .join(parent, parent.id == OrgUnit.parent_id)
            .where(
                OrgUnit.kind == OrgKind.PARTY,
                OrgUnit.active.is_(True),
                parent.kind != OrgKind.PARTY,
                OrgUnit.path.startswith(node.path, autoescape=True),
            )
            .order_by(OrgUnit.path)
        )
    )


def start_nodes(user: User) -> dict[str, list[OrgUnit]]:
    """Where each dimension starts for the user: the nodes of their grants (for the Party
    tree, the Party nodes their grants cover); an empty list hides the dimension."""
    organiser = _outermost(grant_nodes(user, DIM_ROLES["area"]))
    party: list[OrgUnit] = []
    for node in _outermost(grant_nodes(user, DIM_ROLES["party"])):
        party.extend([node] if node.kind is OrgKind.PARTY else _party_tops_below(node))
    return {
        "area": [n for n in organiser if n.kind is OrgKind.AREA],
        "party": _outermost(party),
        "host": organiser,
    }


def load_node(dim: str, node_id: int) -> OrgUnit:
    """The node if the user may see it in this dimension; 404 otherwise (as for a missing
    node, so ids outside the scope cannot be probed)."""
    if dim not in tally_nodes:
        abort(404)
    return tally_nodes[dim].load(node_id)


def _breadcrumb(dim: str, node: OrgUnit) -> list[tuple[OrgUnit, bool]]:
    """(ancestor, linkable) from the top of the dimension's tree down to the node's parent."""
    ids = node.ancestor_ids[:-1]
    if not ids:
        return []
    found = {n.id: n for n in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    out = []
    for node_id in ids:
        ancestor = found.get(node_id)
        if ancestor is None or (DIM_KIND[dim] and ancestor.kind is not DIM_KIND[dim]):
            continue
        out.append((ancestor, covers(current_user, ancestor, DIM_ROLES[dim])))
    return out


# ---------------------------------------------------------------- helpers


def _url_with(**changes) -> str:
    """This page's URL with some query arguments changed (None removes one)."""
    view_args = request.view_args or {}
    # Never a name of the route's own (?dim=) nor one of url_for's (?_external=).
    args = {k: v for k, v in request.args.items() if k not in view_args and not k.startswith("_")}
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for(request.endpoint, **view_args, **args)


def _month_shift(yyyymm: int, months: int) -> int:
    index = (yyyymm // 100) * 12 + yyyymm % 100 - 1 + months
    return (index // 12) * 100 + index % 12 + 1


def _month_date(yyyymm: int) -> date:
    return date(yyyymm // 100, yyyymm % 100, 1)


def period_label(period: Period) -> str:
    """The period as shown: its months, or its exact days when it starts or ends inside a
    month (a custom range counts exact days), or "all time"."""
    if period.kind == "all":
        return _("All time")
    if period.edges():
        last = period.end_date - timedelta(days=1)
        return f"{format_date(period.start_date, 'yyyy-MM-dd')} – {format_date(last, 'yyyy-MM-dd')}"
    first = format_date(_month_date(period.first), "yyyy-MM")
    if period.first == period.last:
        return first
    return f"{first} – {format_date(_month_date(period.last), 'yyyy-MM')}"


def period_stamp(period: Period) -> str:
    """The period in an export's file name."""
    if period.kind == "all":
        return "all"
    if period.edges():
        last = period.end_date - timedelta(days=1)
        return f"{period.start_date:%Y%m%d}-{last:%Y%m%d}"
    return f"{period.first}-{period.last}"


def trend_period(period: Period, today: date, since: int | None = None) -> Period:
    """Whole months for the trend chart: the period's (also those it starts or ends in),
    widened back to twelve months when shorter; for all time, from the first month with
    hours (`since`) to this month, at most MAX_MONTHS."""
    if period.kind == "all":
        this_month = today.year * 100 + today.month
        first = max(since or this_month, _month_shift(this_month, -(MAX_MONTHS - 1)))
        period = Period(min(first, this_month), this_month, "all")
    if len(period.months()) >= 12:
        return Period(period.first, period.last, period.kind)
    return Period(_month_shift(period.last, -11), period.last, period.kind)


def _download(fmt: str, filename: str, headers: list, rows: list, *, node: OrgUnit, table: str):
    body, mimetype = exports.render(fmt, headers, rows, title=filename)
    audit.record(
        "export.tally",
        actor=current_user,
        ip=request.remote_addr,
        scope=node.id,
        rows=len(rows),
        format=fmt,
        table=table,
    )
    return send_file(
        io.BytesIO(body),
        mimetype=mimetype,
        as_attachment=True,
        download_name=exports.download_name(filename, fmt),
        max_age=0,
    )


def _export_format() -> str | None:
    fmt = request.args.get("format")
    return fmt if fmt in exports.FORMATS else None
