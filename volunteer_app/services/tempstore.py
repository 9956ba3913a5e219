"""Per-user temporary state in the database (never on one host's disk): put, take once,
discard; expired rows are purged by every put."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete

from ..extensions import db
from ..models import TempItem, User

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def put(owner: User, kind: str, data: bytes, *, now: datetime, ttl: timedelta) -> str:
    """Keep `data` for the owner until `now + ttl`; returns the token naming it (flushed)."""
    purge(now)
    token = secrets.token_urlsafe(32)
    db.session.add(
        TempItem(
            token=token,
            user_id=owner.id,
            kind=kind,
            data=data,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    db.session.flush()
    return token


def take(owner: User, kind: str, token: str | None, *, now: datetime) -> bytes | None:
    """The owner's item of that kind, removed as it is read (one reader wins, even on two
    instances at once); None when it is missing, expired, another user's or another kind."""
    if not token or not _TOKEN_RE.match(token):
        return None
    row = db.session.execute(
        delete(TempItem)
        .where(
            TempItem.token == token,
            TempItem.user_id == owner.id,
            TempItem.kind == kind,
            TempItem.expires_at > now,
        )
        .returning(TempItem.data)
    ).first()
    return bytes(row[0]) if row is not None else None


def discard(owner: User, kind: str, token: str | None) -> None:
    """Drop the owner's item, if any."""
    if token and _TOKEN_RE.match(token):
        db.session.execute(
            delete(TempItem).where(
                TempItem.token == token, TempItem.user_id == owner.id, TempItem.kind == kind
            )
        )


def purge(now: datetime) -> int:
    """Delete every expired item; returns how many."""
    result = db.session.execute(delete(TempItem).where(TempItem.expires_at <= now))
    return result.rowcount or 0
