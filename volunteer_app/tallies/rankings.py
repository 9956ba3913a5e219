"""Breakdowns and rankings from the tally tables: a node's children, by category, by month,
per person, leaderboards, star counts, the branch's dual report (双报到)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..hours.queries import STAR_HOURS
from ..models import (
    OrgKind,
    OrgUnit,
    RecordStatus,
    ServiceRecord,
    TallyCell,
    TallyPerson,
    VolunteerProfile,
)
from ..models.hours import ALL_POLITICAL
from .operations import is_month_key
from .periods import Period
from .queries import _cell_filter, _edge_rows


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
