"""Attendance (签到/签退), the scan log, and printable volunteer cards."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow
from .events import Shift, Signup
from .people import User, _values


class ScanMethod(enum.StrEnum):
    LEAD_SCAN = "lead_scan"  # the lead's phone opened the volunteer's code
    SCANNER = "scanner"  # the scanner page (camera or handheld scanner)
    SELF_SCAN = "self_scan"  # the volunteer scanned the site code
    MANUAL = "manual"  # the lead picked the name from the roster
    OFFLINE = "offline"  # queued while offline and synced later
    PAPER = "paper"  # entered afterwards from the paper sign-in sheet
    JOB = "job"  # closed by the scheduler at the shift end


class Attendance(db.Model):
    """One per sign-up (unique): a second scan, a retry or a synced queue cannot make two."""

    __tablename__ = "attendances"
    #: The shift's attendances by check-out time (or none yet): the scanner's live counts,
    #: in and out, are each one range of this index, read without the rows
    #: (checkin.queries.live_count_columns).
    __table_args__ = (Index("ix_attendances_shift_out", "shift_id", "checked_out_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signup_id: Mapped[int] = mapped_column(
        ForeignKey("signups.id", ondelete="CASCADE"), unique=True
    )
    shift_id: Mapped[int] = mapped_column(ForeignKey("shifts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    checked_in_at: Mapped[datetime]
    checked_out_at: Mapped[datetime | None]
    in_method: Mapped[ScanMethod] = mapped_column(
        Enum(ScanMethod, native_enum=False, length=12, values_callable=_values)
    )
    out_method: Mapped[ScanMethod | None] = mapped_column(
        Enum(ScanMethod, native_enum=False, length=12, values_callable=_values)
    )
    in_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    out_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Closed at the shift end by the scheduler because nobody checked the volunteer out;
    #: shown to the lead until they confirm or correct it.
    auto_closed: Mapped[bool] = mapped_column(default=False)
    #: Times changed by a lead afterwards (the reason is in the audit log).
    corrected: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    signup: Mapped[Signup] = relationship()
    shift: Mapped[Shift] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class ScanLog(db.Model):
    """Every scan, accepted or refused, with its reason (pretix keeps the same)."""

    __tablename__ = "scan_logs"
    __table_args__ = (Index("ix_scan_logs_shift_at", "shift_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the scan happened on the device (differs from `at` for an offline queue).
    scanned_at: Mapped[datetime | None]
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("shifts.id", ondelete="SET NULL"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The client's nonce: the same scan sent twice is applied once.
    nonce: Mapped[str | None] = mapped_column(String(64), unique=True)
    method: Mapped[str] = mapped_column(String(12))
    #: "in", "out" or "" (refused / nothing to do).
    action: Mapped[str] = mapped_column(String(4), default="")
    ok: Mapped[bool] = mapped_column(default=False)
    #: A short code (checked_in, not_signed_up, expired, revoked, …) for reports.
    code: Mapped[str] = mapped_column(String(30))
    message: Mapped[str] = mapped_column(String(300), default="")


class VolunteerCard(db.Model):
    """A printed card with a long-lived code for volunteers without smartphones; revoking it
    (or issuing a new one) stops the old code at once."""

    __tablename__ = "volunteer_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    @property
    def number(self) -> str:
        """The number printed on the card."""
        return f"JM{self.id:07d}"


class DeviceKey(db.Model):
    """A volunteer's phone: the secret from which it computes its rotating code with no
    network (services/devicecodes.py). Revoking it stops that phone's codes at once, like a
    card; the secret is stored encrypted (services/pii.py)."""

    __tablename__ = "device_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: Fernet ciphertext of the 32 random bytes (base64) the phone holds.
    secret_encrypted: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class CodeUse(db.Model):
    """A phone code value accepted for a shift: the same value is not accepted there again
    (a photo of the screen passed on is refused, even within its 90 seconds)."""

    __tablename__ = "code_uses"
    __table_args__ = (
        Index("uq_code_uses_device_step_shift", "device_id", "step", "shift_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device_keys.id", ondelete="CASCADE"))
    #: The 30-second step the code was computed for.
    step: Mapped[int]
    shift_id: Mapped[int] = mapped_column(ForeignKey("shifts.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
