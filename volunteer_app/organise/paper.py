"""Paper attendance: a lead copies a volunteer's times from the printed sign-in sheet."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Attendance, ScanMethod, Signup, SignupStatus, User
from ..permissions import led_shifts
from ..services import ServiceError, audit
from ..signups.transitions import transition


def enter_paper_times(
    actor: User,
    signup: Signup,
    checked_in_at: datetime,
    checked_out_at: datetime | None,
    *,
    now: datetime,
    ip: str | None = None,
) -> Attendance:
    """The lead copies a volunteer's times from the paper sign-in sheet: an attendance
    made by hand (method PAPER) for a sign-up that has none yet. Every reason that
    applies is given at once."""
    shift = signup.shift
    if not led_shifts.can(actor, shift):
        raise ServiceError(_l("You do not lead this shift."))
    problems: list[str] = []
    if signup.status not in (SignupStatus.CONFIRMED, SignupStatus.NO_SHOW):
        problems.append(str(_l("Only a confirmed volunteer can be given times from paper.")))
    if db.session.scalar(select(Attendance.id).where(Attendance.signup_id == signup.id)):
        problems.append(
            str(
                _l(
                    "This volunteer already has check-in times; correct them on the "
                    "attendance page."
                )
            )
        )
    if shift.confirmed_at is not None:
        problems.append(
            str(
                _l(
                    "The shift's hours have been confirmed already; record the time as a "
                    "manual record instead."
                )
            )
        )
    if checked_out_at is not None and checked_out_at <= checked_in_at:
        problems.append(str(_l("The check-out must be after the check-in.")))
    margin = timedelta(hours=12)
    if not shift.starts_at - margin <= checked_in_at <= shift.ends_at + margin:
        problems.append(str(_l("The times must lie near the shift.")))
    if checked_in_at > now or (checked_out_at is not None and checked_out_at > now):
        problems.append(str(_l("Times from paper cannot lie in the future.")))
    if problems:
        raise ServiceError(problems)
    was_no_show = signup.status is SignupStatus.NO_SHOW
    attendance = Attendance(
        signup_id=signup.id,
        shift_id=shift.id,
        user_id=signup.user_id,
        checked_in_at=checked_in_at,
        checked_out_at=checked_out_at,
        in_method=ScanMethod.PAPER,
        out_method=ScanMethod.PAPER if checked_out_at else None,
        in_by_id=actor.id,
        out_by_id=actor.id if checked_out_at else None,
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(attendance)
            db.session.flush()
    except IntegrityError:
        raise ServiceError(
            _l("This volunteer already has check-in times; correct them on the attendance page.")
        ) from None
    # Marked absent, but the sheet shows them there: the place is held again.
    transition(signup, SignupStatus.ATTENDED, now=now, actor=actor)
    db.session.flush()
    audit.record(
        "attendance.paper",
        actor=actor,
        ip=ip,
        obj=attendance,
        shift=shift.id,
        signup=signup.id,
        user=signup.user_id,
        checked_in=checked_in_at.isoformat(),
        checked_out=checked_out_at.isoformat() if checked_out_at else None,
        was_no_show=was_no_show,
    )
    return attendance
