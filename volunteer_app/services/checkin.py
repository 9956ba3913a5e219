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

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import (
    Attendance,
    Role,
    ScanLog,
    ScanMethod,
    Shift,
    ShiftLead,
    Signup,
    SignupStatus,
    User,
    VolunteerCard,
    VolunteerProfile,
)
from ..signups.transitions import transition, transition_many
from ..timeutil import to_local
from . import ServiceError, audit, devicecodes, notices, qr
from .scope import covers

#: How far a queued scan's own time may lie before the sync (an offline morning) or after it.
MAX_QUEUE_AGE = timedelta(hours=12)
MAX_CLOCK_SKEW = timedelta(minutes=5)
#: A rotating code scanned offline counts if the scan's time lies within the code's own
#: validity (its window and the next, 2 × qr.ROTATE seconds) widened by this much; the
#: scanner page sets its times by the server's clock, so this only absorbs latency.
OFFLINE_CODE_SKEW = timedelta(seconds=30)
#: … and if the lead's scanner was not heard from, for this shift, later than this after
#: the scan's time (a request that timed out on the phone may still arrive that late).
OFFLINE_ONLINE_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class Policy:
    min_checkout_minutes: int = 30  # a second scan this soon after check-in is a repeat
    grace_minutes: int = 0  # early arrival / late stay credited up to this much


@dataclass
class ScanResult:
    ok: bool
    code: str
    message: str
    action: str = ""
    volunteer: User | None = None
    shift: Shift | None = None
    attendance: Attendance | None = None
    replayed: bool = False
    extra: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        att = self.attendance
        return {
            "ok": self.ok,
            "code": self.code,
            "message": self.message,
            "action": self.action,
            "replayed": self.replayed,
            "volunteer": (
                {"id": self.volunteer.id, "name": self.volunteer.display_name}
                if self.volunteer
                else None
            ),
            "shift_id": self.shift.id if self.shift else None,
            "checked_in_at": att.checked_in_at.isoformat() + "Z" if att else None,
            "checked_out_at": (
                att.checked_out_at.isoformat() + "Z" if att and att.checked_out_at else None
            ),
        }


# ---------------------------------------------------------------- who and when


def leads_shift(user: User, shift: Shift) -> bool:
    """Assigned leads of the shift, and organisers of the event's host, run its check-in."""
    if any(lead.user_id == user.id for lead in shift.leads):
        return True
    return covers(user, shift.event.host, [Role.ORGANISER])


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
    return [s for s in candidates if is_open(s, now) and leads_shift(user, s)]


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

_REFUSALS = {
    "malformed": _l("This is not a volunteer code of this platform."),
    "tampered": _l("This code is not genuine."),
    "expired": _l("This code has expired: ask the volunteer to open “My QR code” again."),
    "not_current": _l(
        "This code was not current at the time the offline scan gives: a photo of an old "
        "code is not accepted."
    ),
    "online_since": _l(
        "This offline scan is dated before your scanner was last online, so it would have "
        "been sent then: a code shown later from a photo is not accepted. If the volunteer "
        "is here, check them in from the list."
    ),
    "revoked": _l("This card has been revoked."),
    "unknown": _l("No volunteer has this code."),
    "not_lead": _l("You do not lead this shift."),
    "no_open_shift": _l("None of your shifts is open for check-in now."),
    "window_closed": _l("Check-in for this shift is not open now."),
    "not_signed_up": _l("%(name)s is not signed up for this shift."),
    "waitlisted": _l("%(name)s is on the waitlist, not confirmed for this shift."),
    "already_in": _l("%(name)s checked in at %(time)s already."),
    "already_out": _l("%(name)s checked out at %(time)s already."),
    "site_code": _l("This is a site code: volunteers scan it with their own phone."),
    "device_revoked": _l(
        "This phone’s code has been switched off: ask the volunteer to open “My QR code” "
        "with a connection, or use their card."
    ),
    "code_used": _l(
        "This code has been used for this shift already: ask the volunteer to show the "
        "current one."
    ),
    "volunteer_code": _l("This is a volunteer's code: the lead scans it."),
}


def _hm(moment: datetime | None) -> str:
    return to_local(moment).strftime("%H:%M") if moment else ""


def _result(code: str, *, ok: bool = False, **kwargs) -> ScanResult:
    name = kwargs.get("volunteer").display_name if kwargs.get("volunteer") else ""
    att = kwargs.get("attendance")
    if code == "checked_in":
        message = str(
            _l("%(name)s checked in at %(time)s.", name=name, time=_hm(att.checked_in_at))
        )
    elif code == "checked_out":
        message = str(
            _l("%(name)s checked out at %(time)s.", name=name, time=_hm(att.checked_out_at))
        )
    else:
        time = (
            _hm(att.checked_out_at if code == "already_out" else att.checked_in_at) if att else ""
        )
        message = str(_REFUSALS[code] % {"name": name, "time": time})
    return ScanResult(ok=ok, code=code, message=message, **kwargs)


#: The number printed on a card (VolunteerCard.number), typed or read by a handheld scanner.
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


def _active_signup(shift: Shift, volunteer: User) -> Signup | None:
    return db.session.scalar(
        select(Signup).where(
            Signup.shift_id == shift.id,
            Signup.user_id == volunteer.id,
            Signup.status != SignupStatus.CANCELLED,
        )
    )


def _apply(
    actor: User,
    shift: Shift,
    volunteer: User,
    moment: datetime,
    method: ScanMethod,
    policy: Policy,
) -> ScanResult:
    """Check the volunteer in or out of the shift at `moment`."""
    if not is_open(shift, moment):
        return _result("window_closed", volunteer=volunteer, shift=shift)
    _hold_shift(shift.id)
    signup = _active_signup(shift, volunteer)
    if signup is None:
        return _result("not_signed_up", volunteer=volunteer, shift=shift)
    if signup.status is SignupStatus.WAITLISTED:
        return _result("waitlisted", volunteer=volunteer, shift=shift)
    attendance = db.session.scalar(select(Attendance).where(Attendance.signup_id == signup.id))
    if attendance is None:
        attendance = Attendance(
            signup_id=signup.id,
            shift_id=shift.id,
            user_id=volunteer.id,
            checked_in_at=moment,
            in_method=method,
            in_by_id=actor.id,
        )
        try:
            with db.session.begin_nested():
                db.session.add(attendance)
                db.session.flush()
        except IntegrityError:
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


def _hold_shift(shift_id: int) -> None:
    """The shift row before its sign-ups (PostgreSQL; held already by a write on SQLite)."""
    db.session.execute(select(Shift.id).where(Shift.id == shift_id).with_for_update())


def _log(
    result: ScanResult,
    *,
    actor: User | None,
    nonce: str | None,
    method: ScanMethod,
    now: datetime,
    scanned_at: datetime | None,
) -> None:
    db.session.add(
        ScanLog(
            at=now,
            scanned_at=scanned_at,
            shift_id=result.shift.id if result.shift else None,
            lead_id=actor.id if actor else None,
            volunteer_id=result.volunteer.id if result.volunteer else None,
            nonce=nonce,
            method=method.value,
            action=result.action,
            ok=result.ok,
            code=result.code,
            message=result.message[:300],
        )
    )
    db.session.flush()


def _replay(nonce: str) -> ScanResult | None:
    row = db.session.scalar(select(ScanLog).where(ScanLog.nonce == nonce))
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
) -> ScanResult:
    """Process one scan by a lead: a volunteer's code (or a roster pick by sign-up id), for a
    given shift or for whichever of the lead's open shifts the volunteer is signed up for.
    Every scan is logged with its outcome; a repeated nonce returns the first outcome."""
    policy = policy or Policy()
    nonce = (nonce or "")[:64] or None
    if nonce:
        earlier = _replay(nonce)
        if earlier is not None:
            return earlier
    moment = effective_time(now, scanned_at)
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
    if shift is not None and not leads_shift(actor, shift):
        return _result("not_lead", shift=shift)
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
        volunteer, problem = volunteer_for(token or "", now)
        if volunteer is None:
            return _result(problem, shift=shift)
    if shift is not None:
        if _code_used(token, moment, shift):
            return _result("code_used", volunteer=volunteer, shift=shift)
        return _apply(actor, shift, volunteer, moment, method, policy)
    open_shifts = open_shifts_led_by(actor, moment)
    if not open_shifts:
        return _result("no_open_shift", volunteer=volunteer)
    for candidate in open_shifts:
        if _active_signup(candidate, volunteer) is not None:
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


def self_scan(
    volunteer: User, token: str, *, now: datetime, policy: Policy | None = None
) -> ScanResult:
    """A volunteer scans the site code shown (or printed) at the site."""
    policy = policy or Policy()
    decoded = qr.decode(token, now)
    if decoded.problem:
        result = _result(decoded.problem, volunteer=volunteer)
    elif decoded.kind not in ("site", "printed_site"):
        result = _result("volunteer_code", volunteer=volunteer)
    else:
        shift = db.session.get(Shift, decoded.ident)
        if shift is None:
            result = _result("unknown", volunteer=volunteer)
        else:
            result = _apply(volunteer, shift, volunteer, now, ScanMethod.SELF_SCAN, policy)
    _log(result, actor=volunteer, nonce=None, method=ScanMethod.SELF_SCAN, now=now, scanned_at=None)
    return result


def sync(
    actor: User, shift: Shift, scans: list[dict], *, now: datetime, policy: Policy | None = None
) -> list[dict]:
    """Apply a batch of queued scans; one answer per scan (in the batch's order), each
    applied once. The scans are applied in sign-up order (a volunteer's own scans in the
    order they were made), so that two batches lock the same rows in the same order."""
    scans = scans[:500]
    answers: list[dict] = [{} for _ in scans]
    keys = _signup_keys(shift, scans, now)
    order = sorted(
        range(len(scans)),
        key=lambda i: (keys[i], _scan_ms(scans[i].get("scanned_at")), i),
    )
    for index in order:
        item = scans[index]
        nonce = str(item.get("nonce") or "")[:64]
        if not nonce:
            answers[index] = {
                "nonce": None,
                "ok": False,
                "code": "bad_request",
                "message": str(_l("Each scan needs a nonce.")),
            }
            continue
        scanned_at = _parse_time(item.get("scanned_at"))
        token = item.get("token")
        signup_id = item.get("signup_id")
        method = ScanMethod.OFFLINE if item.get("offline") else ScanMethod.SCANNER
        if signup_id is not None:
            method = ScanMethod.MANUAL
        try:
            signup_id = int(signup_id) if signup_id is not None else None
        except (TypeError, ValueError, OverflowError):
            signup_id = None
        result = scan(
            actor,
            now=now,
            token=str(token) if token else None,
            signup_id=signup_id,
            shift=shift,
            method=method,
            nonce=nonce,
            scanned_at=scanned_at,
            policy=policy,
        )
        answers[index] = {"nonce": nonce, **result.as_json()}
    return answers


def _scan_ms(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _signup_keys(shift: Shift, scans: list[dict], now: datetime) -> list[int]:
    """The sign-up id each scan would touch (0 when it names none): read, not locked."""
    user_of: list[int | None] = []
    cards: set[int] = set()
    decoded = []
    for item in scans:
        token = item.get("token")
        code = qr.decode(str(token), now) if token and not item.get("signup_id") else None
        decoded.append(code)
        if code is not None and code.kind == "card":
            cards.add(code.ident)
    card_users = (
        dict(
            db.session.execute(
                select(VolunteerCard.id, VolunteerCard.user_id).where(VolunteerCard.id.in_(cards))
            ).all()
        )
        if cards
        else {}
    )
    for code in decoded:
        if code is None or code.kind not in ("volunteer", "card"):
            user_of.append(None)
        else:
            user_of.append(code.ident if code.kind == "volunteer" else card_users.get(code.ident))
    users = {u for u in user_of if u is not None}
    signup_of = (
        dict(
            db.session.execute(
                select(Signup.user_id, Signup.id).where(
                    Signup.shift_id == shift.id,
                    Signup.user_id.in_(users),
                    Signup.status != SignupStatus.CANCELLED,
                )
            ).all()
        )
        if users
        else {}
    )
    keys = []
    for item, user in zip(scans, user_of, strict=True):
        given = item.get("signup_id")
        if given is not None:
            try:
                keys.append(max(int(given), 0))
            except (TypeError, ValueError, OverflowError):
                keys.append(0)
        else:
            keys.append(signup_of.get(user, 0) if user is not None else 0)
    return keys


def _parse_time(value: object) -> datetime | None:
    """Epoch milliseconds (what the scanner page sends) to naive UTC."""
    if isinstance(value, (int, float)) and 0 < value < 10**14:
        return datetime.utcfromtimestamp(value / 1000)
    return None


# ---------------------------------------------------------------- the lead's other tools


def walk_in(
    actor: User, shift: Shift, volunteer: User, *, now: datetime, policy: Policy | None = None
) -> ScanResult:
    """A volunteer who did not sign up is added on the spot (past the capacity if need be,
    marked) and checked in."""
    from ..signups import organiser_add

    if not leads_shift(actor, shift):
        raise ServiceError(_l("You do not lead this shift."))
    from .volunteers import is_complete

    profile = db.session.get(VolunteerProfile, volunteer.id)
    if not is_complete(profile, to_local(now).date()):
        raise ServiceError(_l("No volunteer with a complete profile has this number."))
    if _active_signup(shift, volunteer) is None:
        signup = organiser_add(actor, shift, volunteer, now=now, reason="walk-in")
        signup.source = "walk_in"
    return scan(
        actor,
        now=now,
        signup_id=_active_signup(shift, volunteer).id,
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
    if not leads_shift(actor, attendance.shift):
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


def counts(shift: Shift) -> dict[str, int]:
    """Expected, in, out and missing for the scanner page's live counts (one row)."""
    expected, checked_in, checked_out = db.session.execute(
        select(
            func.count(Signup.id),
            func.count(Attendance.id) - func.count(Attendance.checked_out_at),
            func.count(Attendance.checked_out_at),
        )
        .select_from(Signup)
        .outerjoin(Attendance, Attendance.signup_id == Signup.id)
        .where(
            Signup.shift_id == shift.id,
            Signup.status.in_([SignupStatus.CONFIRMED, SignupStatus.ATTENDED]),
        )
    ).one()
    return {
        "expected": int(expected),
        "in": int(checked_in),
        "out": int(checked_out),
        "missing": int(expected) - int(checked_in) - int(checked_out),
    }
