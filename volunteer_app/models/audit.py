"""The audit log: who did what, to which object, when, from where, and whether it worked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow


class AuditLog(db.Model):
    """Append-only; kept at least 180 days (security logs, 网络安全法 Art 21)."""

    __tablename__ = "audit_logs"
    __table_args__ = (Index("ix_audit_logs_at", "at"), Index("ix_audit_logs_action", "action"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(45))
    success: Mapped[bool] = mapped_column(default=True)
    detail: Mapped[dict | None] = mapped_column(JSON)
