"""Which volunteers an organiser or Party secretary may see, and finding them: the scope
(their area subtree, a branch in their Party subtree, or approved members of a team in
their subtree) as a SQL condition, one volunteer loaded within it, and the search."""

from __future__ import annotations

from sqlalchemy import Select, String, cast, or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement

from ..extensions import db
from ..models import MembershipStatus, OrgUnit, Role, TeamMembership, User, VolunteerProfile
from . import identifiers
from .scope import path_filter

#: Who may look volunteers up, each within the subtree of their grants.
SEARCH_ROLES = (Role.ORGANISER, Role.BRANCH_SECRETARY)


def scope_condition(actor: User):
    """Volunteers the actor may see: living in their area subtree, belonging to a branch in
    their Party subtree, or approved members of a team in their organiser subtree."""
    return members_of(select(OrgUnit.id).where(path_filter(OrgUnit.path, actor, SEARCH_ROLES)))


def members_of(nodes: Select) -> ColumnElement[bool]:
    """Volunteers who belong to any of `nodes` (a SELECT of org unit ids): living in one,
    in a Party branch among them, or approved members of a team among them."""
    team_members = select(TeamMembership.user_id).where(
        TeamMembership.status == MembershipStatus.APPROVED, TeamMembership.team_id.in_(nodes)
    )
    return or_(
        VolunteerProfile.community_id.in_(nodes),
        VolunteerProfile.branch_id.in_(nodes),
        VolunteerProfile.user_id.in_(team_members),
    )


def load_for(actor: User, user_id: int) -> VolunteerProfile | None:
    """The volunteer's profile if the actor's scope includes them, else None."""
    return db.session.scalar(
        select(VolunteerProfile)
        .join(User, User.id == VolunteerProfile.user_id)
        .where(VolunteerProfile.user_id == user_id, User.deleted_at.is_(None))
        .where(scope_condition(actor))
    )


def search(
    actor: User,
    *,
    text: str = "",
    community_id: int | None = None,
    political_status: str | None = None,
    skill: str | None = None,
):
    """The query behind the volunteer search, within the actor's scope."""
    query = (
        select(VolunteerProfile)
        .join(User, User.id == VolunteerProfile.user_id)
        .where(User.deleted_at.is_(None), scope_condition(actor))
        .options(
            joinedload(VolunteerProfile.user),
            joinedload(VolunteerProfile.community),
            joinedload(VolunteerProfile.branch),
        )
        .order_by(VolunteerProfile.real_name, VolunteerProfile.user_id)
    )
    text = (text or "").strip()
    tail = identifiers.phone_tail(text)
    if tail:
        query = query.where(User.phone.endswith(tail))
    elif text:
        query = query.where(VolunteerProfile.real_name.contains(text, autoescape=True))
    if community_id:
        query = query.where(VolunteerProfile.community_id == community_id)
    if political_status:
        query = query.where(VolunteerProfile.political_status == political_status)
    if skill:
        # JSON arrays hold plain codes; a quoted match avoids prefixes of other codes.
        query = query.where(cast(VolunteerProfile.skills, String).contains(f'"{skill}"'))
    return query
