"""Delivery channels for the outbox: e-mail over SMTP, SMS through a backend
(services.sms_backends: the log, an HTTP gateway, Aliyun SMS), plus the rules around them
(quiet hours, SMS splitting, retry back-off).

Adapter contract (``notify.ADAPTERS``: Channel -> callable(Notification) -> str | None)
---------------------------------------------------------------------------------------
* An adapter is called inside an app context, never inside a request; it reads
  ``current_app.config`` and may read the database (the recipient), but neither commits
  nor changes the session.
* Returning means delivered: ``notify.deliver`` sets ``sent_at``. Raising means failed:
  ``deliver`` keeps ``str(error)[:500]`` in ``last_error``. ``attempts`` is counted by
  ``deliver`` before the call.
* `DeliveryError` carries the provider's own message; `ChannelUnavailable` (a subclass)
  means the channel is not configured (no MAIL_SERVER, no SMS_GATEWAY_URL, ...), so a
  retry helps only once the configuration changes; `PermanentDeliveryError` (a subclass)
  means no retry can help, and the row is marked failed at once.
* An adapter may return the provider's reference for the message (kept in
  ``provider_ref``).
* A long SMS goes out as several requests, in order. If part k fails, the retry sends
  every part again: delivery is at least once, never silently partial.

Retry contract with the scheduler's ``deliver_outbox`` job
----------------------------------------------------------
* Due rows: status queued or retrying, ``not_before <= now``, ``attempts < MAX_ATTEMPTS``.
* ``notify.deliver(ids, now=now)`` sends them and keeps each row's status: sent; or
  retrying with ``not_before = next_attempt(row.attempts, now)`` (2, 4, 8, ... minutes
  after the attempt, at most six hours); or failed (a permanent error, or `MAX_ATTEMPTS`
  tries), with ``last_error`` for the organiser and the administrator to see.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import unicodedata
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app

from ..extensions import db
from ..models import Notification, User
from ..timeutil import from_local, to_local

log = logging.getLogger("volunteer_app.notify")

#: The e-mail subject when the message has a single line.
DEFAULT_SUBJECT = "志愿先行通知"
#: One Chinese (UCS-2) SMS holds 70 characters; a longer text is sent in parts of 67.
SMS_SINGLE_LIMIT = 70
SMS_PART_LIMIT = 67
#: A notification about a shift starting within this time ignores quiet hours.
URGENT_WITHIN = timedelta(hours=2)
#: A change to a shift starting less than this after the quiet hours end is urgent: held,
#: the SMS would come too late to act on (NOTIFY_URGENT_OVERRIDES_QUIET turns this off).
URGENT_MARGIN = timedelta(hours=2)
#: Deliveries tried per row before the outbox job gives up on it.
MAX_ATTEMPTS = 8
#: The longest wait between two tries.
MAX_BACKOFF = timedelta(hours=6)


class DeliveryError(Exception):
    """A channel could not deliver; the message is the reason (the provider's, if any)."""


class ChannelUnavailable(DeliveryError):
    """The channel is not configured on this installation."""


class PermanentDeliveryError(DeliveryError):
    """Trying again cannot help (a bad number, a template the provider refuses, the daily
    cap): the row is marked failed at once."""


# ---------------------------------------------------------------- recipients


def _recipient(row: Notification) -> User | None:
    return db.session.get(User, row.user_id) if row.user_id is not None else None


def email_address(row: Notification) -> str | None:
    """Where an e-mail goes: the row's own address, or the recipient's e-mail."""
    if row.address:
        return row.address
    user = _recipient(row)
    return user.email if user is not None and user.deleted_at is None else None


def phone_number(row: Notification) -> str | None:
    """Where an SMS goes: the row's own address, or the recipient's phone."""
    if row.address:
        return row.address
    user = _recipient(row)
    return user.phone if user is not None and user.deleted_at is None else None


# ---------------------------------------------------------------- e-mail


def email_subject_and_text(body: str) -> tuple[str, str]:
    """A multi-line message: its first line is the subject and the rest the text; a single
    line keeps the fixed subject and is the whole text."""
    first, _sep, rest = body.strip().partition("\n")
    if rest.strip() and first.strip():
        return first.strip(), rest.strip()
    return DEFAULT_SUBJECT, body.strip()


def build_email(row: Notification, to: str, sender: str) -> EmailMessage:
    subject, text = email_subject_and_text(row.body or "")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=_domain(sender))
    message.set_content(text, charset="utf-8", cte="base64")
    return message


def _domain(sender: str) -> str:
    address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    return address.rpartition("@")[2] or "localhost"


def deliver_email(row: Notification) -> None:
    """Send the row by SMTP (MAIL_* settings); raises ChannelUnavailable without a server."""
    config = current_app.config
    server = config.get("MAIL_SERVER")
    if not server:
        raise ChannelUnavailable("E-mail is not configured (MAIL_SERVER is not set).")
    use_ssl, use_tls = bool(config.get("MAIL_USE_SSL")), bool(config.get("MAIL_USE_TLS"))
    if use_ssl and use_tls:
        raise ChannelUnavailable("MAIL_USE_SSL and MAIL_USE_TLS cannot both be on.")
    to = email_address(row)
    if not to:
        raise DeliveryError(f"Notification {row.id} has no e-mail address.")
    message = build_email(row, to, config.get("MAIL_FROM") or "志愿先行 <noreply@localhost>")
    port = int(config.get("MAIL_PORT") or (465 if use_ssl else 25))
    timeout = float(config.get("MAIL_TIMEOUT") or 10)
    context = ssl.create_default_context()
    try:
        if use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(server, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(server, port, timeout=timeout)
        with smtp:
            if use_tls:
                smtp.starttls(context=context)
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
            refused = smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"SMTP {server}:{port}: {error}") from error
    if refused:
        raise DeliveryError(f"SMTP {server}:{port} refused {', '.join(refused)}")


# ---------------------------------------------------------------- SMS text


def sms_units(text: str) -> int:
    """The length an SMS is billed by: UTF-16 code units (an emoji outside the BMP is 2)."""
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def _joins_previous(char: str, previous: str) -> bool:
    """True when no break may fall between `previous` and `char` (one visible symbol)."""
    code = ord(char)
    return (
        previous == "\u200d"  # after a zero-width joiner (emoji sequences)
        or code == 0x200D
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
        or code == 0x20E3  # keycap
        or unicodedata.combining(char) != 0
    )


def _clusters(text: str) -> list[str]:
    """The text cut into pieces that must stay together (an approximation of grapheme
    clusters good enough for emoji sequences, flags and combining marks)."""
    clusters: list[str] = []
    regional_open = False  # a regional indicator waiting for its pair (a flag)
    for char in text:
        regional = 0x1F1E6 <= ord(char) <= 0x1F1FF
        if clusters and (_joins_previous(char, clusters[-1][-1]) or (regional and regional_open)):
            clusters[-1] += char
            regional_open = False
        else:
            clusters.append(char)
            regional_open = regional
    return clusters


def _chunks(clusters: list[str], limit: int) -> list[str]:
    chunks: list[str] = []
    current, size = "", 0
    for cluster in clusters:
        units = sms_units(cluster)
        if current and size + units > limit:
            chunks.append(current)
            current, size = "", 0
        if units > limit:  # a pathological "symbol" longer than a part: cut it anyway
            for char in cluster:
                if current and size + sms_units(char) > limit:
                    chunks.append(current)
                    current, size = "", 0
                current, size = current + char, size + sms_units(char)
            continue
        current, size = current + cluster, size + units
    if current:
        chunks.append(current)
    return chunks


def split_sms(text: str) -> list[str]:
    """The text as the SMS to send, in order, each at most 70 units.

    Up to 70 units: one message, unchanged. Longer: parts of at most 67 units, never
    cutting an emoji, a flag or a character from its combining marks. The parts are
    numbered "(1/3)" ... when numbering still fits in 70 units without needing more
    messages than unnumbered parts would (so 71 units -> "(1/2)" + 65 and "(2/2)" + 6,
    but 134 units -> two unnumbered parts of 67).
    """
    text = text.strip()
    if sms_units(text) <= SMS_SINGLE_LIMIT:
        return [text] if text else []
    clusters = _clusters(text)
    plain = _chunks(clusters, SMS_PART_LIMIT)
    count = len(plain)
    width = len(f"({count}/{count})")
    numbered = _chunks(clusters, SMS_SINGLE_LIMIT - width)
    if len(numbered) == count:
        return [f"({i}/{count}){part}" for i, part in enumerate(numbered, start=1)]
    return plain


# ---------------------------------------------------------------- SMS


def _template_ids() -> dict[str, str]:
    raw = current_app.config.get("SMS_TEMPLATE_IDS") or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as error:
            raise ChannelUnavailable(f"SMS_TEMPLATE_IDS is not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ChannelUnavailable("SMS_TEMPLATE_IDS must be a JSON object.")
    return {str(key): str(value) for key, value in raw.items()}


def sign_name() -> str:
    """The approved SMS signature's name (SMS_SIGN), without the 【】."""
    return (current_app.config.get("SMS_SIGN") or "志愿先行").strip().strip("【】")


def deliver_sms(row: Notification) -> str | None:
    """Send the row through the SMS_BACKEND ("log", "http" or "aliyun"): the template's
    code and values from services.sms_templates, the signed text as rendered into the row.
    Returns the provider's reference, if it gives one."""
    from . import sms_backends, sms_templates

    backend = sms_backends.backend_for(current_app.config)
    phone = phone_number(row)
    if not phone:
        raise PermanentDeliveryError(f"Notification {row.id} has no phone number.")
    template = sms_templates.get(row.template)
    if template is None and not backend.allows_free_text:
        raise PermanentDeliveryError(
            f"The SMS provider ({backend.name}) sends only approved templates; "
            f"{row.template!r} is free text."
        )
    message = sms_backends.SmsMessage(
        phone=phone,
        text=row.body or "",
        sign=sign_name(),
        template_code=sms_templates.code_for(template, _template_ids()) if template else None,
        params=sms_templates.params(template, row.payload or {}) if template else {},
        out_id=str(row.id or ""),
    )
    return backend.send(message)


# ---------------------------------------------------------------- timing


def is_urgent(starts_at: datetime | None, now: datetime) -> bool:
    """A shift starting (naive UTC) within two hours: its messages ignore quiet hours."""
    return starts_at is not None and now <= starts_at <= now + URGENT_WITHIN


def quiet_until(user: User, now_utc: datetime, *, urgent: bool) -> datetime | None:
    """When the user's quiet hours end (naive UTC), if `now_utc` falls in them; else None.

    The window is [quiet_start:00, quiet_end:00) Asia/Shanghai time and may wrap midnight
    (22 -> 7); equal hours mean no quiet hours. Urgent messages are never held.
    """
    if urgent:
        return None
    start, end = user.quiet_start % 24, user.quiet_end % 24
    if start == end:
        return None
    local = to_local(now_utc).replace(tzinfo=None)
    hour = local.hour
    end_today = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if start < end:
        quiet, until = start <= hour < end, end_today
    elif hour >= start:
        quiet, until = True, end_today + timedelta(days=1)
    else:
        quiet, until = hour < end, end_today
    return from_local(until) if quiet else None


def sms_send_at(
    user: User,
    now: datetime,
    *,
    urgent: bool = False,
    starts_at: datetime | None = None,
    override: bool = True,
) -> datetime:
    """When an SMS to the user may go: now, or the end of their quiet hours. A message
    about a shift that starts before the quiet hours end (plus URGENT_MARGIN) is sent at
    once when `override` is on (the NOTIFY_URGENT_OVERRIDES_QUIET setting)."""
    held = quiet_until(user, now, urgent=urgent)
    if held is None:
        return now
    if override and starts_at is not None and starts_at <= held + URGENT_MARGIN:
        return now
    return held


def next_attempt(attempts: int, now: datetime) -> datetime:
    """When to try again after `attempts` tries: 2**attempts minutes, at most six hours."""
    minutes = 2 ** min(max(attempts, 0), 16)
    return now + min(timedelta(minutes=minutes), MAX_BACKOFF)
