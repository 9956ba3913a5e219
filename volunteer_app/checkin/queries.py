"""Check-in reads: who leads a shift, its scan window, whose code a token is, counts and
credited time."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import BindParameter, ColumnElement, and_, bindparam, func, select
from sqlalchemy.orm import load_only

from ..extensions import db
from ..models import (
    Attendance,
    Shift,
    ShiftLead,
    Signup,
    SignupStatus,
    User,
    VolunteerCard,
)
from ..permissions import led_shifts
from ..services import devicecodes, qr
from .locks import held_now
from .results import MAX_CLOCK_SKEW, MAX_QUEUE_AGE


def window(shift: Shift) -> tuple[datetime, datetime]:
    """When scanning is accepted for the shift."""
    return (
        shift.starts_at - timedelta(minutes=shift.checkin_opens_minutes),
        shift.ends_at + timedelta(minutes=shift.checkin_closes_minutes),
    )


def is_open(shift: Shift, moment: datetime) -> bool:
    start, end = window(shift)
    return start <= moment <= end and not shift.cancelled


def open_shifts_led_by(user: User, now: datetime) -> list[Shift]:
    """The shifts whose check-in window is open now and that the user leads."""
    candidates = db.session.scalars(
        select(Shift).where(
            Shift.cancelled.is_(False),
            Shift.starts_at <= now + timedelta(hours=2),
            Shift.ends_at >= now - timedelta(hours=2),
        )
    ).all()
    return [s for s in candidates if is_open(s, now) and led_shifts.can(user, s)]


def shifts_led_by(user: User, since: datetime) -> list[Shift]:
    """Shifts the user leads (assigned), from `since` on, for the lead's home page."""
    return list(
        db.session.scalars(
            select(Shift)
            .join(ShiftLead, ShiftLead.shift_id == Shift.id)
            .where(ShiftLead.user_id == user.id, Shift.ends_at >= since)
            .order_by(Shift.starts_at)
        )
    )


def effective_time(now: datetime, scanned_at: datetime | None) -> datetime:
    """The scan's own time when it is plausible (an offline queue), else the server's."""
    if scanned_at is None:
        return now
    if now - MAX_QUEUE_AGE <= scanned_at <= now + MAX_CLOCK_SKEW:
        return min(scanned_at, now)
    return now


# ---------------------------------------------------------------- scanning


CARD_NUMBER_RE = re.compile(r"^JM([0-9]{7,10})$", re.ASCII)


def card_number_id(token: str) -> int | None:
    """The card id in a typed card number ("JM0000001", any case, spaces ignored)."""
    match = CARD_NUMBER_RE.match(re.sub(r"[\s-]", "", token or "").upper())
    return int(match.group(1)) if match else None


def volunteer_for(
    token: str, now: datetime, *, skew: timedelta = timedelta(0)
) -> tuple[User | None, str]:
    """The volunteer a code stands for, or the reason it does not: a code from the server
    or a phone (services/devicecodes.py), a printed card's QR or its typed number."""
    if devicecodes.is_device_token(token):
        checked = devicecodes.check(token, now)
        if checked.problem:
            return None, "device_revoked" if checked.problem == "revoked" else checked.problem
        user = checked.device.user
        if user is None or user.deleted_at is not None or not user.active:
            return None, "unknown"
        return user, ""
    card_id = card_number_id(token)
    if card_id is not None:
        return _card_holder(card_id)
    decoded = qr.decode(token, now, skew=skew)
    if decoded.problem:
        return None, decoded.problem
    if decoded.kind in ("site", "printed_site"):
        return None, "site_code"
    if decoded.kind == "card":
        return _card_holder(decoded.ident)
    user = db.session.get(User, decoded.ident)
    if user is None or user.deleted_at is not None or not user.active:
        return None, "unknown"
    return user, ""


def _card_holder(card_id: int) -> tuple[User | None, str]:
    card = db.session.get(VolunteerCard, card_id) if card_id <= 2**31 - 1 else None
    if card is None:
        return None, "unknown"
    if card.revoked_at is not None:
        return None, "revoked"
    user = card.user
    if user is None or user.deleted_at is not None or not user.active:
        return None, "unknown"
    return user, ""


def _code_used(token: str | None, moment: datetime, shift: Shift) -> bool:
    """A phone code value is accepted once per shift (claimed here); other codes: False."""
    if not token or not devicecodes.is_device_token(token):
        return False
    checked = devicecodes.check(token, moment)
    return checked.step is not None and not devicecodes.claim(
        checked.device, checked.step, shift.id
    )


def credited_minutes(
    checked_in_at: datetime,
    checked_out_at: datetime | None,
    starts_at: datetime,
    ends_at: datetime,
    grace_minutes: int = 0,
) -> int:
    """Minutes of the attendance that overlap the shift window, widened by the grace;
    never negative, whole minutes (travel and waiting outside the window not counted)."""
    if checked_out_at is None:
        return 0
    grace = timedelta(minutes=max(grace_minutes, 0))
    start = max(checked_in_at, starts_at - grace)
    end = min(checked_out_at, ends_at + grace)
    if end <= start:
        return 0
    return int((end - start).total_seconds() // 60)


def live_count_columns(shift_id: BindParameter) -> tuple[ColumnElement[int], ...]:
    """The scanner page's live counts of the shift `shift_id` binds, as three scalar
    subqueries (expected, in, out): read by their own statement (`counts`), or returned
    with a scan's log row (checkin/scans.py), so that a scanner request of one scan
    reads them without a statement of their own.

    Expected is the shift's place counter (`taken`: its confirmed and attended sign-ups,
    kept by signups.transition and checked by `flask shifts verify`); in and out are its
    attendances, each of which belongs to an attended sign-up (a check-in and paper times
    move the sign-up to attended, and nothing moves one out of it). So the counts read one
    shift row and the shift's attendances, not every sign-up of the shift joined to them:
    on 500 sign-ups a twentieth of a millisecond instead of a quarter (SQLite), a tenth
    instead of most of one (PostgreSQL). Built once per caller: plain Core statements on
    the tables, no ORM work per request."""
    shifts, attendances = Shift.__table__, Attendance.__table__
    of_shift = attendances.c.shift_id == shift_id
    out = attendances.c.checked_out_at
    # In and out are two ranges of the index on (shift_id, checked_out_at), counted from
    # the index alone: each attendance is visited once, and none of the rows is read.
    return (
        select(shifts.c.taken).where(shifts.c.id == shift_id).scalar_subquery(),
        select(func.count()).where(of_shift, out.is_(None)).scalar_subquery(),
        select(func.count()).where(of_shift, out.is_not(None)).scalar_subquery(),
    )


_COUNTS = select(*live_count_columns(bindparam("shift_id")))


def live_counts(expected: int | None, checked_in: int, checked_out: int) -> dict[str, int]:
    """Expected, in, out and missing, as the scanner page shows them."""
    expected = int(expected or 0)
    return {
        "expected": expected,
        "in": int(checked_in),
        "out": int(checked_out),
        "missing": max(expected - int(checked_in) - int(checked_out), 0),
    }


def counts(shift: Shift) -> dict[str, int]:
    """Expected, in, out and missing for the scanner page's live counts (one statement,
    so one snapshot)."""
    return live_counts(*db.session.execute(_COUNTS, {"shift_id": shift.id}).one())


# ---------------------------------------------------------------- a scan's reads


#: A sign-up of the shift that is not cancelled (at most one: a unique index) and its
#: attendance, if any, in one statement.
_SIGNUP_WITH_ATTENDANCE = (
    select(Signup, Attendance)
    .outerjoin(Attendance, Attendance.signup_id == Signup.id)
    .where(
        Signup.shift_id == bindparam("shift_id"),
        Signup.user_id == bindparam("user_id"),
        Signup.status != SignupStatus.CANCELLED,
    )
)


#: The volunteer, their sign-up of the shift (not cancelled) and its attendance, in one
#: statement: a scan of a volunteer's rotating code, the commonest scan there is.
_VOLUNTEER_WITH_SIGNUP = (
    select(User, Signup, Attendance)
    # What a scan reads of the volunteer (volunteer_for, the answer, the log); any other
    # attribute would be loaded when first read.
    .options(load_only(User.id, User.display_name, User.active, User.deleted_at))
    .outerjoin(
        Signup,
        and_(
            Signup.user_id == User.id,
            Signup.shift_id == bindparam("shift_id"),
            Signup.status != SignupStatus.CANCELLED,
        ),
    )
    .outerjoin(Attendance, Attendance.signup_id == Signup.id)
    .where(User.id == bindparam("user_id"))
)


def prefetch(
    token: str, now: datetime, shift: Shift
) -> tuple[User, Signup | None, Attendance | None] | None:
    """For a volunteer's rotating code scanned for a shift this transaction has locked
    already (the scanner API's): the volunteer with their sign-up and its attendance in
    one statement. The caller keeps the answer while `volunteer_for` runs, which then
    finds the volunteer in the session (its identity map holds objects only as long as
    something else does). None when that does not apply; the ordinary reads follow."""
    if shift.id not in held_now():
        return None
    decoded = qr.decode(token, now)
    if decoded.problem or decoded.kind != "volunteer":
        return None
    row = db.session.execute(
        _VOLUNTEER_WITH_SIGNUP, {"shift_id": shift.id, "user_id": decoded.ident}
    ).first()
    return (row[0], row[1], row[2]) if row is not None else None


def signup_with_attendance(
    shift: Shift, volunteer: User
) -> tuple[Signup | None, Attendance | None]:
    row = db.session.execute(
        _SIGNUP_WITH_ATTENDANCE, {"shift_id": shift.id, "user_id": volunteer.id}
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)
