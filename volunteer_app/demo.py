"""Demo data: 即墨区's org trees and one login per role (`flask seed demo`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from . import demo_data as data
from .extensions import db
from .models import OrgLevel, OrgUnit, Role, RoleGrant, User
from .services import orgs
from .services.passwords import hash_password


@dataclass(frozen=True)
class DemoAccount:
    phone: str
    name: str
    role: Role | None
    #: Names from the root down to the node the role is granted on.
    node_path: tuple[str, ...]
    label: str


_JIMO = (data.DISTRICT,)
DEMO_ACCOUNTS: list[DemoAccount] = [
    DemoAccount("13800000001", "区文明办管理员", Role.ADMIN, _JIMO, "admin"),
    DemoAccount(
        "13800000002",
        "团区委组织者",
        Role.ORGANISER,
        (*_JIMO, "共青团即墨区委员会"),
        "organiser (Youth League)",
    ),
    DemoAccount(
        "13800000003",
        "区妇联组织者",
        Role.ORGANISER,
        (*_JIMO, "即墨区妇女联合会"),
        "organiser (Women's Federation)",
    ),
    DemoAccount(
        "13800000004",
        "环秀街道组织者",
        Role.ORGANISER,
        (*_JIMO, "环秀街道"),
        "organiser (town)",
    ),
    DemoAccount(
        "13800000005",
        "东关社区领队",
        Role.LEAD,
        (*_JIMO, "环秀街道", "东关社区"),
        "lead",
    ),
    DemoAccount(
        "13800000006",
        "东关社区党支部书记",
        Role.BRANCH_SECRETARY,
        (*_JIMO, data.PARTY_ROOT, "中共环秀街道工作委员会", "环秀街道社区党总支", "东关社区党支部"),
        "branch secretary",
    ),
    DemoAccount("13800000007", "志愿者小王", None, (), "volunteer"),
]


def _child(parent: OrgUnit | None, name: str, level: OrgLevel, order: int) -> OrgUnit:
    existing = db.session.scalar(
        select(OrgUnit).where(
            OrgUnit.parent_id.is_(None) if parent is None else OrgUnit.parent_id == parent.id,
            OrgUnit.name == name,
        )
    )
    if existing is not None:
        return existing
    return orgs.create_node(name, level, parent, sort_order=order)


def seed_org_trees() -> OrgUnit:
    """The three trees under one district root; existing nodes are kept."""
    district = _child(None, data.DISTRICT, OrgLevel.DISTRICT, 0)
    for i, (town, _kind, communities) in enumerate(data.TOWNS):
        town_node = _child(district, town, OrgLevel.TOWN, i)
        for j, community in enumerate(communities):
            _child(town_node, community, OrgLevel.COMMUNITY, j)
    party_root = _child(district, data.PARTY_ROOT, OrgLevel.PARTY_ROOT, 100)
    for i, (committee, generals) in enumerate(data.PARTY_COMMITTEES):
        committee_node = _child(party_root, committee, OrgLevel.PARTY_COMMITTEE, i)
        for j, (general, branches) in enumerate(generals):
            general_node = _child(committee_node, general, OrgLevel.PARTY_GENERAL_BRANCH, j)
            for k, branch in enumerate(branches):
                _child(general_node, branch, OrgLevel.PARTY_BRANCH, k)
    for i, (organiser, children) in enumerate(data.ORGANISERS):
        organiser_node = _child(district, organiser, OrgLevel.ORGANISER, 200 + i)
        for j, child in enumerate(children):
            level = OrgLevel.PRACTICE_STATION if child.endswith("实践站") else OrgLevel.TEAM
            _child(organiser_node, child, level, j)
    return district


def find_node(names: tuple[str, ...]) -> OrgUnit | None:
    """The node reached by following names from the root."""
    node = None
    for name in names:
        node = db.session.scalar(
            select(OrgUnit).where(
                OrgUnit.parent_id.is_(None) if node is None else OrgUnit.parent_id == node.id,
                OrgUnit.name == name,
            )
        )
        if node is None:
            return None
    return node


def seed_accounts(password: str) -> list[DemoAccount]:
    """One login per role; an existing account keeps its password."""
    password_hash = hash_password(password)
    for account in DEMO_ACCOUNTS:
        user = db.session.scalar(select(User).where(User.phone == account.phone))
        if user is None:
            user = User(phone=account.phone, password_hash=password_hash, display_name=account.name)
            db.session.add(user)
            db.session.flush()
        if account.role is None:
            continue
        node = find_node(account.node_path)
        if node is None:
            raise RuntimeError(f"demo node missing: {'/'.join(account.node_path)}")
        has = db.session.scalar(
            select(RoleGrant).where(
                RoleGrant.user_id == user.id,
                RoleGrant.org_unit_id == node.id,
                RoleGrant.role == account.role,
            )
        )
        if has is None:
            db.session.add(RoleGrant(user_id=user.id, org_unit_id=node.id, role=account.role))
    db.session.flush()
    return DEMO_ACCOUNTS


def seed_demo(password: str) -> list[DemoAccount]:
    """Everything the demo needs; running it again adds nothing twice."""
    seed_org_trees()
    return seed_accounts(password)


def demo_logins() -> list[tuple[DemoAccount, User]]:
    """The demo accounts present in this database, for the development home page."""
    users = {
        u.phone: u
        for u in db.session.scalars(
            select(User).where(User.phone.in_([a.phone for a in DEMO_ACCOUNTS]))
        )
    }
    return [(a, users[a.phone]) for a in DEMO_ACCOUNTS if a.phone in users]
