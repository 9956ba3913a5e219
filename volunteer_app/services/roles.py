"""Granting and removing roles; nobody grants beyond their own scope."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import OrgUnit, Role, RoleGrant, User
from . import ServiceError, audit
from .scope import covers

#: What an organiser may hand out inside their subtree; everything else needs an admin.
ORGANISER_GRANTABLE = frozenset({Role.LEAD, Role.ORGANISER})


def can_grant(actor: User, role: Role, node: OrgUnit) -> bool:
    """True when `actor` may grant or remove `role` on `node`."""
    if covers(actor, node, [Role.ADMIN]):
        return True
    return role in ORGANISER_GRANTABLE and covers(actor, node, [Role.ORGANISER])


def grant(
    actor: User, user: User, role: Role, node: OrgUnit, *, ip: str | None = None
) -> RoleGrant:
    """Give `user` the role on `node` (and so on its subtree)."""
    if not can_grant(actor, role, node):
        audit.record(
            "role.grant",
            actor=actor,
            ip=ip,
            success=False,
            role=role.value,
            org=node.id,
            user=user.id,
        )
        raise ServiceError(_l("You may not grant this role on this unit."))
    if not node.active:
        raise ServiceError(_l("Roles cannot be granted on a deactivated unit."))
    existing = db.session.scalar(
        select(RoleGrant).where(
            RoleGrant.user_id == user.id, RoleGrant.org_unit_id == node.id, RoleGrant.role == role
        )
    )
    if existing is not None:
        raise ServiceError(_l("This account already has this role on this unit."))
    row = RoleGrant(user=user, org_unit=node, role=role, granted_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    audit.record(
        "role.grant", actor=actor, ip=ip, obj=row, role=role.value, org=node.id, user=user.id
    )
    return row


def revoke(actor: User, row: RoleGrant, *, ip: str | None = None) -> None:
    """Remove a grant; an admin cannot remove their own last admin grant."""
    if not can_grant(actor, row.role, row.org_unit):
        raise ServiceError(_l("You may not remove this role."))
    if row.user_id == actor.id and row.role is Role.ADMIN:
        admins = [g for g in actor.grants if g.role is Role.ADMIN]
        if len(admins) <= 1:
            raise ServiceError(_l("You cannot remove your own last administrator role."))
    audit.record(
        "role.revoke",
        actor=actor,
        ip=ip,
        obj=row,
        role=row.role.value,
        org=row.org_unit_id,
        user=row.user_id,
    )
    db.session.delete(row)
    db.session.flush()
