"""Per-user temporary state kept between two requests (an import waiting for its
confirmation), in the database so that any instance can finish what another began."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow


class TempItem(db.Model):
    """One piece of a user's temporary state; read once, gone after `expires_at`."""

    __tablename__ = "temp_items"

    #: Random, unguessable; the user's session (or form) carries it.
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: What the item is for ("import"), so that a token of one kind opens nothing else.
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Rows past this are invisible and purged by the next write.
    expires_at: Mapped[datetime] = mapped_column(index=True)
