"""What residents see: the event list with its filters, places left, "near me" first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from ..extensions import db
from ..models import (
    Event,
    EventStatus,
    MembershipStatus,
    OrgLevel,
    OrgUnit,
    Shift,
    TeamMembership,
    User,
    Visibility,
    VolunteerProfile,
)
from ..timeutil import from_local


@dataclass
class Filters:
    area_id: int | None = None
    category: str | None = None
    when: str | None = None  # today | weekend | week
    places_only: bool = False


def _window(when: str | None, today: date) -> tuple[datetime, datetime] | None:
    """The UTC range of "today", "this weekend" or "this week" in local time."""
    if when == "today":
        start, end = today, today + timedelta(days=1)
    elif when == "weekend":
        # Saturday and Sunday of this week (from today when it is already the weekend).
        start = today if today.weekday() >= 5 else today + timedelta(days=5 - today.weekday())
        end = today + timedelta(days=7 - today.weekday())
    elif when == "week":
        start, end = today, today + timedelta(days=7 - today.weekday())
    else:
        return None
    return from_local(datetime.combine(start, time())), from_local(datetime.combine(end, time()))


def visible_condition(user: User | None):
    """Public events, and members-only events of hosts whose team the user belongs to."""
    public = Event.visibility == Visibility.PUBLIC
    if user is None or not user.is_authenticated:
        return public
    host, team = aliased(OrgUnit), aliased(OrgUnit)
    member_of_host_team = exists(
        select(TeamMembership.id)
        .join(team, team.id == TeamMembership.team_id)
        .join(host, host.id == Event.host_id)
        .where(
            TeamMembership.user_id == user.id,
            TeamMembership.status == MembershipStatus.APPROVED,
            team.path.startswith(host.path),
        )
    )
    return or_(public, member_of_host_team)


def query_events(user: User | None, filters: Filters, *, now: datetime, today: date):
    """Published, upcoming events matching the filters, near the volunteer's home first."""
    query = (
        select(Event)
        .where(Event.status == EventStatus.PUBLISHED, Event.ends_at > now)
        .where(visible_condition(user))
        .options(joinedload(Event.host), joinedload(Event.area))
    )
    if filters.area_id:
        node = db.session.get(OrgUnit, filters.area_id)
        if node is not None:
            area = aliased(OrgUnit)
            query = query.join(area, area.id == Event.area_id).where(
                area.path.startswith(node.path, autoescape=True)
            )
    if filters.category:
        query = query.where(Event.category == filters.category)
    window = _window(filters.when, today)
    if window:
        start, end = window
        query = query.where(
            exists(
                select(Shift.id).where(
                    Shift.event_id == Event.id,
                    Shift.cancelled.is_(False),
                    Shift.starts_at < end,
                    Shift.ends_at > start,
                    Shift.ends_at > now,
                )
            )
        )
    if filters.places_only:
        query = query.where(
            exists(
                select(Shift.id).where(
                    Shift.event_id == Event.id,
                    Shift.cancelled.is_(False),
                    Shift.taken < Shift.capacity,
                    Shift.starts_at > now,
                )
            )
        )
    # By start time: a person scans the list by date. Events near home have their own
    # short list above it (near_home).
    return query.order_by(Event.starts_at, Event.id)


def near_home(user: User | None, *, now: datetime, limit: int = 3) -> list[Event]:
    """The next events in the volunteer's community, then in the rest of their town."""
    profile = db.session.get(VolunteerProfile, user.id) if user and user.is_authenticated else None
    if profile is None or profile.community_id is None:
        return []
    home = db.session.get(OrgUnit, profile.community_id)
    town_path = "/".join(home.path.split("/")[:-2]) + "/"
    area = aliased(OrgUnit)
    nearness = case((Event.area_id == home.id, 0), else_=1)
    query = (
        select(Event)
        .join(area, area.id == Event.area_id)
        .where(Event.status == EventStatus.PUBLISHED, Event.ends_at > now)
        .where(visible_condition(user))
        .where(area.path.startswith(town_path, autoescape=True))
        .options(joinedload(Event.host), joinedload(Event.area))
        .order_by(nearness, Event.starts_at, Event.id)
        .limit(limit)
    )
    return list(db.session.scalars(query).unique())


def places_left(event_ids: list[int], now: datetime) -> dict[int, int]:
    """Free places in the upcoming, live shifts of each event (one query)."""
    if not event_ids:
        return {}
    rows = db.session.execute(
        select(
            Shift.event_id,
            func.sum(case((Shift.capacity > Shift.taken, Shift.capacity - Shift.taken), else_=0)),
        )
        .where(Shift.event_id.in_(event_ids), Shift.cancelled.is_(False), Shift.starts_at > now)
        .group_by(Shift.event_id)
    )
    return {event_id: int(free or 0) for event_id, free in rows}


def area_choices() -> list[OrgUnit]:
    """Towns and communities for the filter, in tree order."""
    return list(
        db.session.scalars(
            select(OrgUnit)
            .where(
                and_(
                    OrgUnit.level.in_([OrgLevel.TOWN, OrgLevel.COMMUNITY]),
                    OrgUnit.active.is_(True),
                )
            )
            .order_by(OrgUnit.path)
        )
    )
