"""Writing the audit log."""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import AuditLog, User


def record(
    action: str,
    *,
    actor: User | int | None,
    ip: str | None = None,
    obj: object | None = None,
    object_type: str | None = None,
    object_id: object | None = None,
    success: bool = True,
    **detail: Any,
) -> AuditLog:
    """Append one audit row in the caller's transaction."""
    if obj is not None:
        # current_user is a proxy: name the account, not the proxy class.
        obj = obj._get_current_object() if hasattr(obj, "_get_current_object") else obj
        object_type = object_type or type(obj).__name__
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    actor_id = actor.id if isinstance(actor, User) else actor
    row = AuditLog(
        action=action,
        actor_id=actor_id,
        ip=ip,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        success=success,
        detail=detail or None,
    )
    db.session.add(row)
    return row
