"""Events and shifts: create, edit, publish, cancel, copy and repeat (organisers)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l

from ..catalog import CATEGORIES
from ..extensions import db
from ..models import (
    Event,
    EventStatus,
    OrgKind,
    OrgUnit,
    Role,
    Shift,
    ShiftLead,
    User,
    Visibility,
)
from ..timeutil import to_local
from . import ServiceError, audit, notices
from .scope import covers

ORGANISER_ROLES = (Role.ORGANISER,)


@dataclass
class EventFields:
    title: str
    category: str
    address: str
    description: str = ""
    area_id: int | None = None
    contact_name: str = ""
    contact_phone: str = ""
    latitude: float | None = None
    longitude: float | None = None
    min_age: int | None = None
    adults_only: bool = False
    party_only: bool = False
    team_only: bool = False
    dangerous: bool = False
    visibility: Visibility = Visibility.PUBLIC


@dataclass
class ShiftFields:
    post: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    duties: str = ""
    waitlist_enabled: bool = True
    waitlist_limit: int = 10
    signup_opens_days: int | None = 7
    cancel_deadline_hours: int = 2
    checkin_opens_minutes: int = 30
    checkin_closes_minutes: int = 30
    lead_ids: list[int] = field(default_factory=list)


def require_organiser(actor: User, node: OrgUnit) -> None:
    if not covers(actor, node, ORGANISER_ROLES):
        raise ServiceError(_l("You may not organise events for this unit."))


def _check_event(fields: EventFields) -> list[str]:
    problems = []
    if not fields.title.strip():
        problems.append(str(_l("Please enter a title.")))
    if len(fields.title) > 100:
        problems.append(str(_l("The title may have at most 100 characters.")))
    if fields.category not in CATEGORIES:
        problems.append(str(_l("Please choose a category.")))
    if not fields.address.strip():
        problems.append(str(_l("Please enter the place.")))
    if fields.min_age is not None and not 0 <= fields.min_age <= 100:
        problems.append(str(_l("The minimum age must be between 0 and 100.")))
    if (fields.latitude is None) != (fields.longitude is None):
        problems.append(str(_l("Give both map coordinates or neither.")))
    if fields.latitude is not None and not -90 <= fields.latitude <= 90:
        problems.append(str(_l("The latitude must be between -90 and 90.")))
    if fields.longitude is not None and not -180 <= fields.longitude <= 180:
        problems.append(str(_l("The longitude must be between -180 and 180.")))
    return problems


def _apply_event(event: Event, fields: EventFields) -> None:
    for name, value in vars(fields).items():
        setattr(event, name, value.strip() if isinstance(value, str) else value)


def create_event(
    actor: User, host: OrgUnit, fields: EventFields, *, ip: str | None = None
) -> Event:
    """A draft event hosted by `host` (which the actor organises)."""
    require_organiser(actor, host)
    problems = _check_event(fields)
    if host.kind is OrgKind.PARTY:
        problems.append(str(_l("Events are hosted by an organiser or an area unit.")))
    if problems:
        raise ServiceError(problems)
    event = Event(host_id=host.id, created_by_id=actor.id, status=EventStatus.DRAFT)
    _apply_event(event, fields)
    db.session.add(event)
    db.session.flush()
    audit.record("event.create", actor=actor, ip=ip, obj=event, title=event.title)
    return event


def update_event(actor: User, event: Event, fields: EventFields, *, ip: str | None = None) -> Event:
    require_organiser(actor, event.host)
    problems = _check_event(fields)
    if problems:
        raise ServiceError(problems)
    old_place = event.address
    _apply_event(event, fields)
    db.session.flush()
    notices.place_changed(event, old_place)
    audit.record("event.update", actor=actor, ip=ip, obj=event)
    return event


def _check_shift(fields: ShiftFields, *, taken: int = 0) -> list[str]:
    problems = []
    if not fields.post.strip():
        problems.append(str(_l("Please name the post.")))
    if not (2000 <= fields.starts_at.year <= 2100 and 2000 <= fields.ends_at.year <= 2100):
        problems.append(str(_l("Please choose a date between 2000 and 2100.")))
        return problems
    if fields.ends_at <= fields.starts_at:
        problems.append(str(_l("The shift must end after it starts.")))
    elif fields.ends_at - fields.starts_at > timedelta(hours=24):
        problems.append(str(_l("A shift may last at most 24 hours.")))
    if not 1 <= fields.capacity <= 10000:
        problems.append(str(_l("The capacity must be between 1 and 10000.")))
    elif fields.capacity < taken:
        problems.append(
            str(
                _l("%(n)d volunteers are already confirmed; the capacity cannot be lower.", n=taken)
            )
        )
    if not 0 <= fields.waitlist_limit <= 1000:
        problems.append(str(_l("The waitlist length must be between 0 and 1000.")))
    if fields.signup_opens_days is not None and not 0 <= fields.signup_opens_days <= 365:
        problems.append(str(_l("Sign-up can open between 0 and 365 days before the start.")))
    if not 0 <= fields.cancel_deadline_hours <= 168:
        problems.append(str(_l("The cancel deadline must be between 0 and 168 hours.")))
    if not (
        0 <= fields.checkin_opens_minutes <= 1440 and 0 <= fields.checkin_closes_minutes <= 1440
    ):
        problems.append(
            str(_l("Check-in may open and close at most 1440 minutes around the shift."))
        )
    return problems


def _apply_shift(shift: Shift, fields: ShiftFields) -> None:
    shift.post = fields.post.strip()
    shift.duties = fields.duties.strip()
    shift.starts_at, shift.ends_at = fields.starts_at, fields.ends_at
    shift.capacity = fields.capacity
    shift.waitlist_enabled = fields.waitlist_enabled
    shift.waitlist_limit = fields.waitlist_limit
    shift.signup_opens_at = (
        fields.starts_at - timedelta(days=fields.signup_opens_days)
        if fields.signup_opens_days is not None
        else None
    )
    shift.cancel_deadline_hours = fields.cancel_deadline_hours
    shift.checkin_opens_minutes = fields.checkin_opens_minutes
    shift.checkin_closes_minutes = fields.checkin_closes_minutes


def _set_leads(shift: Shift, lead_ids: list[int]) -> None:
    wanted = set(lead_ids)
    for lead in list(shift.leads):
        if lead.user_id not in wanted:
            shift.leads.remove(lead)
    have = {lead.user_id for lead in shift.leads}
    for user_id in wanted - have:
        shift.leads.append(ShiftLead(user_id=user_id))


def refresh_times(event: Event) -> None:
    """Keep the event's first start and last end in step with its shifts."""
    live = [s for s in event.shifts if not s.cancelled] or event.shifts
    event.starts_at = min((s.starts_at for s in live), default=None)
    event.ends_at = max((s.ends_at for s in live), default=None)


def add_shift(actor: User, event: Event, fields: ShiftFields, *, ip: str | None = None) -> Shift:
    require_organiser(actor, event.host)
    if event.status in (EventStatus.CANCELLED, EventStatus.COMPLETED):
        raise ServiceError(_l("Shifts cannot be added to a cancelled or completed event."))
    problems = _check_shift(fields)
    if problems:
        raise ServiceError(problems)
    shift = Shift(event=event, taken=0, waitlisted=0)
    _apply_shift(shift, fields)
    _set_leads(shift, fields.lead_ids)
    db.session.add(shift)
    db.session.flush()
    refresh_times(event)
    audit.record("shift.create", actor=actor, ip=ip, obj=shift, event=event.id)
    return shift


def _local(value: datetime) -> str:
    return to_local(value).strftime("%Y-%m-%d %H:%M")


def update_shift(
    actor: User, shift: Shift, fields: ShiftFields, *, now: datetime, ip: str | None = None
) -> Shift:
    """Edit a shift; a change of time is sent to everyone signed up. A larger capacity
    lets the waitlist move up at once."""
    from ..signups.operations import active_signups, lock_shift, promote

    require_organiser(actor, shift.event.host)
    shift = lock_shift(shift.id)
    problems = _check_shift(fields, taken=shift.taken)
    if problems:
        raise ServiceError(problems)
    moved = (fields.starts_at, fields.ends_at) != (shift.starts_at, shift.ends_at)
    _apply_shift(shift, fields)
    _set_leads(shift, fields.lead_ids)
    db.session.flush()
    refresh_times(shift.event)
    if moved:
        notices.shift_moved(active_signups(shift), shift, now=now)
    promote(shift.id, now=now)
    audit.record("shift.update", actor=actor, ip=ip, obj=shift, moved=moved)
    return shift


def publish(actor: User, event: Event, *, ip: str | None = None) -> Event:
    require_organiser(actor, event.host)
    if event.status is not EventStatus.DRAFT:
        raise ServiceError(_l("Only a draft can be published."))
    if not [s for s in event.shifts if not s.cancelled]:
        raise ServiceError(_l("Add at least one shift before publishing."))
    event.status = EventStatus.PUBLISHED
    db.session.flush()
    audit.record("event.publish", actor=actor, ip=ip, obj=event)
    return event


def cancel_shift(
    actor: User, shift: Shift, reason: str, *, now: datetime, ip: str | None = None
) -> int:
    """Cancel a shift; everyone signed up is told. Returns how many were signed up."""
    from ..signups.operations import cancel_all, lock_shift

    require_organiser(actor, shift.event.host)
    if not reason.strip():
        raise ServiceError(_l("Please give a reason; it is sent to the volunteers."))
    shift = lock_shift(shift.id)
    if shift.cancelled:
        raise ServiceError(_l("This shift is already cancelled."))
    shift.cancelled = True
    count = cancel_all(shift, now=now, reason=reason, template="shift_cancelled")
    db.session.flush()
    refresh_times(shift.event)
    audit.record("shift.cancel", actor=actor, ip=ip, obj=shift, reason=reason, signups=count)
    return count


def cancel_event(
    actor: User, event: Event, reason: str, *, now: datetime, ip: str | None = None
) -> int:
    """Cancel the event and all its shifts; everyone signed up is told."""
    from ..signups.operations import cancel_all, lock_shift

    require_organiser(actor, event.host)
    if event.status in (EventStatus.CANCELLED, EventStatus.COMPLETED):
        raise ServiceError(_l("This event is already cancelled or completed."))
    if not reason.strip():
        raise ServiceError(_l("Please give a reason; it is sent to the volunteers."))
    count = 0
    for shift in event.shifts:
        locked = lock_shift(shift.id)
        if not locked.cancelled:
            locked.cancelled = True
            count += cancel_all(locked, now=now, reason=reason, template="event_cancelled")
    event.status = EventStatus.CANCELLED
    event.cancel_reason = reason[:200]
    db.session.flush()
    audit.record("event.cancel", actor=actor, ip=ip, obj=event, reason=reason, signups=count)
    return count


def copy_event(
    actor: User,
    event: Event,
    offset: timedelta,
    *,
    series_key: str | None = None,
    ip: str | None = None,
) -> Event:
    """A new draft with the same details and its shifts moved by `offset`."""
    require_organiser(actor, event.host)
    if abs(offset) > timedelta(days=3650):
        raise ServiceError(_l("Please choose a date between 2000 and 2100."))
    new = Event(
        host_id=event.host_id,
        created_by_id=actor.id,
        status=EventStatus.DRAFT,
        series_key=series_key,
    )
    for name in vars(EventFields("", "", "")):
        setattr(new, name, getattr(event, name))
    db.session.add(new)
    for shift in event.shifts:
        if shift.cancelled:
            continue
        copy = Shift(event=new, taken=0, waitlisted=0)
        days = None
        if shift.signup_opens_at is not None:
            days = (shift.starts_at - shift.signup_opens_at).days
        _apply_shift(
            copy,
            ShiftFields(
                post=shift.post,
                duties=shift.duties,
                starts_at=shift.starts_at + offset,
                ends_at=shift.ends_at + offset,
                capacity=shift.capacity,
                waitlist_enabled=shift.waitlist_enabled,
                waitlist_limit=shift.waitlist_limit,
                signup_opens_days=days,
                cancel_deadline_hours=shift.cancel_deadline_hours,
                checkin_opens_minutes=shift.checkin_opens_minutes,
                checkin_closes_minutes=shift.checkin_closes_minutes,
            ),
        )
        _set_leads(copy, [lead.user_id for lead in shift.leads])
        db.session.add(copy)
    db.session.flush()
    refresh_times(new)
    audit.record("event.copy", actor=actor, ip=ip, obj=new, source=event.id)
    return new


def repeat_event(
    actor: User,
    event: Event,
    *,
    weekly: int = 0,
    dates: list[date] | None = None,
    ip: str | None = None,
) -> list[Event]:
    """Copies of the event every week (`weekly` more times) or on the chosen dates, each a
    draft in the same series; the first shift's date moves to each new date."""
    require_organiser(actor, event.host)
    if not event.shifts or event.starts_at is None:
        raise ServiceError(_l("Add a shift before repeating the event."))
    if not weekly and not dates:
        raise ServiceError(_l("Choose how often to repeat, or the dates."))
    if weekly > 52 or len(dates or []) > 60:
        raise ServiceError(_l("At most 52 weekly repeats or 60 dates at once."))
    first_day = to_local(event.starts_at).date()
    targets = [first_day + timedelta(weeks=i) for i in range(1, weekly + 1)]
    targets += [d for d in (dates or []) if d != first_day]
    targets = sorted(set(targets))
    if event.series_key is None:
        event.series_key = secrets.token_hex(8)
    return [
        copy_event(
            actor, event, timedelta(days=(day - first_day).days), series_key=event.series_key, ip=ip
        )
        for day in targets
    ]
