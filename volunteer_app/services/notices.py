"""What each event in a volunteer's sign-ups and hours tells them, on every channel they
chose: one function per event, called (one line) where the event happens, in the caller's
transaction.

Every notice goes through notify.fan_out (in-app always, SMS and e-mail by preference,
quiet hours kept unless the shift starts before they end), carries an absolute link, and
has a dedupe key per event, recipient and kind, so a retried request or job tells nobody
twice. The table of event -> template -> channels is in docs/notifications.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import (
    CorrectionRequest,
    Event,
    RecordKind,
    RecordStatus,
    ServiceRecord,
    Shift,
    Signup,
)
from ..timeutil import to_local, utcnow
from . import notify


def _time(moment: datetime | None) -> str:
    return to_local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def _shift_payload(shift: Shift, **extra) -> dict:
    return {
        "event": shift.event.title,
        "post": shift.post,
        "time": _time(shift.starts_at),
        "place": shift.event.address,
        "url": notify.link(f"/events/{shift.event_id}#shift-{shift.id}"),
        **extra,
    }


def _tell(template: str, signup: Signup, payload: dict, key: str, now: datetime) -> int:
    shift = signup.shift
    rows = notify.fan_out(
        template, signup.user, payload, dedupe_key=key, now=now, starts_at=shift.starts_at
    )
    return len(rows)


def signed_up(signup: Signup, position: int | None, *, now: datetime) -> int:
    """The confirmation after a sign-up: a place, or the waitlist with its number."""
    shift = signup.shift
    if position is None:
        payload = _shift_payload(shift, url=notify.link("/my/shifts"))
        return _tell("signup_confirmed", signup, payload, f"signup:{signup.id}:confirmed", now)
    payload = _shift_payload(shift, position=position, url=notify.link("/my/shifts"))
    return _tell("signup_waitlisted", signup, payload, f"signup:{signup.id}:waitlisted", now)


def promoted(signup: Signup, *, now: datetime) -> int:
    """A place became free and the first on the waitlist has it."""
    payload = _shift_payload(signup.shift, url=notify.link("/my/shifts"))
    return _tell("signup_promoted", signup, payload, f"promoted:{signup.id}", now)


def removed(signup: Signup, reason: str | None, *, now: datetime) -> int:
    """An organiser took the volunteer off a shift."""
    payload = _shift_payload(signup.shift, reason=(reason or "").strip())
    return _tell("signup_removed", signup, payload, f"removed:{signup.id}", now)


def cancelled(signup: Signup, template: str, reason: str, *, now: datetime) -> int:
    """The organiser cancelled the shift ("shift_cancelled") or the whole event
    ("event_cancelled")."""
    payload = _shift_payload(signup.shift, reason=reason.strip())
    return _tell(template, signup, payload, f"{template}:{signup.id}", now)


def shift_moved(signups: Iterable[Signup], shift: Shift, *, now: datetime) -> int:
    """The shift's time changed; a later change is a new message."""
    stamp = f"{shift.starts_at:%Y%m%d%H%M}-{shift.ends_at:%Y%m%d%H%M}"
    count = 0
    for signup in signups:
        payload = _shift_payload(shift, url=notify.link("/my/shifts"))
        count += _tell("shift_changed", signup, payload, f"changed:{signup.id}:{stamp}", now)
    return count


def place_changed(event: Event, old_address: str, *, now: datetime | None = None) -> int:
    """The event's place changed: everyone signed up for a shift still to come is told
    (nothing when the address is the same)."""
    from ..signups.queries import ACTIVE

    if (event.address or "").strip() == (old_address or "").strip():
        return 0
    now = now or utcnow()
    digest = hashlib.sha1(event.address.encode(), usedforsecurity=False).hexdigest()[:10]
    live = [shift.id for shift in event.shifts if not shift.cancelled and shift.ends_at > now]
    rows = db.session.scalars(
        select(Signup)
        .where(Signup.shift_id.in_(live), Signup.status.in_(ACTIVE))
        .order_by(Signup.id)
    )
    count = 0
    for signup in rows:
        payload = _shift_payload(signup.shift, url=notify.link("/my/shifts"))
        count += _tell("place_changed", signup, payload, f"place:{signup.id}:{digest}", now)
    return count


def waitlist_expired(signup: Signup, *, now: datetime) -> int:
    """The shift started and the volunteer was still waiting."""
    payload = _shift_payload(signup.shift, url=notify.link("/events"))
    return _tell("waitlist_expired", signup, payload, f"waitlist-expired:{signup.id}", now)


def no_shows_marked(signups: Iterable[Signup], *, now: datetime) -> int:
    """Those of the volunteers just marked absent whom the no-show rule now holds to the
    waitlist are told until when (once per hold)."""
    from ..signups.queries import HoldPolicy, no_show_hold_until

    config = current_app.config
    policy = HoldPolicy(
        no_shows=config["NOSHOW_HOLD_COUNT"],
        within_days=config["NOSHOW_HOLD_WITHIN_DAYS"],
        hold_days=config["NOSHOW_HOLD_DAYS"],
    )
    count = 0
    for user in {signup.user_id: signup.user for signup in signups}.values():
        until = no_show_hold_until(user, now, policy)
        if until is None:
            continue
        payload = {"until": f"{to_local(until):%Y-%m-%d}", "url": notify.link("/my/shifts")}
        key = f"noshow-hold:{user.id}:{until:%Y%m%d}"
        count += len(notify.fan_out("noshow_hold", user, payload, dedupe_key=key, now=now))
    return count


def correction_answered(item: CorrectionRequest, *, now: datetime) -> int:
    """An organiser answered the volunteer's correction request."""
    payload = {
        "activity": item.record.activity if item.record else "",
        "answer": (item.answer or "").strip(),
        "url": notify.link("/my/hours"),
    }
    key = f"correction-answer:{item.id}"
    return len(notify.fan_out("correction_answered", item.user, payload, dedupe_key=key, now=now))


def record_decided(record: ServiceRecord, *, now: datetime) -> int:
    """A correction to the volunteer's hours was approved or rejected (decisions on
    ordinary records are not messages: the hours page shows them)."""
    if record.kind is not RecordKind.CORRECTION or record.status is RecordStatus.PENDING:
        return 0
    user = record.user
    approved = record.status is RecordStatus.APPROVED
    payload = {
        "activity": record.activity,
        "minutes": f"{record.minutes:+d}",
        "approved": approved,
        "url": notify.link("/my/hours"),
    }
    key = f"correction:{record.id}:{record.status.value}"
    return len(notify.fan_out("correction_decided", user, payload, dedupe_key=key, now=now))
