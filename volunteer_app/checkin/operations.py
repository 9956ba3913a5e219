"""Check-in operations beside the scan: walk-ins, corrections, no-shows, closing attendances
left open."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import (
    Attendance,
    ScanMethod,
    Shift,
    Signup,
    SignupStatus,
    User,
    VolunteerProfile,
)
from ..permissions import led_shifts
from ..services import ServiceError, audit, notices
from ..signups.queries import active_signup
from ..signups.transitions import transition_many
from ..timeutil import to_local
from .queries import window
from .results import Policy, ScanResult
from .scans import scan


def walk_in(
    actor: User, shift: Shift, volunteer: User, *, now: datetime, policy: Policy | None = None
) -> ScanResult:
    """A volunteer who did not sign up is added on the spot (past the capacity if need be,
    marked) and checked in."""
    from ..signups import organiser_add

    if not led_shifts.can(actor, shift):
        raise ServiceError(_l("You do not lead this shift."))
    from ..services.volunteers import is_complete

    profile = db.session.get(VolunteerProfile, volunteer.id)
    if not is_complete(profile, to_local(now).date()):
        raise ServiceError(_l("No volunteer with a complete profile has this number."))
    if active_signup(volunteer, shift) is None:
        signup = organiser_add(actor, shift, volunteer, now=now, reason="walk-in")
        signup.source = "walk_in"
    return scan(
        actor,
        now=now,
        signup_id=active_signup(volunteer, shift).id,
        shift=shift,
        method=ScanMethod.MANUAL,
        policy=policy,
    )


def correct(
    actor: User,
    attendance: Attendance,
    checked_in_at: datetime,
    checked_out_at: datetime | None,
    reason: str,
    *,
    ip: str | None = None,
) -> Attendance:
    """A lead corrects the times (e.g. from the paper sheet); the reason is audited."""
    if not led_shifts.can(actor, attendance.shift):
        raise ServiceError(_l("You do not lead this shift."))
    problems = []
    if not reason.strip():
        problems.append(str(_l("Please give a reason for the correction.")))
    if checked_out_at is not None and checked_out_at <= checked_in_at:
        problems.append(str(_l("The check-out must be after the check-in.")))
    start, end = attendance.shift.starts_at, attendance.shift.ends_at
    if checked_in_at < start - timedelta(hours=12) or checked_in_at > end + timedelta(hours=12):
        problems.append(str(_l("The times must lie near the shift.")))
    if problems:
        raise ServiceError(problems)
    old = (
        attendance.checked_in_at.isoformat(),
        attendance.checked_out_at.isoformat() if attendance.checked_out_at else None,
    )
    attendance.checked_in_at = checked_in_at
    attendance.checked_out_at = checked_out_at
    attendance.corrected = True
    attendance.auto_closed = False
    db.session.flush()
    audit.record(
        "attendance.correct",
        actor=actor,
        ip=ip,
        obj=attendance,
        reason=reason,
        old=list(old),
        new=[checked_in_at.isoformat(), checked_out_at.isoformat() if checked_out_at else None],
    )
    return attendance


def mark_no_shows(shift: Shift, *, now: datetime, actor: User | None = None) -> int:
    """After the shift: confirmed volunteers who never checked in become no-shows (their
    place is released). Running it again changes nothing more."""
    if now < shift.ends_at:
        raise ServiceError(_l("No-shows can be marked only after the shift has ended."))
    missing = db.session.scalars(
        select(Signup).where(Signup.shift_id == shift.id, Signup.status == SignupStatus.CONFIRMED)
    ).all()
    transition_many(missing, SignupStatus.NO_SHOW, now=now, actor=actor)
    if missing and actor is not None:
        audit.record("shift.no_shows", actor=actor, obj=shift, count=len(missing))
    db.session.flush()
    notices.no_shows_marked(missing, now=now)
    return len(missing)


def close_unclosed(now: datetime) -> int:
    """Attendances still open after their shift's check-out window are closed at the shift
    end and flagged for the lead (the scheduler runs this)."""
    rows = db.session.scalars(
        select(Attendance)
        .join(Shift, Shift.id == Attendance.shift_id)
        .where(
            Attendance.checked_out_at.is_(None),
            Shift.ends_at < now,
        )
    ).all()
    closed = 0
    for attendance in rows:
        if now <= window(attendance.shift)[1]:
            continue
        attendance.checked_out_at = max(attendance.shift.ends_at, attendance.checked_in_at)
        attendance.out_method = ScanMethod.JOB
        attendance.auto_closed = True
        closed += 1
    db.session.flush()
    return closed
