"""Node and team rosters: the members of an org node (living in its area, in one of its
Party branches, or in one of its teams) with their approved service time in a year."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from ..extensions import db
from ..models import (
    OrgUnit,
    RecordStatus,
    ServiceRecord,
    User,
    VolunteerProfile,
)
from ..services.volunteer_search import members_of
from .rows import PER_PAGE, Roster, RosterRow, name_of, page_of, paged, teams_of

#: How a node roster may be sorted (the first is the default).
NODE_SORTS = ("name", "community", "hours")


def year_bounds(year: int) -> tuple[date, date]:
    """The first and last day of the year."""
    return date(year, 1, 1), date(year, 12, 31)


def node_members(node: OrgUnit) -> ColumnElement:
    """Volunteers who belong to the node: living in its area subtree, in a Party branch of
    its subtree, or approved members of a team (志愿服务队) in its subtree."""
    return members_of(select(OrgUnit.id).where(OrgUnit.path.startswith(node.path, autoescape=True)))


@dataclass(frozen=True)
class NodeFilter:
    community_id: int | None = None
    sort: str = NODE_SORTS[0]


def node_roster(
    node: OrgUnit,
    year: int,
    filters: NodeFilter | None = None,
    *,
    page: int = 1,
    per_page: int | None = PER_PAGE,
) -> Roster:
    """The node's members with their approved service time in the year (ledger sums,
    corrections included, in one grouped subquery joined to the rows)."""
    filters = filters or NodeFilter()
    members = node_members(node)
    first, last = year_bounds(year)
    minutes = (
        select(
            ServiceRecord.user_id.label("user_id"),
            func.sum(ServiceRecord.minutes).label("minutes"),
        )
        .where(
            ServiceRecord.status == RecordStatus.APPROVED,
            ServiceRecord.service_date >= first,
            ServiceRecord.service_date <= last,
            ServiceRecord.user_id.in_(select(VolunteerProfile.user_id).where(members)),
        )
        .group_by(ServiceRecord.user_id)
        .subquery()
    )
    community, branch = aliased(OrgUnit), aliased(OrgUnit)
    conditions = [members, User.deleted_at.is_(None)]
    if filters.community_id:
        conditions.append(VolunteerProfile.community_id == filters.community_id)
    total = db.session.scalar(
        select(func.count())
        .select_from(VolunteerProfile)
        .join(User, User.id == VolunteerProfile.user_id)
        .where(*conditions)
    )
    page = page_of(page, per_page, total or 0)
    approved = func.coalesce(minutes.c.minutes, 0)
    name = func.coalesce(VolunteerProfile.real_name, User.display_name)
    order = {
        "name": (name, VolunteerProfile.user_id),
        "community": (community.name.is_(None), community.name, name, VolunteerProfile.user_id),
        "hours": (approved.desc(), name, VolunteerProfile.user_id),
    }[filters.sort if filters.sort in NODE_SORTS else NODE_SORTS[0]]
    query = (
        select(
            VolunteerProfile.user_id,
            User.phone,
            User.display_name,
            VolunteerProfile.real_name,
            VolunteerProfile.community_id,
            community.name,
            branch.name,
            VolunteerProfile.political_status,
            approved,
        )
        .select_from(VolunteerProfile)
        .join(User, User.id == VolunteerProfile.user_id)
        .outerjoin(community, community.id == VolunteerProfile.community_id)
        .outerjoin(branch, branch.id == VolunteerProfile.branch_id)
        .outerjoin(minutes, minutes.c.user_id == VolunteerProfile.user_id)
        .where(*conditions)
        .order_by(*order)
    )
    query = paged(query, page, per_page)
    rows = [
        RosterRow(
            user_id=user_id,
            name=name_of(real_name, display_name),
            phone=phone,
            community_id=community_id,
            community=community_name or "",
            branch=branch_name or "",
            political_status=political,
            approved_minutes=int(total_minutes or 0),
        )
        for (
            user_id,
            phone,
            display_name,
            real_name,
            community_id,
            community_name,
            branch_name,
            political,
            total_minutes,
        ) in db.session.execute(query)
    ]
    teams = teams_of(r.user_id for r in rows)
    for row in rows:
        row.teams = teams.get(row.user_id, [])
    communities = db.session.execute(
        select(community.id, community.name)
        .select_from(VolunteerProfile)
        .join(User, User.id == VolunteerProfile.user_id)
        .join(community, community.id == VolunteerProfile.community_id)
        .where(members, User.deleted_at.is_(None))
        .group_by(community.id, community.name)
        .order_by(community.name, community.id)
    ).all()
    return Roster(
        rows=rows,
        total=int(total or 0),
        page=page,
        per_page=per_page,
        communities=[(cid, cname) for cid, cname in communities],
    )
