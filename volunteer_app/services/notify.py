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
from sqlalchemy import Row, func, select

from ..extensions import db
from ..i18n import locale_object
from ..models import Channel, DeliveryStatus, Notification, User
from ..timeutil import from_local, to_local, utcnow
from . import channels, sms_backends, sms_templates
from .database import insert_skipping
from .notify_templates import TEMPLATES

log = logging.getLogger("volunteer_app.notify")


def render(template: str, payload: dict, locale: str) -> str:
    """The message text in the given language, ending with its link if it has one."""
    with force_locale(locale_object(locale)):
        text = TEMPLATES[template](payload)
    url = payload.get("url")
    if url and url not in text:
        text = f"{text} {url}"
    return text


def render_sms(template: str, payload: dict, locale: str) -> str:
    """The SMS as the phone shows it: 【signature】 and the approved template's text with
    the values in (in Chinese, as filed with the provider); a message without a template
    (an organiser's own text) is its rendered text, signed."""
    entry = sms_templates.get(template)
    if entry is None:
        text = render(template, payload, locale)
    else:
        text = sms_templates.fill(entry, sms_templates.params(entry, payload))
    return sms_templates.signed(channels.sign_name(), text)


def link(path: str) -> str:
    """An absolute link for a message: PUBLIC_BASE_URL (the site as users reach it; the
    scheduler process gets it too) followed by the path."""
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").strip().rstrip("/")
    return f"{base}{path}"


def _row_values(
    template: str,
    *,
    channel: Channel,
    user_id: int | None,
    payload: dict[str, Any],
    dedupe_key: str | None,
    not_before: datetime,
    locale: str,
    address: str | None = None,
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "address": address,
        "channel": channel,
        "template": template,
        "payload": payload,
        "body": (
            render_sms(template, payload, locale)
            if channel is Channel.SMS
            else render(template, payload, locale)
        ),
        "dedupe_key": dedupe_key,
        "not_before": not_before,
    }


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
        body=(
            render_sms(template, payload, locale)
            if channel is Channel.SMS
            else render(template, payload, locale)
        ),
        dedupe_key=dedupe_key,
        not_before=not_before or utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    return row


def unread_count(user: User) -> int:
    """The user's unread in-app notifications (the badge on every page)."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.user_id == user.id,
                Notification.channel == Channel.IN_APP,
                Notification.read_at.is_(None),
            )
        )
        or 0
    )


# ---------------------------------------------------------------- fan-out


def fan_out(
    template: str,
    user: User,
    payload: dict[str, Any],
    *,
    dedupe_key: str,
    now: datetime,
    urgent: bool = False,
    starts_at: datetime | None = None,
) -> list[Row]:
    """One logical message to a user on every channel they chose, in the caller's
    transaction: always in-app; SMS if they take SMS and have a phone (held until their
    quiet hours end unless `urgent`, or unless it is about a shift starting at `starts_at`,
    before the quiet hours end: see channels.sms_send_at); e-mail if they take e-mail and
    gave an address. A message without an SMS template (free text) goes by SMS only where
    the provider allows free text.

    Each row's dedupe key is f"{dedupe_key}:{channel}"; a key already in the outbox is
    skipped, so calling again creates nothing. Returns the rows created, as plain rows of
    (id, channel, body, dedupe_key, not_before): callers count them, none changes them.
    Accounts that were deleted get nothing.
    """
    if user.deleted_at is not None:
        return []
    wanted: list[tuple[Channel, datetime]] = [(Channel.IN_APP, now)]
    config = current_app.config
    sms_ok = sms_templates.get(template) is not None or sms_backends.allows_free_text(config)
    if user.notify_sms and user.phone and sms_ok:
        when = channels.sms_send_at(
            user,
            now,
            urgent=urgent,
            starts_at=starts_at if starts_at is not None and starts_at >= now else None,
            override=bool(config.get("NOTIFY_URGENT_OVERRIDES_QUIET", True)),
        )
        wanted.append((Channel.SMS, when))
    if user.notify_email and user.email:
        wanted.append((Channel.EMAIL, now))
    # One INSERT for every channel; a key already in the outbox (an earlier call, or a
    # concurrent twin) is skipped by the database and not returned.
    locale = user.locale or "zh"
    rows = [
        _row_values(
            template,
            channel=channel,
            user_id=user.id,
            payload=payload,
            dedupe_key=f"{dedupe_key}:{channel.value}",
            not_before=when,
            locale=locale,
        )
        for channel, when in wanted
    ]
    statement = insert_skipping(
        Notification.__table__, "dedupe_key", "id", "channel", "body", "dedupe_key", "not_before"
    )
    return list(db.session.execute(statement, rows))


# ---------------------------------------------------------------- channels


def _deliver_in_app(row: Notification) -> None:
    """In-app messages are delivered by being in the table; the centre shows them."""


#: Channel -> adapter(row) -> provider reference or None; the contract is in
#: services/channels.py.
ADAPTERS: dict[Channel, Callable[[Notification], str | None]] = {
    Channel.IN_APP: _deliver_in_app,
    Channel.SMS: channels.deliver_sms,
    Channel.EMAIL: channels.deliver_email,
}


def _sms_cap_reached(row: Notification, phone: str, now: datetime) -> bool:
    """True when the phone already got SMS_DAILY_CAP capped messages today (local day)."""
    entry = sms_templates.get(row.template)
    cap = int(current_app.config.get("SMS_DAILY_CAP") or 0)
    if cap <= 0 or (entry is not None and not entry.capped):
        return False
    day_start = from_local(
        to_local(now).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    )
    uncapped = [t.key for t in sms_templates.TEMPLATES.values() if not t.capped]
    sent_today = db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(
            Notification.channel == Channel.SMS,
            Notification.sent_to == phone,
            Notification.sent_at >= day_start,
            Notification.template.not_in(uncapped),
        )
    )
    return int(sent_today or 0) >= cap


def _address(row: Notification) -> str | None:
    if row.channel is Channel.SMS:
        return channels.phone_number(row)
    if row.channel is Channel.EMAIL:
        return channels.email_address(row)
    return None


def _attempt(row: Notification, now: datetime) -> bool:
    """Try one row once and record the outcome on it; True when it went out."""
    row.attempts += 1
    row.sent_to = _address(row) or row.sent_to
    try:
        if row.channel is Channel.SMS and row.sent_to and _sms_cap_reached(row, row.sent_to, now):
            cap = current_app.config.get("SMS_DAILY_CAP")
            raise channels.PermanentDeliveryError(
                f"Daily SMS cap reached: {row.sent_to} already received {cap} messages today."
            )
        reference = ADAPTERS[row.channel](row)
    except Exception as error:
        row.last_error = str(error)[:500] or type(error).__name__
        current_app.logger.warning("delivery of notification %s failed: %s", row.id, error)
        permanent = isinstance(error, channels.PermanentDeliveryError)
        if permanent or row.attempts >= channels.MAX_ATTEMPTS:
            row.status = DeliveryStatus.FAILED
        else:
            row.status = DeliveryStatus.RETRYING
            row.not_before = channels.next_attempt(row.attempts, now)
        return False
    row.sent_at = now
    row.status = DeliveryStatus.SENT
    if isinstance(reference, str) and reference:
        row.provider_ref = reference[:64]
    return True


def deliver(ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Send the given outbox rows now (after the commit that made them); returns how many
    went out. Each outcome is kept on its row (sent; or retrying, with the back-off in
    not_before; or failed for good) and flushed: the caller commits, at once, so that what
    went out is not sent again."""
    sent = 0
    now = now or utcnow()
    ids = list(ids)
    if not ids:
        return 0
    rows = db.session.scalars(
        select(Notification)
        .where(
            Notification.id.in_(ids),
            Notification.sent_at.is_(None),
            Notification.status != DeliveryStatus.FAILED,
        )
        .order_by(Notification.id)
    ).all()
    for row in rows:
        if _attempt(row, now):
            sent += 1
        db.session.flush()  # the daily cap counts what this batch has sent
    return sent
