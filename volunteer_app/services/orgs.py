"""Org tree maintenance: add, rename, move, deactivate, delete, subtree queries."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, func, literal, select, update

from ..extensions import db
from ..models import CHILD_LEVELS, LEVEL_KIND, OrgLevel, OrgUnit, RoleGrant, User
from . import ServiceError, audit

#: Tables whose rows point at org nodes; a node referenced by any of them is "in use".
#: Later modules register theirs with `register_org_reference`.
_ORG_REFERENCES: list[tuple[object, object]] = [(_l("role grants"), RoleGrant.org_unit_id)]


def register_org_reference(label: object, column: object) -> None:
    """Declare a column that references org_units, so delete() refuses nodes in use."""
    _ORG_REFERENCES.append((label, column))


def subtree_filter(node: OrgUnit):
    """A WHERE clause selecting the node and everything below it."""
    return OrgUnit.path.startswith(node.path, autoescape=True)


def subtree(node: OrgUnit, *, active_only: bool = True) -> list[OrgUnit]:
    """The node and its descendants, in tree order."""
    query = select(OrgUnit).where(subtree_filter(node))
    if active_only:
        query = query.where(OrgUnit.active.is_(True))
    return list(db.session.scalars(query.order_by(OrgUnit.path)))


def ancestors(node: OrgUnit) -> list[OrgUnit]:
    """The nodes above this one, from the root down."""
    ids = node.ancestor_ids[:-1]
    if not ids:
        return []
    return list(
        db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)).order_by(OrgUnit.depth))
    )


def valid_parents(node: OrgUnit) -> list[OrgUnit]:
    """Where the node may move: active units of a kind that takes it as a child, outside
    its own subtree, other than its present parent."""
    levels = [level for level, kids in CHILD_LEVELS.items() if node.level in kids]
    candidates = db.session.scalars(
        select(OrgUnit)
        .where(OrgUnit.active.is_(True), OrgUnit.level.in_(levels))
        .order_by(OrgUnit.path)
    )
    return [n for n in candidates if not n.is_within(node) and n.id != node.parent_id]


def _check_child_level(parent: OrgUnit | None, level: OrgLevel) -> None:
    if parent is None:
        if level is not OrgLevel.DISTRICT:
            raise ServiceError(_l("Only a district can be a root node."))
        return
    if level not in CHILD_LEVELS[parent.level]:
        raise ServiceError(_l("This kind of unit cannot be placed under the chosen parent."))


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ServiceError(_l("Please enter a name."))
    if len(name) > 100:
        raise ServiceError(_l("The name may have at most 100 characters."))
    return name


def create_node(
    name: str,
    level: OrgLevel,
    parent: OrgUnit | None,
    *,
    actor: User | None = None,
    ip: str | None = None,
    sort_order: int = 0,
) -> OrgUnit:
    """Add a node below `parent` and give it its materialised path."""
    name = _clean_name(name)
    _check_child_level(parent, level)
    if parent is not None and not parent.active:
        raise ServiceError(_l("A deactivated unit cannot receive new units."))
    node = OrgUnit(
        name=name,
        level=level,
        kind=LEVEL_KIND[level],
        parent=parent,
        depth=0 if parent is None else parent.depth + 1,
        sort_order=sort_order,
    )
    db.session.add(node)
    db.session.flush()  # the id is part of the path
    node.path = f"{parent.path if parent else '/'}{node.id}/"
    db.session.flush()
    if actor is not None:
        audit.record("org.create", actor=actor, ip=ip, obj=node, name=name, level=level.value)
    return node


def rename_node(node: OrgUnit, name: str, *, actor: User, ip: str | None = None) -> OrgUnit:
    """Give the node a new name."""
    old = node.name
    node.name = _clean_name(name)
    db.session.flush()
    audit.record("org.rename", actor=actor, ip=ip, obj=node, old=old, new=node.name)
    return node


def move_node(node: OrgUnit, new_parent: OrgUnit, *, actor: User, ip: str | None = None) -> OrgUnit:
    """Put the node (with its subtree) under another parent, rewriting the paths."""
    if new_parent.is_within(node):
        raise ServiceError(_l("A unit cannot be moved under itself or its own sub-units."))
    _check_child_level(new_parent, node.level)
    old_path = node.path
    new_path = f"{new_parent.path}{node.id}/"
    depth_change = new_parent.depth + 1 - node.depth
    old_parent_id = node.parent_id
    # One UPDATE rewrites the whole subtree's prefix.
    db.session.execute(
        update(OrgUnit)
        .where(OrgUnit.path.startswith(old_path, autoescape=True))
        .values(
            path=literal(new_path, String) + func.substr(OrgUnit.path, len(old_path) + 1),
            depth=OrgUnit.depth + depth_change,
        )
        .execution_options(synchronize_session=False)
    )
    node.parent_id = new_parent.id
    db.session.flush()
    db.session.expire_all()
    audit.record(
        "org.move", actor=actor, ip=ip, obj=node, old_parent=old_parent_id, new_parent=new_parent.id
    )
    return node


def set_active(node: OrgUnit, active: bool, *, actor: User, ip: str | None = None) -> None:
    """Deactivate (with its subtree) or reactivate a node; history stays attached to it."""
    if active and node.parent is not None and not node.parent.active:
        raise ServiceError(_l("Reactivate the parent unit first."))
    query = update(OrgUnit).execution_options(synchronize_session=False)
    query = query.where(OrgUnit.id == node.id) if active else query.where(subtree_filter(node))
    db.session.execute(query.values(active=active))
    db.session.flush()
    db.session.expire_all()
    audit.record("org.activate" if active else "org.deactivate", actor=actor, ip=ip, obj=node)


def usage(node: OrgUnit) -> list[str]:
    """What keeps the node from being deleted: sub-units and references."""
    reasons = []
    children = db.session.scalar(
        select(func.count()).select_from(OrgUnit).where(OrgUnit.parent_id == node.id)
    )
    if children:
        reasons.append(str(_l("it has %(n)d sub-units", n=children)))
    for label, column in _ORG_REFERENCES:
        count = db.session.scalar(select(func.count()).where(column == node.id))
        if count:
            reasons.append(str(_l("%(n)d %(what)s refer to it", n=count, what=label)))
    return reasons


def delete_node(node: OrgUnit, *, actor: User, ip: str | None = None) -> None:
    """Delete a node nothing uses; a node in use must be deactivated instead."""
    reasons = usage(node)
    if reasons:
        raise ServiceError(
            _l(
                "This unit is in use and cannot be deleted (%(reasons)s); deactivate it instead.",
                reasons="; ".join(reasons),
            )
        )
    audit.record("org.delete", actor=actor, ip=ip, obj=node, name=node.name)
    db.session.delete(node)
    db.session.flush()
