"""What a scan answers: the policy knobs, the result of one scan, and the refusal texts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l

from ..models import (
    Attendance,
    Shift,
    User,
)
from ..timeutil import to_local

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

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Policy:
        """The policy the installation is configured with (CHECKOUT_MIN_MINUTES,
        CREDIT_GRACE_MINUTES)."""
        return cls(
            min_checkout_minutes=config["CHECKOUT_MIN_MINUTES"],
            grace_minutes=config["CREDIT_GRACE_MINUTES"],
        )


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
    #: The shift's live counts just after this scan, when they were read with it (a
    #: scanner request of one scan: checkin.scans._log); None otherwise.
    counts: dict[str, int] | None = None

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
        "This code has been used for this shift already: ask the volunteer to show the current one."
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
