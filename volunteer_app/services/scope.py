"""Scope: a role granted on an org node holds for the node's whole subtree."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import false, or_
from sqlalchemy.sql.elements import ColumnElement

from ..models import OrgUnit, Role, User


def grant_nodes(user: User, roles: Iterable[Role]) -> list[OrgUnit]:
    """The active nodes on which the user holds any of `roles` (admin counts for every role)."""
    wanted = set(roles) | {Role.ADMIN}
    return [g.org_unit for g in user.grants if g.role in wanted and g.org_unit.active]


def covers(user: User, node: OrgUnit | None, roles: Iterable[Role]) -> bool:
    """True when the user holds one of `roles` on `node` or on one of its ancestors."""
    if node is None or not getattr(user, "is_authenticated", False):
        return False
    return any(node.is_within(granted) for granted in grant_nodes(user, roles))


def path_filter(path_column: ColumnElement, user: User, roles: Iterable[Role]) -> ColumnElement:
    """A WHERE clause keeping rows whose org path lies inside the user's scope."""
    nodes = grant_nodes(user, roles)
    if not nodes:
        return false()
    # A grant inside another grant adds nothing; keep the outermost ones.
    paths = sorted({n.path for n in nodes}, key=len)
    outer: list[str] = []
    for path in paths:
        if not any(path.startswith(o) for o in outer):
            outer.append(path)
    return or_(*(path_column.startswith(p, autoescape=True) for p in outer))
