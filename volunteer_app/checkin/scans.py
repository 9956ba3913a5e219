"""Check-in and check-out at the sites: scans by leads, self check-in by site code, the
offline queue, walk-ins, corrections, no-shows and credited time.

A scan is idempotent twice over: a client nonce is stored with the scan (unique), so a
retried request or a queue synced twice returns the first answer; and there is at most
one attendance per sign-up (unique), so two devices scanning the same volunteer make one.

Locks are taken in one order, as in signups.py: the shift row first, then its sign-up and
attendance rows, a synced batch in sign-up order. Two scanners syncing the same volunteers
in opposite orders therefore queue behind each other instead of deadlocking.

A rotating volunteer code scanned offline must prove it was current when it was scanned:
the scan's time lies within the code's own validity (± OFFLINE_CODE_SKEW), and the lead's
scanner did not reach the server for this shift more than OFFLINE_ONLINE_GRACE after that
time (the page sends its whole queue with every request, so a genuine offline scan arrives
with the first request that gets through). A photo of a code replayed later fails one or
the other and is refused with a reason in the scan log.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import (
    Attendance,
    ScanLog,
    ScanMethod,
    Shift,
    Signup,
    SignupStatus,
    User,
)
from ..permissions import led_shifts
from ..services import qr
from ..services.database import insert_now, insert_skipping, returning_also
from ..signups.queries import active_signup
from ..signups.transitions import transition
from .locks import hold_shift
from .queries import (
    _code_used,
    effective_time,
    is_open,
    live_count_columns,
    live_counts,
    open_shifts_led_by,
    prefetch,
    signup_with_attendance,
    volunteer_for,
)
from .results import OFFLINE_CODE_SKEW, OFFLINE_ONLINE_GRACE, Policy, ScanResult, _result


def _apply(
    actor: User,
    shift: Shift,
    volunteer: User,
    moment: datetime,
    method: ScanMethod,
    policy: Policy,
    known: tuple[Signup | None, Attendance | None] | None = None,
) -> ScanResult:
    """Check the volunteer in or out of the shift at `moment`. `known`: the volunteer's
    sign-up of the shift and its attendance, read already under the shift's lock."""
    if not is_open(shift, moment):
        return _result("window_closed", volunteer=volunteer, shift=shift)
    hold_shift(shift.id)
    signup, attendance = known or signup_with_attendance(shift, volunteer)
    if signup is None:
        return _result("not_signed_up", volunteer=volunteer, shift=shift)
    if signup.status is SignupStatus.WAITLISTED:
        return _result("waitlisted", volunteer=volunteer, shift=shift)
    if attendance is None:
        attendance = _insert_attendance(
            signup_id=signup.id,
            shift_id=shift.id,
            user_id=volunteer.id,
            checked_in_at=moment,
            in_method=method,
            in_by_id=actor.id,
        )
        if attendance is None:
            # Another device checked the same volunteer in a moment ago.
            attendance = db.session.scalar(
                select(Attendance).where(Attendance.signup_id == signup.id)
            )
            return _result(
                "already_in", ok=True, volunteer=volunteer, shift=shift, attendance=attendance
            )
        if signup.status is not SignupStatus.ATTENDED:
            # From a no-show (marked absent too early) the place is held again.
            transition(signup, SignupStatus.ATTENDED, now=moment, actor=actor)
        db.session.flush()
        return _result(
            "checked_in",
            ok=True,
            action="in",
            volunteer=volunteer,
            shift=shift,
            attendance=attendance,
        )
    if attendance.checked_out_at is not None:
        return _result(
            "already_out", ok=True, volunteer=volunteer, shift=shift, attendance=attendance
        )
    if moment - attendance.checked_in_at < timedelta(minutes=policy.min_checkout_minutes):
        return _result(
            "already_in", ok=True, volunteer=volunteer, shift=shift, attendance=attendance
        )
    attendance.checked_out_at = moment
    attendance.out_method = method
    attendance.out_by_id = actor.id
    attendance.auto_closed = False
    db.session.flush()
    return _result(
        "checked_out",
        ok=True,
        action="out",
        volunteer=volunteer,
        shift=shift,
        attendance=attendance,
    )


def _insert_attendance(**values: object) -> Attendance | None:
    """The new attendance, or None when the sign-up has one already (the unique index on
    signup_id: another device a moment ago). One INSERT … ON CONFLICT DO NOTHING RETURNING
    on both databases, instead of a savepoint around an insert that may fail."""
    attendance = Attendance(**values)
    return attendance if insert_now(attendance, unless_taken="signup_id") else None


def _log(
    result: ScanResult,
    *,
    actor: User | None,
    nonce: str | None,
    method: ScanMethod,
    now: datetime,
    scanned_at: datetime | None,
    once: bool = False,
) -> dict[str, int] | None:
    """One row in the scan log: a plain INSERT after the scan's own changes are flushed
    (nothing reads the row back in the request, so it needs no ORM object).

    `once` (a scan with a nonce): the row is written only if no scan with the same nonce
    is logged already (INSERT … ON CONFLICT (nonce) DO NOTHING, instead of an error that
    only a savepoint around the scan could survive). Written, the answer is the shift's
    live counts, read by the same statement after the scan's changes (RETURNING), which
    a scanner request of one scan shows; not written, None."""
    db.session.flush()
    values = {
        "at": now,
        "scanned_at": scanned_at,
        "shift_id": result.shift.id if result.shift else None,
        "lead_id": actor.id if actor else None,
        "volunteer_id": result.volunteer.id if result.volunteer else None,
        "nonce": nonce,
        "method": method.value,
        "action": result.action,
        "ok": result.ok,
        "code": result.code,
        "message": result.message[:300],
    }
    if not once:
        db.session.execute(_INSERT_LOG, values)
        return None
    values["live_shift_id"] = values["shift_id"]
    statement = returning_also(insert_skipping(ScanLog.__table__, "nonce", "id"), _LIVE_COUNTS)
    row = db.session.execute(statement, values).first()
    return live_counts(*row[1:]) if row is not None else None


#: The shift's live counts, returned by a one-scan request's log row (`_log`).
_LIVE_COUNTS = live_count_columns(bindparam("live_shift_id"))
_INSERT_LOG = ScanLog.__table__.insert()
#: Plain columns, no ORM object: nearly every scan finds no earlier one.
_REPLAY = select(ScanLog.__table__).where(ScanLog.__table__.c.nonce == bindparam("nonce"))


def _replay(nonce: str) -> ScanResult | None:
    row = db.session.execute(_REPLAY, {"nonce": nonce}).first()
    if row is None:
        return None
    volunteer = db.session.get(User, row.volunteer_id) if row.volunteer_id else None
    shift = db.session.get(Shift, row.shift_id) if row.shift_id else None
    attendance = None
    if volunteer and shift:
        attendance = db.session.scalar(
            select(Attendance).where(
                Attendance.shift_id == shift.id, Attendance.user_id == volunteer.id
            )
        )
    return ScanResult(
        ok=row.ok,
        code=row.code,
        message=row.message,
        action=row.action,
        volunteer=volunteer,
        shift=shift,
        attendance=attendance,
        replayed=True,
    )


def scan(
    actor: User,
    *,
    now: datetime,
    token: str | None = None,
    signup_id: int | None = None,
    shift: Shift | None = None,
    method: ScanMethod = ScanMethod.LEAD_SCAN,
    nonce: str | None = None,
    scanned_at: datetime | None = None,
    policy: Policy | None = None,
    alone: bool = False,
) -> ScanResult:
    """Process one scan by a lead: a volunteer's code (or a roster pick by sign-up id), for a
    given shift or for whichever of the lead's open shifts the volunteer is signed up for.
    Every scan is logged with its outcome; a repeated nonce returns the first outcome.

    `alone`: this scan is all the transaction writes (a scanner request of one scan). Its
    log row is written only if no scan with the same nonce is logged (see `_log`),
    and comes back with the shift's live counts (`ScanResult.counts`). A repeated nonce
    — a request the phone sent again when its answer was lost on a weak signal — is found
    there, not by a read before the scan: the scan is judged as if new, the whole
    transaction rolled back and the first answer returned, so that the commonest request,
    a new scan, makes one statement fewer and no savepoint."""
    policy = policy or Policy()
    nonce = (nonce or "")[:64] or None
    moment = effective_time(now, scanned_at)
    if alone and nonce:
        result = _scan(actor, token, signup_id, shift, moment, method, policy, now)
        live = _log(
            result,
            actor=actor,
            nonce=nonce,
            method=method,
            now=now,
            scanned_at=scanned_at,
            once=True,
        )
        if live is not None:
            result.counts = live
            return result
        db.session.rollback()
        earlier = _replay(nonce)
        if earlier is None:  # pragma: no cover - the log said the nonce is there
            raise RuntimeError("a scan's nonce was logged and then not found")
        return earlier
    if nonce:
        earlier = _replay(nonce)
        if earlier is not None:
            return earlier
    try:
        with db.session.begin_nested():
            result = _scan(actor, token, signup_id, shift, moment, method, policy, now)
            _log(result, actor=actor, nonce=nonce, method=method, now=now, scanned_at=scanned_at)
    except IntegrityError:
        # The same nonce arrived twice at once: the first one's answer stands.
        earlier = _replay(nonce) if nonce else None
        if earlier is None:
            raise
        return earlier
    return result


def _scan(
    actor: User,
    token: str | None,
    signup_id: int | None,
    shift: Shift | None,
    moment: datetime,
    method: ScanMethod,
    policy: Policy,
    now: datetime,
) -> ScanResult:
    if shift is not None and not led_shifts.can(actor, shift):
        return _result("not_lead", shift=shift)
    known = None
    if signup_id is not None:
        signup = db.session.get(Signup, signup_id)
        if signup is None or shift is None or signup.shift_id != shift.id:
            return _result("not_signed_up", shift=shift)
        volunteer = signup.user
    elif method is ScanMethod.OFFLINE:
        volunteer, problem = _offline_volunteer(actor, shift, token or "", moment, now)
        if volunteer is None:
            return _result(problem, shift=shift)
    else:
        # Sent at once: the code must be current now, whatever time the scan claims.
        prefetched = prefetch(token or "", now, shift) if shift is not None else None
        volunteer, problem = volunteer_for(token or "", now)
        if volunteer is None:
            return _result(problem, shift=shift)
        if prefetched is not None and prefetched[0] is volunteer:
            known = (prefetched[1], prefetched[2])
    if shift is not None:
        if _code_used(token, moment, shift):
            return _result("code_used", volunteer=volunteer, shift=shift)
        return _apply(actor, shift, volunteer, moment, method, policy, known=known)
    open_shifts = open_shifts_led_by(actor, moment)
    if not open_shifts:
        return _result("no_open_shift", volunteer=volunteer)
    for candidate in open_shifts:
        if active_signup(volunteer, candidate) is not None:
            if _code_used(token, moment, candidate):
                return _result("code_used", volunteer=volunteer, shift=candidate)
            return _apply(actor, candidate, volunteer, moment, method, policy)
    return _result("not_signed_up", volunteer=volunteer, shift=open_shifts[0])


def _offline_volunteer(
    actor: User, shift: Shift | None, token: str, moment: datetime, now: datetime
) -> tuple[User | None, str]:
    """The volunteer of a code scanned offline at `moment`, if the code was current then
    and the scanner has not been online since (see the module's docstring)."""
    volunteer, problem = volunteer_for(token, moment, skew=OFFLINE_CODE_SKEW)
    if problem == "expired":
        return None, "not_current"
    if volunteer is None or qr.decode(token, moment, skew=OFFLINE_CODE_SKEW).kind != "volunteer":
        return volunteer, problem  # a printed card does not rotate: its scan time is kept
    if shift is not None and _online_since(actor, shift, moment + OFFLINE_ONLINE_GRACE, now):
        return None, "online_since"
    return volunteer, ""


def _online_since(actor: User, shift: Shift, after: datetime, now: datetime) -> bool:
    """Whether an earlier request of the lead's for this shift reached the server after
    `after` (every scan, accepted or not, is logged with the time it arrived)."""
    if after >= now:
        return False
    return (
        db.session.scalar(
            select(ScanLog.id)
            .where(
                ScanLog.shift_id == shift.id,
                ScanLog.at > after,
                ScanLog.at < now,
                ScanLog.lead_id == actor.id,
            )
            .limit(1)
        )
        is not None
    )
