"""Tallies read from the tally tables (kept in step with the ledger by services.hours):
by community up the area tree, by Party branch up the Party tree, by organiser and by
category; volunteers who served, sessions, approved hours, per registered volunteer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import (
    OrgKind,
    OrgUnit,
    RecordStatus,
    ServiceRecord,
    TallyCell,
    TallyPerson,
    TallyRegistration,
    TallyServed,
    VolunteerProfile,
)
from .hours import STAR_HOURS, is_month_key

DIMENSIONS = ("area", "party", "host")


@dataclass(frozen=True)
class Period:
    """Whole months, inclusive: yyyymm .. yyyymm."""

    first: int
    last: int
    kind: str  # month | quarter | year | custom

    @property
    def start_date(self) -> date:
        return date(self.first // 100, self.first % 100, 1)

    @property
    def end_date(self) -> date:
        """The day after the period."""
        year, month = divmod(self.last % 100, 12)
        return date(self.last // 100 + year, month + 1, 1)

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
    """This month, this quarter, this year, or a custom range widened to whole months."""
    if kind == "month":
        ym = today.year * 100 + today.month
        return Period(ym, ym, "month")
    if kind == "quarter":
        first_month = (today.month - 1) // 3 * 3 + 1
        return Period(today.year * 100 + first_month, today.year * 100 + first_month + 2, "quarter")
    if kind == "custom" and start and end and start <= end:
        return Period(start.year * 100 + start.month, end.year * 100 + end.month, "custom")
    return Period(today.year * 100 + 1, today.year * 100 + 12, "year")


def whole_period_key(period: Period) -> int | None:
    """The tally_people key covering exactly this period, if there is one."""
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
    conditions = [TallyCell.dim == dim, TallyCell.month.between(period.first, period.last)]
    if category:
        conditions.append(TallyCell.category == category)
    if political:
        conditions.append(TallyCell.political == political)
    return and_(*conditions)


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
    if dim != "host" and not category:
        key = whole_period_key(period)
        if key is not None:
            # A whole month, quarter or year: the served counters, a row per node and
            # political status.
            people = select(TallyServed.node_id, func.sum(TallyServed.people)).where(
                TallyServed.dim == dim,
                TallyServed.node_id.in_(node_ids),
                TallyServed.month == key,
            )
            if political:
                people = people.where(TallyServed.political == political)
            for node_id, count in db.session.execute(people.group_by(TallyServed.node_id)):
                out[node_id].volunteers = int(count or 0)
        else:
            # Any other range: volunteers whose net approved minutes over its months are
            # positive, counted per node.
            per_user = (
                select(TallyPerson.node_id.label("node_id"), TallyPerson.user_id)
                .where(
                    TallyPerson.dim == dim,
                    TallyPerson.node_id.in_(node_ids),
                    TallyPerson.month.between(period.first, period.last),
                    is_month_key(TallyPerson.month),
                )
                .group_by(TallyPerson.node_id, TallyPerson.user_id)
                .having(func.sum(TallyPerson.minutes) > 0)
            )
            if political:
                per_user = per_user.where(TallyPerson.political == political)
            served = per_user.subquery()
            people = select(served.c.node_id, func.count()).group_by(served.c.node_id)
            for node_id, count in db.session.execute(people):
                out[node_id].volunteers = int(count)
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
    for months, slot in (
        (TallyRegistration.month == 0, 0),
        (TallyRegistration.month.between(period.first, period.last), 1),
    ):
        for leaf, people in db.session.execute(
            select(TallyRegistration.node_id, func.sum(TallyRegistration.people))
            .where(*base, months)
            .group_by(TallyRegistration.node_id)
        ):
            leaves.setdefault(leaf, [0, 0])[slot] = int(people or 0)
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
    return {
        category: int(minutes or 0)
        for category, minutes in db.session.execute(
            select(TallyCell.category, func.sum(TallyCell.minutes))
            .where(TallyCell.node_id == node_id, _cell_filter(dim, period, None, political))
            .group_by(TallyCell.category)
        )
    }


def monthly(
    dim: str,
    node_id: int,
    period: Period,
    *,
    category: str | None = None,
    political: str | None = None,
) -> list[tuple[int, int]]:
    """(yyyymm, approved minutes) for each month of the period, zero-filled."""
    found = dict(
        db.session.execute(
            select(TallyCell.month, func.sum(TallyCell.minutes))
            .where(TallyCell.node_id == node_id, _cell_filter(dim, period, category, political))
            .group_by(TallyCell.month)
        ).all()
    )
    return [(month, int(found.get(month) or 0)) for month in period.months()]


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
