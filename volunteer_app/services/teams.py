"""Volunteer teams (志愿服务队): requests to join and the organiser's answers."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import (
    Channel,
    MembershipStatus,
    OrgLevel,
    OrgUnit,
    Role,
    TeamMembership,
    User,
)
from . import ServiceError, audit, notify
from .scope import covers


def request_join(user: User, team: OrgUnit, *, now: datetime) -> TeamMembership:
    """Ask to join a team; a declined or former member may ask again."""
    if team.level is not OrgLevel.TEAM or not team.active:
        raise ServiceError(_l("This is not an active volunteer team."))
    row = db.session.scalar(
        select(TeamMembership).where(
            TeamMembership.user_id == user.id, TeamMembership.team_id == team.id
        )
    )
    if row is not None and row.status in (MembershipStatus.PENDING, MembershipStatus.APPROVED):
        raise ServiceError(_l("You have already asked to join this team."))
    if row is None:
        row = TeamMembership(user_id=user.id, team_id=team.id)
        db.session.add(row)
    row.status = MembershipStatus.PENDING
    row.requested_at = now
    row.decided_at = None
    row.decided_by_id = None
    db.session.flush()
    return row


def leave(user: User, row: TeamMembership) -> None:
    """Leave a team (or withdraw a request)."""
    if row.user_id != user.id:
        raise ServiceError(_l("You may not change this membership."))
    row.status = MembershipStatus.LEFT
    db.session.flush()


def decide(
    actor: User, row: TeamMembership, approve: bool, *, now: datetime, ip: str | None = None
) -> TeamMembership:
    """The team's organiser approves or declines a pending request; the volunteer is told."""
    if not covers(actor, row.team, [Role.ORGANISER]):
        raise ServiceError(_l("You may not answer requests for this team."))
    if row.status is not MembershipStatus.PENDING:
        raise ServiceError(_l("This request has already been answered."))
    row.status = MembershipStatus.APPROVED if approve else MembershipStatus.DECLINED
    row.decided_at = now
    row.decided_by_id = actor.id
    db.session.flush()
    audit.record(
        "team.approve" if approve else "team.decline",
        actor=actor,
        ip=ip,
        obj=row,
        team=row.team_id,
        user=row.user_id,
    )
    notify.enqueue(
        "team_answer",
        channel=Channel.IN_APP,
        user=row.user,
        payload={"team": row.team.name, "approved": approve},
    )
    return row


def is_member(user: User, team_ids: list[int]) -> bool:
    """True when the user is an approved member of any of the teams."""
    return (
        db.session.scalar(
            select(TeamMembership.id).where(
                TeamMembership.user_id == user.id,
                TeamMembership.team_id.in_(team_ids),
                TeamMembership.status == MembershipStatus.APPROVED,
            )
        )
        is not None
    )
