"""Hours reads: star levels, approved minutes, working days and overdue records, who may
decide a record."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import (
    Attendance,
    Event,
    RecordKind,
    RecordStatus,
    ServiceRecord,
    Shift,
    ShiftLead,
    User,
)
from ..permissions import (
    ORGANISER,
    nodes_in_scope,
)
from ..services import (
    holidays,
)
from ..timeutil import to_local

#: 星级志愿者: approved hours needed for each star (一星 … 五星).
STAR_HOURS = (100, 300, 600, 1000, 1500)
#: Unapproved records older than this many working days are overdue (办法 Art 11).
OVERDUE_WORKING_DAYS = 10


# ---------------------------------------------------------------- star levels


@dataclass(frozen=True)
class Stars:
    level: int  # 0 … 5
    hours: float
    next_at: int | None  # hours for the next star
    progress: float  # 0 … 1 towards the next star


def stars_for(minutes: int) -> Stars:
    hours = minutes / 60
    level = sum(1 for threshold in STAR_HOURS if hours >= threshold)
    if level == len(STAR_HOURS):
        return Stars(level, hours, None, 1.0)
    low = STAR_HOURS[level - 1] if level else 0
    high = STAR_HOURS[level]
    return Stars(level, hours, high, (hours - low) / (high - low))


def approved_minutes(user_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(ServiceRecord.minutes), 0)).where(
                ServiceRecord.user_id == user_id, ServiceRecord.status == RecordStatus.APPROVED
            )
        )
    )


# ---------------------------------------------------------------- working days


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end`: Monday to Friday, less the
    statutory holidays, plus the 调休 weekends (services.holidays)."""
    return holidays.working_days_between(start, end)


def is_overdue(record: ServiceRecord, today: date) -> bool:
    """Pending for more than 10 working days since the service (a correction: since it was
    made, as it carries its original's service date)."""
    start = (
        to_local(record.created_at).date()
        if record.kind is RecordKind.CORRECTION
        else record.service_date
    )
    return (
        record.status is RecordStatus.PENDING
        and working_days_between(start, today) > OVERDUE_WORKING_DAYS
    )


def approved_minutes_of(record: ServiceRecord) -> int:
    """The record's minutes with its approved corrections."""
    extra = db.session.scalar(
        select(func.coalesce(func.sum(ServiceRecord.minutes), 0)).where(
            ServiceRecord.corrects_id == record.id, ServiceRecord.status == RecordStatus.APPROVED
        )
    )
    return record.minutes + int(extra)


#: How far back the approvals page looks for ended shifts nobody has confirmed.
CONFIRM_LOOKBACK = timedelta(days=60)


def overdue_cutoff(today: date) -> date:
    """The latest service date whose pending records are overdue today."""
    day = today
    while working_days_between(day, today) <= OVERDUE_WORKING_DAYS:
        day -= timedelta(days=1)
    return day


def corrections_of(ids: list[int]) -> dict[int, list[ServiceRecord]]:
    found: dict[int, list[ServiceRecord]] = defaultdict(list)
    if ids:
        for row in db.session.scalars(
            select(ServiceRecord)
            .where(ServiceRecord.corrects_id.in_(ids))
            .order_by(ServiceRecord.created_at, ServiceRecord.id)
        ):
            found[row.corrects_id].append(row)
    return found


def counted_minutes(record: ServiceRecord, corrections: list[ServiceRecord]) -> int:
    """What an approved record counts for, with its approved corrections."""
    if record.status is not RecordStatus.APPROVED:
        return 0
    return record.minutes + sum(c.minutes for c in corrections if c.status is RecordStatus.APPROVED)


def shifts_to_confirm(user: User, now: datetime) -> list[Shift]:
    """Ended shifts in the user's care with attendance that nobody has confirmed yet."""
    led = select(ShiftLead.shift_id).where(ShiftLead.user_id == user.id)
    hosts = nodes_in_scope(user, ORGANISER)
    return list(
        db.session.scalars(
            select(Shift)
            .join(Event, Event.id == Shift.event_id)
            .where(
                Shift.confirmed_at.is_(None),
                Shift.cancelled.is_(False),
                Shift.ends_at < now,
                Shift.ends_at > now - CONFIRM_LOOKBACK,
                or_(Shift.id.in_(led), Event.host_id.in_(hosts)),
                exists().where(Attendance.shift_id == Shift.id),
            )
            .options(joinedload(Shift.event))
            .order_by(Shift.ends_at)
            .limit(50)
        )
    )
