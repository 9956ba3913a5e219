"""Every model module is imported here so Alembic autogenerate sees all tables."""

from .audit import AuditLog
from .orgs import CHILD_LEVELS, LEVEL_KIND, OrgKind, OrgLevel, OrgUnit
from .people import STAFF_ROLES, LoginThrottle, Role, RoleGrant, User

__all__ = [
    "CHILD_LEVELS",
    "LEVEL_KIND",
    "STAFF_ROLES",
    "AuditLog",
    "LoginThrottle",
    "OrgKind",
    "OrgLevel",
    "OrgUnit",
    "Role",
    "RoleGrant",
    "User",
]
