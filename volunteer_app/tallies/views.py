"""Service-hour statistics: by community, by Party organisation and by organising unit,
with drill-down, charts, leaderboards, the 双报到 report and audited exports."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta

from flask import abort, render_template, request, send_file, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import aliased

from .. import tallies
from ..catalog import CATEGORIES, POLITICAL_STATUS
from ..extensions import db
from ..models import OrgKind, OrgLevel, OrgUnit, Role, User, VolunteerProfile
from ..permissions import load_in_scope, role_required
from ..query import arg_int, arg_page
from ..services import audit, charts, exports, volunteers
from ..services.scope import covers, grant_nodes
from ..timeutil import local_today
from .blueprint import bp
from .forms import MAX_MONTHS, PERIODS, DualForm, FilterForm
from .periods import Period
from .queries import Figures

PAGE_ROLES = (Role.ORGANISER, Role.BRANCH_SECRETARY)
#: Who may see a dimension, on the node or above it.
DIM_ROLES: dict[str, tuple[Role, ...]] = {
    "area": (Role.ORGANISER,),
    "host": (Role.ORGANISER,),
    "party": (Role.ORGANISER, Role.BRANCH_SECRETARY),
}
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
    if dim not in DIM_ROLES:
        abort(404)
    node = load_in_scope(OrgUnit, node_id, DIM_ROLES[dim])
    if DIM_KIND[dim] is not None and node.kind is not DIM_KIND[dim]:
        abort(404)
    return node


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
    args = {
        k: v for k, v in request.args.items() if k not in view_args and not k.startswith("_")
    }
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
    db.session.commit()
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


# ---------------------------------------------------------------- the people of a leaf


def _people_query(dim: str, node: OrgUnit, political: str | None):
    """Volunteers of a community (area) or members of a Party branch, within the user's
    scope; None for other nodes."""
    if dim == "area" and node.level is OrgLevel.COMMUNITY:
        return volunteers.search(current_user, community_id=node.id, political_status=political)
    if dim == "party" and node.level is OrgLevel.PARTY_BRANCH:
        return volunteers.search(current_user, political_status=political).where(
            VolunteerProfile.branch_id == node.id
        )
    return None


def _people_minutes(dim: str, node: OrgUnit, period: Period, user_ids: list[int] | None):
    """Approved minutes in the period of these volunteers at the node."""
    return tallies.person_minutes(dim, node.id, period, user_ids)


@dataclass
class PersonRow:
    profile: VolunteerProfile
    minutes: int

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 1)

    @property
    def total_hours(self) -> float:
        return round((self.profile.approved_minutes or 0) / 60, 1)


def _people_table(dim: str, rows: list[PersonRow]) -> tuple[list, list]:
    second = _("Party branch") if dim == "area" else _("Community")
    headers = [
        _("Name"),
        _("Mobile number"),
        second,
        _("Approved hours in the period"),
        _("Approved hours in total"),
    ]
    body = []
    for row in rows:
        other = row.profile.branch if dim == "area" else row.profile.community
        body.append(
            [
                row.profile.real_name or "—",
                row.profile.user.masked_phone,
                other.name if other else "",
                row.hours,
                row.total_hours,
            ]
        )
    return headers, body


# ---------------------------------------------------------------- the node page


@dataclass
class UnitRow:
    node: OrgUnit
    figures: Figures


def _units_table(dim: str, rows: list[UnitRow], show_people: bool) -> tuple[list, list]:
    headers = [_("Unit"), _("Sessions served"), _("Approved hours")]
    if show_people:
        headers[1:1] = [_("Volunteers who served")]
        headers += [
            _("Registered volunteers"),
            _("Hours per registered volunteer"),
            _("New registrations"),
        ]
    body = []
    for row in rows:
        f = row.figures
        line: list[object] = [row.node.name, f.sessions, f.hours]
        if show_people:
            line[1:1] = [f.volunteers]
            line += [f.registered, f.hours_per_volunteer, f.new_registrations]
        body.append(line)
    return headers, body


def _sorted_rows(rows: list[UnitRow], sort: str | None, order: str | None) -> list[UnitRow]:
    if sort == "name":
        return sorted(rows, key=lambda r: r.node.name, reverse=order == "desc")
    if sort in METRICS:
        value = METRICS[sort][1]
        return sorted(rows, key=lambda r: (value(r.figures), r.node.name), reverse=order != "asc")
    return rows


def render_node(dim: str, node: OrgUnit, starts: dict[str, list[OrgUnit]]):
    form = FilterForm(request.args)
    today = local_today()
    period = form.chosen_period(today)
    category, political = form.filters()
    show_people = dim != "host"
    show_volunteers = show_people and not category

    kids = tallies.children(node, dim)
    figs = tallies.figures(
        dim, [node.id, *(k.id for k in kids)], period, category=category, political=political
    )
    sort = request.args.get("sort")
    sort = sort if sort == "name" or sort in METRICS else None
    order = request.args.get("order") if request.args.get("order") in ("asc", "desc") else None
    rows = _sorted_rows([UnitRow(k, figs[k.id]) for k in kids], sort, order)

    fmt = _export_format()
    people_query = _people_query(dim, node, political)
    stamp = period_stamp(period)
    if fmt:
        if request.args.get("table") == "people" and people_query is not None:
            profiles = list(db.session.scalars(people_query))
            minutes = _people_minutes(dim, node, period, None)
            people = [PersonRow(p, minutes.get(p.user_id, 0)) for p in profiles]
            headers, body = _people_table(dim, people)
            return _download(fmt, f"{node.name}-{stamp}", headers, body, node=node, table="people")
        headers, body = _units_table(dim, rows, show_people)
        return _download(fmt, f"{node.name}-{dim}-{stamp}", headers, body, node=node, table="units")

    people_page, people_rows = None, []
    if people_query is not None:
        people_page = db.paginate(
            people_query, page=arg_page(), per_page=PEOPLE_PER_PAGE, error_out=False
        )
        minutes = _people_minutes(dim, node, period, [p.user_id for p in people_page.items])
        people_rows = [PersonRow(p, minutes.get(p.user_id, 0)) for p in people_page.items]

    label = period_label(period)
    metric = sort if sort in METRICS and (show_people or sort in ("sessions", "hours")) else "hours"
    metric_label, metric_value = METRICS[metric]
    metric_fmt = {"hours": fmt_hours, "per_volunteer": fmt_ratio}.get(metric, fmt_count)
    if dim == "host":
        child_level = _("Organising units")
    else:
        child_level = LEVEL_OF_CHILDREN.get(kids[0].level.value) if kids else None
    units_chart = charts.bar_chart(
        [(r.node.name, metric_value(r.figures)) for r in rows],
        chart_id="chart-units",
        width=400,
        title=_("%(metric)s by unit, %(period)s", metric=metric_label, period=label),
        desc=_summary(rows, metric_value, metric_fmt),
        value_format=metric_fmt,
    )

    since = tallies.first_month(dim, node.id) if period.kind == "all" else None
    trend = trend_period(period, today, since)
    months = tallies.monthly(dim, node.id, trend, category=category, political=political)
    trend_rows = [(m, round(minutes / 60, 1)) for m, minutes in months]
    trend_chart = charts.trend_chart(
        [(format_date(_month_date(m), "MMM"), h) for m, h in trend_rows],
        year_marks=[
            str(m // 100) if (i == 0 or m % 100 == 1) else "" for i, (m, _h) in enumerate(months)
        ],
        chart_id="chart-trend",
        width=560,
        title=_("Approved hours by month, %(period)s", period=period_label(trend)),
        desc=_(
            "Monthly approved hours of %(node)s; in total %(hours)s hours.",
            node=node.name,
            hours=fmt_hours(sum(h for _m, h in trend_rows)),
        ),
        value_format=fmt_hours,
    )

    per_category = tallies.by_category(dim, node.id, period, political)
    category_rows = sorted(
        ((CATEGORIES.get(code, code), round(m / 60, 1)) for code, m in per_category.items() if m),
        key=lambda item: -item[1],
    )
    category_chart = charts.bar_chart(
        [(str(name), hours) for name, hours in category_rows],
        chart_id="chart-categories",
        width=460,
        title=_("Approved hours by service category, %(period)s", period=label),
        desc=_("%(n)d categories; the table beside gives the hours.", n=len(category_rows)),
        value_format=fmt_hours,
        empty_text=_("No approved hours in this period."),
    )
    stars = tallies.star_counts(dim, node) if show_people else None

    return render_template(
        "tallies/node.html",
        dim=dim,
        dims=[d for d in DIM_ORDER if starts[d]],
        dim_labels=DIM_LABELS,
        starts=starts,
        node=node,
        crumbs=_breadcrumb(dim, node),
        form=form,
        period=period,
        period_text=label,
        period_kind=PERIODS.get(period.kind, ""),
        category=category,
        political=political,
        categories=CATEGORIES,
        politics=POLITICAL_STATUS,
        totals=figs[node.id],
        rows=rows,
        child_level=child_level,
        show_people=show_people,
        show_volunteers=show_volunteers,
        sort=sort,
        order=order,
        metrics=METRICS,
        units_chart=units_chart,
        metric_label=metric_label,
        trend_chart=trend_chart,
        trend_rows=trend_rows,
        category_chart=category_chart,
        category_rows=category_rows,
        stars=stars,
        people_page=people_page,
        people_rows=people_rows,
        url_with=_url_with,
        node_url=_node_url(dim),
        tab_url=_tab_url(),
        fmt_hours=fmt_hours,
        fmt_ratio=fmt_ratio,
        fmt_count=fmt_count,
    )


#: Query arguments a drill-down keeps (the filters, not the sort or the page).
FILTER_ARGS = ("period", "start", "end", "category", "political")


def _tab_url():
    """Switching tab keeps the period and the filters."""
    keep = {k: v for k, v in request.args.items() if k in FILTER_ARGS and v}
    return lambda dim: url_for("tallies.index", dim=dim, **keep)


def _node_url(dim: str):
    keep = {k: v for k, v in request.args.items() if k in FILTER_ARGS and v}
    return lambda unit: url_for("tallies.node", dim=dim, node_id=unit.id, **keep)


#: A heading for the table of children, by the children's level.
LEVEL_OF_CHILDREN = {
    "town": _l("Towns and subdistricts"),
    "community": _l("Communities and villages"),
    "party_root": _l("Party organisations"),
    "party_committee": _l("Party committees"),
    "party_general_branch": _l("General Party branches"),
    "party_branch": _l("Party branches"),
    "organiser": _l("Organising units"),
    "practice_station": _l("Civilisation practice stations"),
    "team": _l("Volunteer teams"),
}


def _summary(rows: list[UnitRow], value, fmt) -> str:
    if not rows:
        return _("There are no units below this one.")
    best = max(rows, key=lambda r: value(r.figures))
    return _(
        "%(n)d units; the highest is %(name)s with %(value)s. The table beside gives every "
        "unit's figures.",
        n=len(rows),
        name=best.node.name,
        value=fmt(value(best.figures)),
    )


# ---------------------------------------------------------------- routes


@bp.route("/")
@role_required(*PAGE_ROLES)
def index():
    starts = start_nodes(current_user)
    dims = [d for d in DIM_ORDER if starts[d]]
    if not dims:
        return render_template("tallies/none.html")
    dim = request.args.get("dim")
    dim = dim if dim in dims else dims[0]
    return render_node(dim, starts[dim][0], starts)


@bp.route("/<dim>/<int:node_id>")
@role_required(*PAGE_ROLES)
def node(dim: str, node_id: int):
    unit = load_node(dim, node_id)
    return render_node(dim, unit, start_nodes(current_user))


@bp.route("/party/<int:branch_id>/dual")
@role_required(*PAGE_ROLES)
def dual(branch_id: int):
    """双报到: members' hours in the community where they live and elsewhere, by quarter."""
    branch = load_node("party", branch_id)
    today = local_today()
    form = DualForm(request.args)
    year = arg_int("year", today.year, low=2000, high=2100)
    quarter = arg_int("quarter", (today.month - 1) // 3 + 1, low=1, high=4)
    form.year.data, form.quarter.data = year, str(quarter)
    period = tallies.quarter_period(year, quarter)
    members = tallies.dual_report(branch, period)
    home = sum(m.home_minutes for m in members)
    away = sum(m.elsewhere_minutes for m in members)
    fmt = _export_format()
    if fmt:
        headers = [
            _("Name"),
            _("Residence community"),
            _("Hours in the residence community"),
            _("Hours elsewhere"),
            _("Total hours"),
        ]
        body = [
            [
                m.name,
                m.community,
                round(m.home_minutes / 60, 1),
                round(m.elsewhere_minutes / 60, 1),
                round((m.home_minutes + m.elsewhere_minutes) / 60, 1),
            ]
            for m in members
        ]
        return _download(
            fmt, f"{branch.name}-{year}Q{quarter}", headers, body, node=branch, table="dual"
        )
    return render_template(
        "tallies/dual.html",
        branch=branch,
        form=form,
        year=year,
        quarter=quarter,
        period_text=period_label(period),
        members=members,
        home=home,
        away=away,
        served_home=sum(1 for m in members if m.home_minutes > 0),
        url_with=_url_with,
        fmt_hours=fmt_hours,
    )


@dataclass
class Leader:
    rank: int
    name: str
    community: str
    minutes: int

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 1)


def _chosen_start(dim: str, starts: dict[str, list[OrgUnit]]) -> OrgUnit | None:
    """?area= / ?party= picks a node in scope; otherwise the first start node."""
    asked = request.args.get(dim, type=int)
    if asked:
        return load_node(dim, asked)
    return starts[dim][0] if starts[dim] else None


def _ranking(dim: str, parent: OrgUnit | None, period: Period, category, political):
    if parent is None:
        return []
    kids = tallies.children(parent, dim)
    figs = tallies.figures(
        dim, [k.id for k in kids], period, category=category, political=political
    )
    rows = [UnitRow(k, figs[k.id]) for k in kids]
    # Units without any approved hours go last, all of them by name (never in the order
    # the database happened to return); ties among the others are broken by name too.
    return sorted(
        rows,
        key=lambda r: (
            r.figures.minutes == 0,
            -r.figures.hours_per_volunteer,
            -r.figures.minutes,
            r.node.name,
            r.node.id,
        ),
    )


@bp.route("/leaderboard")
@role_required(*PAGE_ROLES)
def leaderboard():
    starts = start_nodes(current_user)
    form = FilterForm(request.args)
    today = local_today()
    period = form.chosen_period(today)
    category, political = form.filters()
    area = _chosen_start("area", starts)
    party = _chosen_start("party", starts)
    this_month = today.year * 100 + today.month
    month = min(period.last, this_month)

    dim, top_node = ("area", area) if area is not None else ("party", party)
    leaders: list[Leader] = []
    if top_node is not None:
        top = tallies.top_volunteers(dim, top_node.id, month, limit=10)
        ids = [user_id for user_id, _m in top]
        info = {
            user_id: (name, community)
            for user_id, name, community in db.session.execute(
                select(VolunteerProfile.user_id, VolunteerProfile.real_name, OrgUnit.name)
                .outerjoin(OrgUnit, OrgUnit.id == VolunteerProfile.community_id)
                .where(VolunteerProfile.user_id.in_(ids))
            )
        }
        for rank, (user_id, minutes) in enumerate(top, start=1):
            name, community = info.get(user_id, ("", ""))
            leaders.append(Leader(rank, mask_name(name), community or "—", minutes))

    return render_template(
        "tallies/leaderboard.html",
        form=form,
        period_text=period_label(period),
        month_text=format_date(_month_date(month), "yyyy-MM"),
        top_node=top_node,
        leaders=leaders,
        area=area,
        party=party,
        area_rows=_ranking("area", area, period, category, political),
        party_rows=_ranking("party", party, period, category, political),
        hidden_args={k: v for k, v in request.args.items() if k in ("area", "party") and v},
        fmt_hours=fmt_hours,
        fmt_ratio=fmt_ratio,
        fmt_count=fmt_count,
    )
