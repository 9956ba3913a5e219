"""An upload kept between its preview and its confirmation."""

from __future__ import annotations

from datetime import datetime, timedelta

from ...models import User
from ...services import tempstore

#: Uploads waiting for their confirmation are removed after this many seconds.
STASH_SECONDS = 24 * 3600
#: What a stashed upload is called in the temporary store (services/tempstore.py).
STASH_KIND = "import"


def stash(owner: User, data: bytes, *, now: datetime) -> str:
    """Keep an upload until its confirmation, in the database so that any instance can
    confirm it; returns the token naming it (the caller commits)."""
    return tempstore.put(owner, STASH_KIND, data, now=now, ttl=timedelta(seconds=STASH_SECONDS))


def take(owner: User, token: str | None, *, now: datetime) -> bytes | None:
    """The owner's stashed upload, removed as it is read; None when there is none."""
    return tempstore.take(owner, STASH_KIND, token, now=now)


def discard(owner: User, token: str | None) -> None:
    """Forget the owner's stashed upload, if any (a new upload or a cancel)."""
    tempstore.discard(owner, STASH_KIND, token)
