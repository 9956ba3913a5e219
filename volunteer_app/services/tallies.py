"""Tallies read from the tally tables (kept in step with the ledger by services.hours):
by community up the area tree, by Party branch up the Party tree, by organiser and by
category; volunteers who served, sessions, approved hours, per registered volunteer."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import (
    OrgKind,
    OrgUnit,
    RecordKind,
    RecordStatus,
    ServiceRecord,
    TallyCell,
    TallyPerson,
    TallyRegistration,
    TallyServed,
    User,
    VolunteerProfile,
)
from ..models.hours import ALL_POLITICAL
from ..timeutil import from_local
from .hours import STAR_HOURS, is_month_key

DIMENSIONS = ("area", "party", "host")
#: The months of "all time" (every service date the ledger can hold).
ALL_FIRST, ALL_LAST = 190001, 299912


def _month_of(day: date) -> int:
    return day.year * 100 + day.month


def _month_start(yyyymm: int) -> date:
    return date(yyyymm // 100, yyyymm % 100, 1)


def _next_month(yyyymm: int) -> int:
    year, month = divmod(yyyymm, 100)
    return (year + 1) * 100 + 1 if month == 12 else yyyymm + 1


@dataclass(frozen=True)
class Period:
    """Months yyyymm .. yyyymm, inclusive. A custom range counts exact days: `start_day`
    and `end_day` (inclusive) may fall inside its first and last month, whose parts are
    then summed from the ledger while the whole months between come from the tallies."""

    first: int
    last: int
    kind: str  # month | quarter | year | custom | all
    start_day: date | None = None
    end_day: date | None = None

    @property
    def start_date(self) -> date:
        return self.start_day or _month_start(self.first)

    @property
    def end_date(self) -> date:
        """The day after the period."""
        if self.end_day is not None:
            return self.end_day + timedelta(days=1)
        return _month_start(_next_month(self.last))

    def whole_months(self) -> tuple[int, int] | None:
        """The first and last month lying wholly inside the period, if any."""
        first = _month_of(self.start_date)
        if self.start_date.day != 1:
            first = _next_month(first)
        last = _month_of(self.end_date - timedelta(days=1))
        if self.end_date.day != 1:
            last = _month_of(_month_start(last) - timedelta(days=1))
        return (first, last) if first <= last else None

    def edges(self) -> list[tuple[date, date]]:
        """The days [from, to) of the period outside its whole months (none for whole
        months): counted from the ledger itself."""
        whole = self.whole_months()
        if whole is None:
            return [(self.start_date, self.end_date)]
        out = []
        if self.start_date < _month_start(whole[0]):
            out.append((self.start_date, _month_start(whole[0])))
        if _month_start(_next_month(whole[1])) < self.end_date:
            out.append((_month_start(_next_month(whole[1])), self.end_date))
        return out

    def months(self) -> list[int]:
        out, year, month = [], self.first // 100, self.first % 100
        while year * 100 + month <= self.last:
            out.append(year * 100 + month)
            month += 1
            if month > 12:
                year, month = year + 1, 1
        return out


def period_for(
    kind: str, today: date, start: date | None = None, end: date | None = None
) -> Period:
    """This month, this quarter, this year, all time, or a custom range of exact days."""
    if kind == "month":
        ym = today.year * 100 + today.month
        return Period(ym, ym, "month")
    if kind == "quarter":
        first_month = (today.month - 1) // 3 * 3 + 1
        return Period(today.year * 100 + first_month, today.year * 100 + first_month + 2, "quarter")
    if kind == "all":
        return Period(ALL_FIRST, ALL_LAST, "all")
    if kind == "custom" and start and end and start <= end:
        return Period(_month_of(start), _month_of(end), "custom", start, end)
    return Period(today.year * 100 + 1, today.year * 100 + 12, "year")


def whole_period_key(period: Period) -> int | None:
    """The tally_people key covering exactly this period, if there is one."""
    if period.edges() or period.kind == "all":
        return None
    year, first_month = divmod(period.first, 100)
    last_year, last_month = divmod(period.last, 100)
    if year != last_year:
        return None
    if first_month == last_month:
        return period.first
    if first_month == 1 and last_month == 12:
        return year * 100
    if last_month == first_month + 2 and first_month in (1, 4, 7, 10):
        return year * 100 + 20 + (first_month - 1) // 3 + 1
    return None


def quarter_period(year: int, quarter: int) -> Period:
    first = year * 100 + (quarter - 1) * 3 + 1
    return Period(first, first + 2, "quarter")


@dataclass
class Figures:
    minutes: int = 0
    sessions: int = 0
    volunteers: int = 0
    registered: int = 0
    new_registrations: int = 0

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 1)

    @property
    def hours_per_volunteer(self) -> float:
        """Approved hours per registered volunteer."""
        return round(self.minutes / 60 / self.registered, 2) if self.registered else 0.0


def _cell_filter(dim: str, period: Period, category: str | None, political: str | None):
    """tally_cells of the period's whole months (nothing when it has none)."""
    whole = period.whole_months()
    if whole is None:
        return literal(False)
    conditions = [TallyCell.dim == dim, TallyCell.month.between(*whole)]
    if category:
        conditions.append(TallyCell.category == category)
    if political:
        conditions.append(TallyCell.political == political)
    return and_(*conditions)


_LEDGER_COLUMNS = {
    "area": ServiceRecord.community_id,
    "party": ServiceRecord.branch_id,
    "host": ServiceRecord.host_id,
}


def _edge_rows(
    dim: str,
    node_ids: list[int],
    period: Period,
    category: str | None,
    political: str | None,
    *columns,
):
    """A select of (node id, *columns) over the approved ledger rows of the period's days
    outside its whole months, each row once for every asked node holding its unit in its
    subtree; None when the period has no such days (then nothing is read)."""
    edges = period.edges()
    if not edges or not node_ids:
        return None
    leaf, node = aliased(OrgUnit), aliased(OrgUnit)
    query = (
        select(node.id.label("node_id"), *columns)
        .select_from(ServiceRecord)
        .join(leaf, leaf.id == _LEDGER_COLUMNS[dim])
        .join(node, leaf.path.startswith(node.path))
        .where(
            node.id.in_(node_ids),
            ServiceRecord.status == RecordStatus.APPROVED,
            or_(
                *(
                    and_(ServiceRecord.service_date >= a, ServiceRecord.service_date < b)
                    for a, b in edges
                )
            ),
        )
    )
    if category:
        query = query.where(ServiceRecord.category == category)
    if political:
        query = query.where(ServiceRecord.political_status == political)
    return query


_SESSION = case((ServiceRecord.kind == RecordKind.CORRECTION, 0), else_=1)


def _served_counts(
    dim: str, node_ids: list[int], period: Period, political: str | None
) -> dict[int, int]:
    """Volunteers whose net approved minutes in the period (under the status asked for,
    as at the time of service) are positive, per node: the whole months (or, for all time,
    the years) from tally_people, the edge days from the ledger."""
    status = political or ALL_POLITICAL
    whole = period.whole_months()
    parts = []
    if whole is not None:
        keys = (
            TallyPerson.month % 100 == 0
            if period.kind == "all"
            else and_(TallyPerson.month.between(*whole), is_month_key(TallyPerson.month))
        )
        parts.append(
            select(
                TallyPerson.node_id.label("node_id"),
                TallyPerson.user_id.label("user_id"),
                TallyPerson.minutes.label("minutes"),
            ).where(
                TallyPerson.dim == dim,
                TallyPerson.node_id.in_(node_ids),
                TallyPerson.political == status,
                keys,
            )
        )
    edge = _edge_rows(
        dim,
        node_ids,
        period,
        None,
        political,
        ServiceRecord.user_id.label("user_id"),
        ServiceRecord.minutes.label("minutes"),
    )
    if edge is not None:
        parts.append(edge)
    if not parts:
        return {}
    rows = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    served = (
        select(rows.c.node_id, rows.c.user_id)
        .group_by(rows.c.node_id, rows.c.user_id)
        .having(func.sum(rows.c.minutes) > 0)
        .subquery()
    )
    return {
        node_id: int(count)
        for node_id, count in db.session.execute(
            select(served.c.node_id, func.count()).group_by(served.c.node_id)
        )
    }


def figures(
    dim: str,
    node_ids: list[int],
    period: Period,
    *,
    category: str | None = None,
    political: str | None = None,
) -> dict[int, Figures]:
    """Figures for each node (the node and everything below it)."""
    out = {node_id: Figures() for node_id in node_ids}
    if not node_ids:
        return out
    for node_id, minutes, sessions in db.session.execute(
        select(TallyCell.node_id, func.sum(TallyCell.minutes), func.sum(TallyCell.sessions))
        .where(TallyCell.node_id.in_(node_ids), _cell_filter(dim, period, category, political))
        .group_by(TallyCell.node_id)
    ):
        out[node_id].minutes = int(minutes or 0)
        out[node_id].sessions = int(sessions or 0)
    edge = _edge_rows(
        dim,
        node_ids,
        period,
        category,
        political,
        func.sum(ServiceRecord.minutes),
        func.sum(_SESSION),
    )
    if edge is not None:
        for node_id, minutes, sessions in db.session.execute(edge.group_by("node_id")):
            out[node_id].minutes += int(minutes or 0)
            out[node_id].sessions += int(sessions or 0)
    if dim != "host" and not category:
        key = whole_period_key(period)
        if key is not None:
            # A whole month, quarter or year: the served counters, a row per node (of
            # the status asked for, or of all statuses).
            people = select(TallyServed.node_id, TallyServed.people).where(
                TallyServed.dim == dim,
                TallyServed.node_id.in_(node_ids),
                TallyServed.month == key,
                TallyServed.political == (political or ALL_POLITICAL),
            )
            for node_id, count in db.session.execute(people):
                out[node_id].volunteers = int(count or 0)
        else:
            # Any other range: volunteers whose net approved minutes over it are positive.
            for node_id, count in _served_counts(dim, node_ids, period, political).items():
                out[node_id].volunteers = count
    if dim != "host":
        _registrations(dim, node_ids, period, political, out)
    return out


def _registrations(
    dim: str, node_ids: list[int], period: Period, political: str | None, out: dict[int, Figures]
) -> None:
    """Registered volunteers (and new ones in the period) per node, from the counters per
    community (or branch) kept by services.registrations, rolled up the tree in Python."""
    base = [TallyRegistration.dim == dim]
    if political:
        base.append(TallyRegistration.political == political)
    leaves: dict[int, list[int]] = {}
    whole = period.whole_months()
    counters = [(TallyRegistration.month == 0, 0)]
    if whole is not None:
        counters.append((TallyRegistration.month.between(*whole), 1))
    for months, slot in counters:
        for leaf, people in db.session.execute(
            select(TallyRegistration.node_id, func.sum(TallyRegistration.people))
            .where(*base, months)
            .group_by(TallyRegistration.node_id)
        ):
            leaves.setdefault(leaf, [0, 0])[slot] = int(people or 0)
    for leaf, people in _new_on_edge_days(dim, period, political):
        leaves.setdefault(leaf, [0, 0])[1] += people
    if not leaves:
        return
    wanted = set(node_ids)
    for leaf_id, path in db.session.execute(
        select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(leaves))
    ):
        registered, new = leaves[leaf_id]
        for ancestor in (int(p) for p in path.strip("/").split("/") if p):
            if ancestor in wanted:
                out[ancestor].registered += registered
                out[ancestor].new_registrations += new


def _new_on_edge_days(dim: str, period: Period, political: str | None) -> list[tuple[int, int]]:
    """(community or branch, volunteers) registered on the period's days outside its whole
    months, counted as the registration counters count (consented, account not deleted,
    by the local time the account was made)."""
    edges = period.edges()
    if not edges:
        return []
    column = VolunteerProfile.community_id if dim == "area" else VolunteerProfile.branch_id

    def utc(day: date) -> datetime:
        return from_local(datetime.combine(day, datetime.min.time()))

    query = (
        select(column, func.count())
        .join(User, User.id == VolunteerProfile.user_id)
        .where(
            column.is_not(None),
            VolunteerProfile.consented_at.is_not(None),
            User.deleted_at.is_(None),
            or_(*(and_(User.created_at >= utc(a), User.created_at < utc(b)) for a, b in edges)),
        )
        .group_by(column)
    )
    if political:
        query = query.where(VolunteerProfile.political_status == political)
    return [(leaf, int(people)) for leaf, people in db.session.execute(query)]


def children(node: OrgUnit, dim: str) -> list[OrgUnit]:
    """The node's children in the tree of the dimension (area, party or organiser)."""
    kind = {"area": OrgKind.AREA, "party": OrgKind.PARTY, "host": None}[dim]
    query = select(OrgUnit).where(OrgUnit.parent_id == node.id, OrgUnit.active.is_(True))
    if kind is not None:
        query = query.where(OrgUnit.kind == kind)
    elif node.parent_id is None:
        query = query.where(OrgUnit.kind.in_([OrgKind.ORGANISER, OrgKind.AREA]))
    return list(db.session.scalars(query.order_by(OrgUnit.sort_order, OrgUnit.id)))


def by_category(
    dim: str, node_id: int, period: Period, political: str | None = None
) -> dict[str, int]:
    """Approved minutes per category at the node."""
    out: dict[str, int] = defaultdict(int)
    for category, minutes in db.session.execute(
        select(TallyCell.category, func.sum(TallyCell.minutes))
        .where(TallyCell.node_id == node_id, _cell_filter(dim, period, None, political))
        .group_by(TallyCell.category)
    ):
        out[category] += int(minutes or 0)
    edge = _edge_rows(
        dim,
        [node_id],
        period,
        None,
        political,
        ServiceRecord.category,
        func.sum(ServiceRecord.minutes),
    )
    if edge is not None:
        for _node, category, minutes in db.session.execute(
            edge.group_by("node_id", ServiceRecord.category)
        ):
            out[category] += int(minutes or 0)
    return dict(out)


def monthly(
    dim: str,
    node_id: int,
    period: Period,
    *,
    category: str | None = None,
    political: str | None = None,
) -> list[tuple[int, int]]:
    """(yyyymm, approved minutes) for each month of the period (whole months, also those
    a custom range starts or ends in), zero-filled."""
    whole = Period(period.first, period.last, period.kind)
    found = dict(
        db.session.execute(
            select(TallyCell.month, func.sum(TallyCell.minutes))
            .where(TallyCell.node_id == node_id, _cell_filter(dim, whole, category, political))
            .group_by(TallyCell.month)
        ).all()
    )
    return [(month, int(found.get(month) or 0)) for month in period.months()]


def person_minutes(
    dim: str, node_id: int, period: Period, user_ids: list[int] | None
) -> dict[int, int]:
    """Approved minutes in the period of these volunteers (None: all) at the node: the
    whole months from tally_people, the edge days from the ledger."""
    if user_ids is not None and not user_ids:
        return {}
    out: dict[int, int] = defaultdict(int)
    whole = period.whole_months()
    if whole is not None:
        query = (
            select(TallyPerson.user_id, func.sum(TallyPerson.minutes))
            .where(
                TallyPerson.dim == dim,
                TallyPerson.node_id == node_id,
                TallyPerson.month.between(*whole),
                is_month_key(TallyPerson.month),
                TallyPerson.political == ALL_POLITICAL,
            )
            .group_by(TallyPerson.user_id)
        )
        if user_ids is not None:
            query = query.where(TallyPerson.user_id.in_(user_ids))
        for user_id, minutes in db.session.execute(query):
            out[user_id] += int(minutes or 0)
    edge = _edge_rows(
        dim, [node_id], period, None, None, ServiceRecord.user_id, func.sum(ServiceRecord.minutes)
    )
    if edge is not None:
        if user_ids is not None:
            edge = edge.where(ServiceRecord.user_id.in_(user_ids))
        for _node, user_id, minutes in db.session.execute(
            edge.group_by("node_id", ServiceRecord.user_id)
        ):
            out[user_id] += int(minutes or 0)
    return dict(out)


def first_month(dim: str, node_id: int) -> int | None:
    """The earliest month with approved hours at the node."""
    return db.session.scalar(
        select(func.min(TallyCell.month)).where(TallyCell.dim == dim, TallyCell.node_id == node_id)
    )


def top_volunteers(dim: str, node_id: int, month: int, limit: int = 10) -> list[tuple[int, int]]:
    """(user id, minutes) of the volunteers with most approved minutes in a month."""
    return [
        (user_id, int(minutes))
        for user_id, minutes in db.session.execute(
            select(TallyPerson.user_id, TallyPerson.minutes)
            .where(
                TallyPerson.dim == dim,
                TallyPerson.node_id == node_id,
                TallyPerson.month == month,
                TallyPerson.political == ALL_POLITICAL,
                TallyPerson.minutes > 0,
            )
            .order_by(TallyPerson.minutes.desc(), TallyPerson.user_id)
            .limit(limit)
        )
    ]


def star_counts(dim: str, node: OrgUnit) -> dict[int, int]:
    """Volunteers of the node's subtree by star level (from their approved totals)."""
    column = VolunteerProfile.community_id if dim == "area" else VolunteerProfile.branch_id
    hours = VolunteerProfile.approved_minutes / 60.0
    level = case(*[(hours >= h, i + 1) for i, h in reversed(list(enumerate(STAR_HOURS)))], else_=0)
    below = select(OrgUnit.id).where(OrgUnit.path.startswith(node.path, autoescape=True))
    rows = db.session.execute(
        select(level, func.count()).where(column.in_(below)).group_by(level)
    ).all()
    counts = dict.fromkeys(range(len(STAR_HOURS) + 1), 0)
    for lvl, count in rows:
        counts[int(lvl)] = int(count)
    return counts


@dataclass
class MemberQuarter:
    user_id: int
    name: str
    community: str
    home_minutes: int
    elsewhere_minutes: int


def dual_report(branch: OrgUnit, period: Period) -> list[MemberQuarter]:
    """双报到: each member of the branch (subtree) with approved minutes served in their
    residence community and elsewhere, in the period."""
    start, end = period.start_date, period.end_date
    area = aliased(OrgUnit)
    home = aliased(OrgUnit)
    in_home = or_(
        ServiceRecord.service_area_id == ServiceRecord.community_id,
        area.path.startswith(home.path),
    )
    rows = db.session.execute(
        select(
            ServiceRecord.user_id,
            func.sum(case((in_home, ServiceRecord.minutes), else_=0)),
            func.sum(case((in_home, 0), else_=ServiceRecord.minutes)),
        )
        .outerjoin(area, area.id == ServiceRecord.service_area_id)
        .outerjoin(home, home.id == ServiceRecord.community_id)
        .where(
            ServiceRecord.branch_id.in_(
                select(OrgUnit.id).where(OrgUnit.path.startswith(branch.path, autoescape=True))
            ),
            ServiceRecord.status == RecordStatus.APPROVED,
            ServiceRecord.service_date >= start,
            ServiceRecord.service_date < end,
        )
        .group_by(ServiceRecord.user_id)
    ).all()
    served = {user_id: (int(h or 0), int(e or 0)) for user_id, h, e in rows}
    members = db.session.execute(
        select(VolunteerProfile, OrgUnit.name)
        .outerjoin(OrgUnit, OrgUnit.id == VolunteerProfile.community_id)
        .where(
            VolunteerProfile.branch_id.in_(
                select(OrgUnit.id).where(OrgUnit.path.startswith(branch.path, autoescape=True))
            )
        )
        .order_by(VolunteerProfile.real_name)
    ).all()
    report = []
    for profile, community in members:
        home_m, away_m = served.pop(profile.user_id, (0, 0))
        report.append(
            MemberQuarter(
                profile.user_id, profile.real_name or "—", community or "—", home_m, away_m
            )
        )
    return report
