"""Organisers message the volunteers signed up for a shift or an event.

A message goes out through services.notify.fan_out: in-app always, SMS and e-mail as each
volunteer chose; by SMS only where the provider takes free text (Aliyun sends approved
templates only: the preview says so). Its id (made when the organiser previews it) is
part of every outbox key, so sending the same message twice reaches nobody twice. What
was sent is kept in the audit log ("message.send", detail {text, scope, count}); how each
copy fared is each outbox row's delivery status (`deliveries`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, func, or_, select

from ..extensions import db
from ..models import (
    AuditLog,
    Channel,
    DeliveryStatus,
    Event,
    Notification,
    OrgUnit,
    Role,
    Shift,
    Signup,
    SignupStatus,
    User,
)
from ..timeutil import to_local
from . import ServiceError, audit, notify, sms_backends
from .scope import covers, path_filter

#: Its text is in services/notify_templates.py.
TEMPLATE = "organiser_message"
ACTION = "message.send"
#: Longest message an organiser may write (an SMS body stays within the outbox's 1000).
MAX_LENGTH = 300
#: Who receives a message: everyone signed up and not cancelled, waitlist included, and
#: those already checked in (a message during the shift); not those marked absent.
RECIPIENT_STATUSES = (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED, SignupStatus.ATTENDED)
_MESSAGE_ID = re.compile(r"^[0-9a-f]{16,32}$")


@dataclass(frozen=True)
class Audience:
    """Who a message goes to: the volunteers of one shift, or of every shift of an event."""

    event: Event
    shift: Shift | None = None

    @property
    def kind(self) -> str:
        return "shift" if self.shift is not None else "event"

    def scope(self) -> dict:
        when = self.shift.starts_at if self.shift is not None else self.event.starts_at
        return {
            "kind": self.kind,
            "event_id": self.event.id,
            "shift_id": self.shift.id if self.shift is not None else None,
            "event": self.event.title,
            "post": self.shift.post if self.shift is not None else "",
            "starts_at": to_local(when).strftime("%Y-%m-%d %H:%M") if when else "",
        }

    def signups(self):
        """The condition on Signup for this audience's recipients."""
        if self.shift is not None:
            where = Signup.shift_id == self.shift.id
        else:
            where = Signup.shift_id.in_(select(Shift.id).where(Shift.event_id == self.event.id))
        return where & Signup.status.in_(RECIPIENT_STATUSES)


def new_message_id() -> str:
    """The id a message keeps from its preview to its sending."""
    return secrets.token_hex(8)


def valid_id(message_id: str | None) -> bool:
    return bool(_MESSAGE_ID.match(message_id or ""))


def recipients(audience: Audience) -> list[User]:
    """Each volunteer once, even when signed up for several shifts of the event."""
    ids = select(Signup.user_id).where(audience.signups())
    return list(
        db.session.scalars(
            select(User)
            .where(User.id.in_(ids), User.deleted_at.is_(None), User.active.is_(True))
            .order_by(User.id)
        )
    )


def recipient_count(audience: Audience) -> int:
    ids = select(Signup.user_id).where(audience.signups())
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.id.in_(ids), User.deleted_at.is_(None), User.active.is_(True))
        )
        or 0
    )


def payload(audience: Audience, text: str) -> dict:
    return {
        "org": audience.event.host.name,
        "event": audience.event.title,
        "post": audience.shift.post if audience.shift is not None else "",
        "text": text.strip(),
        "url": notify.link(f"/events/{audience.event.id}"),
    }


def preview(audience: Audience, text: str, locale: str) -> str:
    """The message as a volunteer reading `locale` will see it."""
    return notify.render(TEMPLATE, payload(audience, text), locale)


def sms_refusal() -> str | None:
    """Why this message cannot go by SMS with the configured provider (shown with the
    preview), or None when it can."""
    return sms_backends.free_text_refusal(current_app.config)


def problems(actor: User, audience: Audience, text: str, message_id: str) -> list[str]:
    found = []
    if not covers(actor, audience.event.host, [Role.ORGANISER]):
        found.append(str(_l("You may not message the volunteers of this event.")))
    if not text.strip():
        found.append(str(_l("Please write the message.")))
    if len(text.strip()) > MAX_LENGTH:
        found.append(str(_l("The message is too long: at most %(n)d characters.", n=MAX_LENGTH)))
    if not valid_id(message_id):
        found.append(str(_l("Please preview the message before sending it.")))
    return found


def send(
    actor: User,
    audience: Audience,
    text: str,
    message_id: str,
    *,
    now: datetime,
    ip: str | None = None,
) -> int:
    """Queue the message for every recipient; returns how many were reached this time.
    Sending the same message id again reaches nobody twice (and is not logged again)."""
    found = problems(actor, audience, text, message_id)
    if found:
        raise ServiceError(found)
    text = text.strip()
    body = payload(audience, text)
    reached = 0
    for user in recipients(audience):
        created = notify.fan_out(
            TEMPLATE, user, body, dedupe_key=f"msg:{message_id}:{user.id}", now=now
        )
        if created:
            reached += 1
    if reached:
        audit.record(
            ACTION,
            actor=actor,
            ip=ip,
            obj=audience.event,
            text=text,
            scope=audience.scope(),
            count=reached,
            message_id=message_id,
        )
    return reached


def sent_log(actor: User):
    """The query of "message.send" audit rows for events in the actor's organiser scope,
    newest first."""
    events_in_scope = (
        select(cast(Event.id, String))
        .join(OrgUnit, OrgUnit.id == Event.host_id)
        .where(path_filter(OrgUnit.path, actor, [Role.ORGANISER]))
    )
    return (
        select(AuditLog)
        .where(
            AuditLog.action == ACTION,
            AuditLog.object_type == "Event",
            AuditLog.object_id.in_(events_in_scope),
        )
        .order_by(AuditLog.id.desc())
    )


# ---------------------------------------------------------------- delivery status

#: Status -> label, in the order the page shows them.
STATUS_LABELS = {
    DeliveryStatus.QUEUED: _l("Queued"),
    DeliveryStatus.RETRYING: _l("Retrying"),
    DeliveryStatus.SENT: _l("Sent"),
    DeliveryStatus.FAILED: _l("Failed"),
}
CHANNEL_LABELS = {
    Channel.IN_APP: _l("In the app"),
    Channel.SMS: _l("SMS"),
    Channel.EMAIL: _l("E-mail"),
}


def _prefix(message_id: str) -> str:
    return f"msg:{message_id}:"


def delivery_counts(message_ids: list[str]) -> dict[str, dict[DeliveryStatus, int]]:
    """For each message id, how many of its outbox rows are in each status."""
    ids = [m for m in message_ids if valid_id(m)]
    counts: dict[str, dict[DeliveryStatus, int]] = {m: {} for m in ids}
    if not ids:
        return counts
    rows = db.session.execute(
        select(Notification.dedupe_key, Notification.status).where(
            or_(*[Notification.dedupe_key.startswith(_prefix(m)) for m in ids])
        )
    )
    for key, status in rows:
        message_id = key.split(":", 2)[1]
        if message_id in counts:
            counts[message_id][status] = counts[message_id].get(status, 0) + 1
    return counts


@dataclass(frozen=True)
class Delivery:
    """One message to one volunteer on one channel, as the organiser sees it."""

    recipient: User | None
    channel: Channel
    status: DeliveryStatus
    attempts: int
    sent_at: datetime | None
    next_try: datetime | None
    reason: str  #: what went wrong, in the reader's language ("" when nothing did)
    provider_reason: str  #: the provider's (or server's) own words


_REASONS = (
    ("Daily SMS cap", _l("This number has had the most SMS allowed for one day.")),
    ("no phone number", _l("The volunteer has no phone number.")),
    ("no e-mail address", _l("The volunteer has no e-mail address.")),
    ("free text", _l("The SMS provider sends only approved templates.")),
    ("not configured", _l("This channel is not set up on the server.")),
    ("SMTP", _l("The mail server did not accept the message.")),
    ("Aliyun", _l("The SMS provider did not accept the message.")),
    ("SMS gateway", _l("The SMS provider did not accept the message.")),
)


def reason_of(error: str | None) -> str:
    """A failure in the reader's language; the raw reason is shown beside it."""
    if not error:
        return ""
    for marker, label in _REASONS:
        if marker.lower() in error.lower():
            return str(label)
    return str(_l("The message could not be delivered."))


def deliveries(message_id: str) -> list[Delivery]:
    """Every outbox row of one organiser message: recipient, channel, status and reason."""
    if not valid_id(message_id):
        return []
    rows = db.session.execute(
        select(Notification, User)
        .outerjoin(User, User.id == Notification.user_id)
        .where(Notification.dedupe_key.startswith(_prefix(message_id)))
        .order_by(Notification.user_id, Notification.channel)
    ).all()
    return [
        Delivery(
            recipient=user,
            channel=row.channel,
            status=row.status,
            attempts=row.attempts,
            sent_at=row.sent_at,
            next_try=row.not_before if row.status is DeliveryStatus.RETRYING else None,
            reason=reason_of(row.last_error) if row.status is not DeliveryStatus.SENT else "",
            provider_reason=(row.last_error or "") if row.status is not DeliveryStatus.SENT else "",
        )
        for row, user in rows
    ]
