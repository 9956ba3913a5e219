"""The notification outbox and one-time SMS codes."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow
from .people import _values


class Channel(enum.StrEnum):
    IN_APP = "in_app"
    SMS = "sms"
    EMAIL = "email"


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"  # not tried yet (perhaps held until quiet hours end)
    RETRYING = "retrying"  # tried, failed, waiting for the next try (back-off)
    SENT = "sent"
    FAILED = "failed"  # given up: the provider refused it for good, or too many tries


class Notification(db.Model):
    """One message to one recipient on one channel; delivered by the outbox worker."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_pending", "sent_at", "not_before"),
        Index("ix_notifications_sent_to", "sent_to", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    #: Phone number or e-mail address for messages to people without an account yet.
    address: Mapped[str | None] = mapped_column(String(120))
    channel: Mapped[Channel] = mapped_column(
        Enum(Channel, native_enum=False, length=10, values_callable=_values)
    )
    template: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    #: Rendered text, in the recipient's language, as it was sent.
    body: Mapped[str] = mapped_column(String(1000), default="")
    #: Unique per logical message (e.g. "reminder-day:signup:42") so none is sent twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    #: queued -> sent, or queued -> retrying (…) -> sent / failed; set by notify.deliver.
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, native_enum=False, length=10, values_callable=_values),
        default=DeliveryStatus.QUEUED,
        server_default=DeliveryStatus.QUEUED.value,
    )
    #: The phone number or e-mail address the message was last sent (or tried) to; the
    #: daily SMS cap counts by it.
    sent_to: Mapped[str | None] = mapped_column(String(120))
    #: The provider's id for the message (Aliyun's BizId), for tracing a complaint.
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CodePurpose(enum.StrEnum):
    REGISTER = "register"
    RESET = "reset"
    LOGIN = "login"  # logging in with a code instead of the password


class SmsCode(db.Model):
    """A 6-digit code proving a phone number: 5 minutes, 5 tries, stored hashed."""

    __tablename__ = "sms_codes"
    __table_args__ = (Index("ix_sms_codes_phone_created", "phone", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(11))
    purpose: Mapped[CodePurpose] = mapped_column(
        Enum(CodePurpose, native_enum=False, length=10, values_callable=_values)
    )
    #: HMAC of the code; None when the number needed no code (a notice was sent instead).
    code_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]
