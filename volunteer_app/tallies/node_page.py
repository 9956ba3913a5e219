"""The page of one node of a dimension: its figures, its children's table (or, at a leaf,
its volunteers), the charts, the filters and the downloads."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import tallies
from ..catalog import CATEGORIES, POLITICAL_STATUS
from ..extensions import db
from ..models import OrgLevel, OrgUnit, VolunteerProfile
from ..query import arg_page
from ..services import charts, volunteer_search
from ..timeutil import local_today
from .forms import PERIODS, FilterForm
from .periods import Period
from .queries import Figures
from .web import (
    DIM_LABELS,
    DIM_ORDER,
    METRICS,
    PEOPLE_PER_PAGE,
    _breadcrumb,
    _download,
    _export_format,
    _month_date,
    _url_with,
    fmt_count,
    fmt_hours,
    fmt_ratio,
    period_label,
    period_stamp,
    trend_period,
)

# ---------------------------------------------------------------- the people of a leaf


def _people_query(dim: str, node: OrgUnit, political: str | None):
    """Volunteers of a community (area) or members of a Party branch, within the user's
    scope; None for other nodes."""
    if dim == "area" and node.level is OrgLevel.COMMUNITY:
        return volunteer_search.search(
            current_user, community_id=node.id, political_status=political
        )
    if dim == "party" and node.level is OrgLevel.PARTY_BRANCH:
        return volunteer_search.search(current_user, political_status=political).where(
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
