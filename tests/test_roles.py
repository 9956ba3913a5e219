"""Role grants: admins grant anything, organisers only lead/organiser inside their scope."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import Auth
from volunteer_app.extensions import db
from volunteer_app.models import AuditLog, Role, RoleGrant
from volunteer_app.services import ServiceError, roles


def test_admin_grants_a_role_through_the_page_and_it_is_audited(tree, login_as, make_user):
    client, _ = login_as(Role.ADMIN)
    target = make_user()
    response = Auth(client).post(
        "/admin/roles",
        {"phone": target.phone, "role": "organiser", "org_unit": tree.town_b.id},
    )
    assert response.status_code == 302
    grant = db.session.scalar(select(RoleGrant).where(RoleGrant.user_id == target.id))
    assert (grant.role, grant.org_unit_id) == (Role.ORGANISER, tree.town_b.id)
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "role.grant"))


def test_organiser_grants_lead_inside_their_scope(tree, make_user):
    organiser = make_user(Role.ORGANISER, tree.town_a)
    target = make_user()
    roles.grant(organiser, target, Role.LEAD, tree.community_a1)
    db.session.commit()
    assert Role.LEAD in target.roles


def test_organiser_cannot_grant_outside_scope_or_escalate(tree, make_user):
    organiser = make_user(Role.ORGANISER, tree.town_a)
    target = make_user()
    with pytest.raises(ServiceError):
        roles.grant(organiser, target, Role.LEAD, tree.community_b1)  # another town
    with pytest.raises(ServiceError):
        roles.grant(organiser, target, Role.ORGANISER, tree.district)  # above their node
    with pytest.raises(ServiceError):
        roles.grant(organiser, target, Role.ADMIN, tree.community_a1)  # a higher role
    db.session.rollback()
    assert not db.session.scalars(select(RoleGrant).where(RoleGrant.user_id == target.id)).all()


def test_organiser_posting_another_scopes_unit_gets_404(tree, login_as, make_user):
    client, _ = login_as(Role.ORGANISER, tree.town_a)
    target = make_user()
    response = Auth(client).post(
        "/admin/roles", {"phone": target.phone, "role": "lead", "org_unit": tree.town_b.id}
    )
    assert response.status_code == 404
    assert not target.grants


def test_duplicate_grant_is_refused_with_a_message(tree, make_user):
    admin = make_user(Role.ADMIN, tree.district)
    target = make_user(Role.LEAD, tree.community_a1)
    with pytest.raises(ServiceError) as refused:
        roles.grant(admin, target, Role.LEAD, tree.community_a1)
    assert "已有该角色" in refused.value.messages[0]


def test_admin_cannot_remove_their_own_last_admin_grant(tree, make_user):
    admin = make_user(Role.ADMIN, tree.district)
    with pytest.raises(ServiceError):
        roles.revoke(admin, admin.grants[0])


def test_grant_removed_through_the_page(tree, login_as, make_user):
    client, _ = login_as(Role.ADMIN)
    target = make_user(Role.LEAD, tree.community_a1)
    grant_id = target.grants[0].id
    response = Auth(client).post(f"/admin/roles/{grant_id}/remove", {})
    assert response.status_code == 302
    assert db.session.get(RoleGrant, grant_id) is None
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "role.revoke"))


def test_each_menu_entry_shows_to_exactly_the_roles_its_page_lets_in(app):
    """The menu and the page ask the same rule (permissions.PAGE_ROLES): no entry leads a
    role to a 403, and no page is reachable only by typing its address."""
    from volunteer_app.navigation import NAV_ITEMS
    from volunteer_app.permissions import PAGE_ROLES

    for item in NAV_ITEMS:
        if item.roles is None:
            continue
        assert item.roles == PAGE_ROLES[item.endpoint]
        required = getattr(app.view_functions[item.endpoint], "required_roles", None)
        if item.endpoint == "main.my_roles":
            # Open to every account (it lists the caller's own duties, none for a volunteer);
            # the menu offers it to those who have some.
            assert required is None
            continue
        # Admin passes every role check, named or not.
        admin = {Role.ADMIN}
        assert required - admin == PAGE_ROLES[item.endpoint] - admin, item.endpoint
