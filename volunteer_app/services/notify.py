"""The notification layer: messages go into the outbox, channels deliver them.

Services enqueue (in the caller's transaction); delivery happens after the commit, by the
caller for urgent messages (SMS codes) and by the scheduler's outbox job for the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Channel, Notification, User
from ..timeutil import utcnow
from . import channels

log = logging.getLogger("volunteer_app.notify")


def _sms_code(p: dict) -> str:
    return _(
        "[Volunteers First] Your verification code is %(code)s. It is valid for 5 minutes. "
        "If you did not ask for it, ignore this message.",
        code=p["code"],
    )


def _sms_already_registered(_p: dict) -> str:
    return _(
        "[Volunteers First] Someone tried to register with this number, which already has an "
        "account. Log in, or use 'Forgot password' to set a new password."
    )


def _sms_not_registered(_p: dict) -> str:
    return _(
        "[Volunteers First] A password reset was asked for this number, which has no account. "
        "You can register with it."
    )


def _invitation(p: dict) -> str:
    return _(
        "[Volunteers First] %(org)s has registered you as a volunteer. Set your password at "
        "%(url)s with this phone number.",
        org=p["org"],
        url=p["url"],
    )


def _team_answer(p: dict) -> str:
    if p["approved"]:
        return _("Your request to join %(team)s was approved.", team=p["team"])
    return _("Your request to join %(team)s was declined.", team=p["team"])


def _signup_promoted(p: dict) -> str:
    return _(
        "A place became free: you are now confirmed for %(post)s of %(event)s at %(time)s.",
        post=p["post"],
        event=p["event"],
        time=p["time"],
    )


def _signup_removed(p: dict) -> str:
    return _(
        "The organiser removed your sign-up for %(post)s of %(event)s. %(reason)s",
        post=p["post"],
        event=p["event"],
        reason=p.get("reason", ""),
    ).strip()


def _event_cancelled(p: dict) -> str:
    return _(
        "%(event)s on %(time)s has been cancelled. %(reason)s",
        event=p["event"],
        time=p["time"],
        reason=p.get("reason", ""),
    ).strip()


def _shift_cancelled(p: dict) -> str:
    return _(
        "The shift %(post)s of %(event)s on %(time)s has been cancelled. %(reason)s",
        post=p["post"],
        event=p["event"],
        time=p["time"],
        reason=p.get("reason", ""),
    ).strip()


def _shift_changed(p: dict) -> str:
    return _(
        "The time of %(post)s of %(event)s has changed: now %(time)s. If you cannot come, "
        "please cancel in “My shifts”.",
        post=p["post"],
        event=p["event"],
        time=p["time"],
    )


#: template name -> renderer(payload) -> text, called in the recipient's language.
TEMPLATES: dict[str, Callable[[dict], str]] = {
    "sms_code": _sms_code,
    "sms_already_registered": _sms_already_registered,
    "sms_not_registered": _sms_not_registered,
    "invitation": _invitation,
    "team_answer": _team_answer,
    "signup_promoted": _signup_promoted,
    "signup_removed": _signup_removed,
    "event_cancelled": _event_cancelled,
    "shift_cancelled": _shift_cancelled,
    "shift_changed": _shift_changed,
}


def render(template: str, payload: dict, locale: str) -> str:
    """The message text in the given language."""
    with force_locale(locale):
        return TEMPLATES[template](payload)


def enqueue(
    template: str,
    *,
    channel: Channel,
    user: User | None = None,
    address: str | None = None,
    payload: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
    locale: str | None = None,
) -> Notification:
    """Add a message to the outbox in the caller's transaction."""
    payload = payload or {}
    locale = locale or (user.locale if user and user.locale else None) or "zh"
    row = Notification(
        user_id=user.id if user else None,
        address=address,
        channel=channel,
        template=template,
        payload=payload,
        body=render(template, payload, locale),
        dedupe_key=dedupe_key,
        not_before=not_before or utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    return row


# ---------------------------------------------------------------- fan-out


def _queued_keys(keys: list[str]) -> set[str]:
    """Those of the dedupe keys already in the outbox."""
    found = db.session.scalars(
        select(Notification.dedupe_key).where(Notification.dedupe_key.in_(keys))
    )
    return {key for key in found if key}


def fan_out(
    template: str,
    user: User,
    payload: dict[str, Any],
    *,
    dedupe_key: str,
    now: datetime,
    urgent: bool = False,
) -> list[Notification]:
    """One logical message to a user on every channel they chose, in the caller's
    transaction: always in-app; SMS if they take SMS and have a phone (held until their
    quiet hours end unless `urgent`); e-mail if they take e-mail and gave an address.

    Each row's dedupe key is f"{dedupe_key}:{channel}"; a key already in the outbox is
    skipped, so calling again creates nothing. Returns the rows created. Accounts that
    were deleted get nothing.
    """
    if user.deleted_at is not None:
        return []
    wanted: list[tuple[Channel, datetime]] = [(Channel.IN_APP, now)]
    if user.notify_sms and user.phone:
        held = channels.quiet_until(user, now, urgent=urgent)
        wanted.append((Channel.SMS, held or now))
    if user.notify_email and user.email:
        wanted.append((Channel.EMAIL, now))
    keys = {channel: f"{dedupe_key}:{channel.value}" for channel, _when in wanted}
    existing = _queued_keys(list(keys.values()))
    created: list[Notification] = []
    for channel, when in wanted:
        if keys[channel] in existing:
            continue
        try:
            with db.session.begin_nested():  # a concurrent twin must not undo the caller
                row = enqueue(
                    template,
                    channel=channel,
                    user=user,
                    payload=payload,
                    dedupe_key=keys[channel],
                    not_before=when,
                )
        except IntegrityError:
            log.info("notification %s already queued", keys[channel])
            continue
        created.append(row)
    return created


# ---------------------------------------------------------------- channels


def _deliver_in_app(row: Notification) -> None:
    """In-app messages are delivered by being in the table; the centre shows them."""


#: Channel -> adapter(row); the contract is in services/channels.py.
ADAPTERS: dict[Channel, Callable[[Notification], None]] = {
    Channel.IN_APP: _deliver_in_app,
    Channel.SMS: channels.deliver_sms,
    Channel.EMAIL: channels.deliver_email,
}


def deliver(ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Send the given outbox rows now (after the commit that made them); returns how many
    went out. Failures stay in the outbox with their error for the retry job."""
    sent = 0
    now = now or utcnow()
    ids = list(ids)
    if not ids:
        return 0
    rows = db.session.scalars(
        select(Notification).where(Notification.id.in_(ids), Notification.sent_at.is_(None))
    ).all()
    for row in rows:
        row.attempts += 1
        try:
            ADAPTERS[row.channel](row)
        except Exception as error:
            row.last_error = str(error)[:500]
            current_app.logger.warning("delivery of notification %s failed: %s", row.id, error)
        else:
            row.sent_at = now
            sent += 1
    db.session.commit()
    return sent
