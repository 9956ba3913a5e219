"""The organiser's workspace (工作台): everything the dashboard shows, in a fixed number of
queries whatever the scope's size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import aliased, contains_eager, joinedload

from .. import hours
from ..extensions import db
from ..hours.queries import overdue_cutoff
from ..models import (
    Attendance,
    Event,
    EventStatus,
    MembershipStatus,
    OrgLevel,
    OrgUnit,
    RecordStatus,
    Role,
    ServiceRecord,
    Shift,
    ShiftLead,
    Signup,
    SignupStatus,
    TeamMembership,
    User,
    VolunteerProfile,
)
from ..services.scope import path_filter
from ..services.volunteer_search import scope_condition
from ..timeutil import from_local
from .rosters import EXPECTED

ORGANISER = (Role.ORGANISER,)


def checkin_counts(shift_ids: list[int]) -> dict[int, dict[str, int]]:
    """checkin.counts for many shifts in one grouped query: expected, in, out,
    missing per shift."""
    found = {shift_id: {"expected": 0, "in": 0, "out": 0, "missing": 0} for shift_id in shift_ids}
    if not shift_ids:
        return found
    rows = db.session.execute(
        select(
            Signup.shift_id,
            func.count(),
            func.sum(
                case(
                    (
                        and_(
                            Attendance.checked_in_at.is_not(None),
                            Attendance.checked_out_at.is_(None),
                        ),
                        1,
                    ),
                    else_=0,
                )
            ),
            func.sum(case((Attendance.checked_out_at.is_not(None), 1), else_=0)),
        )
        .outerjoin(Attendance, Attendance.signup_id == Signup.id)
        .where(Signup.shift_id.in_(shift_ids), Signup.status.in_(EXPECTED))
        .group_by(Signup.shift_id)
    )
    for shift_id, expected, checked_in, checked_out in rows:
        checked_in, checked_out = int(checked_in or 0), int(checked_out or 0)
        found[shift_id] = {
            "expected": int(expected),
            "in": checked_in,
            "out": checked_out,
            "missing": int(expected) - checked_in - checked_out,
        }
    return found


@dataclass
class EventFill:
    event: Event
    shifts: int
    taken: int
    capacity: int

    @property
    def rate(self) -> float:
        return self.taken / self.capacity if self.capacity else 0.0


@dataclass
class Workspace:
    upcoming: list[EventFill]
    upcoming_total: int
    low_shifts: list[Shift]
    low_shifts_total: int
    today: list[Shift]
    today_total: int
    today_counts: dict[int, dict[str, int]]
    pending_total: int
    pending_overdue: int
    oldest_pending: list[tuple[ServiceRecord, bool]]
    team_requests: list[TeamMembership]
    team_requests_total: int
    new_volunteers: list[VolunteerProfile]
    new_volunteers_total: int
    cancellations: list[Signup]
    cancellations_total: int
    nodes: list[OrgUnit]


#: How many rows each list of the workspace shows (the totals count them all).
WORKSPACE_LIMIT = 8
LOW_FILL = 0.5


def _hosts(actor: User) -> Select:
    """The ids of the org units the actor organises (a subquery)."""
    return select(OrgUnit.id).where(path_filter(OrgUnit.path, actor, ORGANISER))


def _first(query: Select, limit: int) -> tuple[list, int]:
    """The first `limit` objects of the query and how many match in all, in one query
    (a window count, evaluated before the LIMIT)."""
    rows = db.session.execute(query.add_columns(func.count().over()).limit(limit)).all()
    return [row[0] for row in rows], int(rows[0][1]) if rows else 0


def workspace(actor: User, *, now: datetime, today: date) -> Workspace:
    """Everything the organiser's dashboard shows, in a fixed number of queries: events of
    hosts in the actor's organiser scope, hours to approve, team requests, newcomers and
    cancellations."""
    hosts = _hosts(actor)
    limit = WORKSPACE_LIMIT

    upcoming_events, upcoming_total = _first(
        select(Event)
        .where(
            Event.host_id.in_(hosts),
            Event.status == EventStatus.PUBLISHED,
            Event.ends_at > now,
        )
        .options(joinedload(Event.host))
        .order_by(Event.starts_at, Event.id),
        limit,
    )
    stats = {
        event_id: (int(n), int(taken or 0), int(capacity or 0))
        for event_id, n, taken, capacity in db.session.execute(
            select(Shift.event_id, func.count(), func.sum(Shift.taken), func.sum(Shift.capacity))
            .where(
                Shift.event_id.in_([e.id for e in upcoming_events]),
                Shift.cancelled.is_(False),
            )
            .group_by(Shift.event_id)
        )
    }
    upcoming = [EventFill(e, *stats.get(e.id, (0, 0, 0))) for e in upcoming_events]

    live_shift = (
        select(Shift)
        .join(Event, Event.id == Shift.event_id)
        .where(Event.host_id.in_(hosts), Shift.cancelled.is_(False))
        .options(contains_eager(Shift.event))
    )
    low_shifts, low_total = _first(
        live_shift.where(
            Event.status == EventStatus.PUBLISHED,
            Shift.starts_at > now,
            Shift.capacity > 0,
            Shift.taken < Shift.capacity * LOW_FILL,
        ).order_by(Shift.starts_at, Shift.id),
        limit,
    )

    day_start = from_local(datetime.combine(today, time()))
    day_end = day_start + timedelta(days=1)
    today_shifts, today_total = _first(
        live_shift.where(
            Event.status.in_([EventStatus.PUBLISHED, EventStatus.COMPLETED]),
            Shift.starts_at < day_end,
            Shift.ends_at > day_start,
        ).order_by(Shift.starts_at, Shift.id),
        limit * 2,
    )
    today_counts = checkin_counts([s.id for s in today_shifts])

    led = select(ShiftLead.shift_id).where(ShiftLead.user_id == actor.id)
    in_care = and_(
        ServiceRecord.status == RecordStatus.PENDING,
        or_(ServiceRecord.host_id.in_(hosts), ServiceRecord.shift_id.in_(led)),
    )
    cutoff = overdue_cutoff(today)
    oldest_rows = db.session.execute(
        select(
            ServiceRecord,
            func.count().over(),
            func.sum(case((ServiceRecord.service_date <= cutoff, 1), else_=0)).over(),
        )
        .where(in_care)
        .options(joinedload(ServiceRecord.user))
        .order_by(ServiceRecord.service_date, ServiceRecord.id)
        .limit(limit)
    ).all()
    pending_total = int(oldest_rows[0][1]) if oldest_rows else 0
    pending_overdue = int(oldest_rows[0][2] or 0) if oldest_rows else 0

    team = aliased(OrgUnit)
    team_requests, requests_total = _first(
        select(TeamMembership)
        .join(team, team.id == TeamMembership.team_id)
        .where(
            TeamMembership.status == MembershipStatus.PENDING,
            path_filter(team.path, actor, ORGANISER),
        )
        .options(contains_eager(TeamMembership.team.of_type(team)), joinedload(TeamMembership.user))
        .order_by(TeamMembership.requested_at.desc(), TeamMembership.id.desc()),
        limit,
    )

    week_start = from_local(datetime.combine(today - timedelta(days=today.weekday()), time()))
    newcomers, newcomers_total = _first(
        select(VolunteerProfile)
        .join(User, User.id == VolunteerProfile.user_id)
        .where(
            User.deleted_at.is_(None),
            VolunteerProfile.created_at >= week_start,
            scope_condition(actor),
        )
        .options(contains_eager(VolunteerProfile.user), joinedload(VolunteerProfile.community))
        .order_by(VolunteerProfile.created_at.desc(), VolunteerProfile.user_id.desc()),
        limit,
    )

    cancellations, cancellations_total = _first(
        select(Signup)
        .join(Shift, Shift.id == Signup.shift_id)
        .join(Event, Event.id == Shift.event_id)
        .where(
            Signup.status == SignupStatus.CANCELLED,
            Signup.cancelled_at >= now - timedelta(days=7),
            Event.host_id.in_(hosts),
        )
        .options(contains_eager(Signup.shift).contains_eager(Shift.event), joinedload(Signup.user))
        .order_by(Signup.cancelled_at.desc(), Signup.id.desc()),
        limit,
    )

    nodes = db.session.scalars(
        select(OrgUnit)
        .where(
            path_filter(OrgUnit.path, actor, ORGANISER),
            OrgUnit.active.is_(True),
            OrgUnit.level.in_(
                [OrgLevel.ORGANISER, OrgLevel.PRACTICE_STATION, OrgLevel.TEAM, OrgLevel.TOWN]
            ),
        )
        .order_by(OrgUnit.path)
        .limit(limit * 3)
    ).all()

    return Workspace(
        upcoming=upcoming,
        upcoming_total=upcoming_total,
        low_shifts=low_shifts,
        low_shifts_total=low_total,
        today=today_shifts,
        today_total=today_total,
        today_counts=today_counts,
        pending_total=pending_total,
        pending_overdue=pending_overdue,
        oldest_pending=[(r, hours.is_overdue(r, today)) for r, _n, _o in oldest_rows],
        team_requests=team_requests,
        team_requests_total=requests_total,
        new_volunteers=newcomers,
        new_volunteers_total=newcomers_total,
        cancellations=cancellations,
        cancellations_total=cancellations_total,
        nodes=list(nodes),
    )
