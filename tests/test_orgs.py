"""Org trees: paths, moves, deactivation, deletion rules, and the admin pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from volunteer_app.extensions import db
from volunteer_app.models import AuditLog, OrgLevel, OrgUnit, Role
from volunteer_app.services import ServiceError, orgs


def test_node_path_lists_its_ancestors(tree):
    node = tree.community_a1
    assert node.path == f"/{tree.district.id}/{tree.town_a.id}/{node.id}/"
    assert node.depth == 2
    assert node.ancestor_ids == [tree.district.id, tree.town_a.id, node.id]


def test_levels_must_fit_their_tree(tree):
    with pytest.raises(ServiceError):
        orgs.create_node("错误的社区", OrgLevel.COMMUNITY, tree.district)
    with pytest.raises(ServiceError):
        orgs.create_node("错误的支部", OrgLevel.PARTY_BRANCH, tree.town_a)
    with pytest.raises(ServiceError):
        orgs.create_node("第二个根", OrgLevel.TOWN, None)


def test_blank_name_is_refused(tree):
    with pytest.raises(ServiceError):
        orgs.create_node("   ", OrgLevel.COMMUNITY, tree.town_a)


def test_moving_a_town_rewrites_the_paths_of_its_subtree(tree, make_user):
    admin = make_user(Role.ADMIN, tree.district)
    # Move 西关社区 from 环秀街道 to 潮海街道.
    orgs.move_node(tree.community_a2, tree.town_b, actor=admin)
    db.session.commit()
    moved = db.session.get(OrgUnit, tree.community_a2.id)
    assert moved.parent_id == tree.town_b.id
    assert moved.path == f"{tree.town_b.path}{moved.id}/"
    assert moved.is_within(tree.town_b)
    assert not moved.is_within(tree.town_a)


def test_moving_a_subtree_moves_its_descendants(tree, make_user):
    admin = make_user(Role.ADMIN, tree.district)
    general = orgs.create_node("社区党总支", OrgLevel.PARTY_GENERAL_BRANCH, tree.committee)
    branch = orgs.create_node("新支部", OrgLevel.PARTY_BRANCH, general)
    other = orgs.create_node("另一个党工委", OrgLevel.PARTY_COMMITTEE, tree.party_root)
    db.session.commit()
    orgs.move_node(general, other, actor=admin)
    db.session.commit()
    branch = db.session.get(OrgUnit, branch.id)
    assert branch.path == f"{other.path}{general.id}/{branch.id}/"
    assert branch.depth == other.depth + 2


def test_a_node_cannot_move_under_itself(tree, make_user):
    admin = make_user(Role.ADMIN, tree.district)
    with pytest.raises(ServiceError):
        orgs.move_node(tree.town_a, tree.community_a1, actor=admin)


def test_deactivating_a_town_deactivates_its_communities(tree, make_user):
    admin = make_user(Role.ADMIN, tree.district)
    orgs.set_active(tree.town_a, False, actor=admin)
    db.session.commit()
    assert not db.session.get(OrgUnit, tree.community_a1.id).active
    assert db.session.get(OrgUnit, tree.town_b.id).active


def test_a_node_in_use_cannot_be_deleted(tree, make_user):
    admin = make_user(Role.ADMIN, tree.district)
    make_user(Role.LEAD, tree.community_a1)
    with pytest.raises(ServiceError) as refused:
        orgs.delete_node(tree.town_a, actor=admin)  # has communities
    assert "下级单位" in refused.value.messages[0]
    with pytest.raises(ServiceError) as refused:
        orgs.delete_node(tree.community_a1, actor=admin)  # a role is granted on it
    assert "角色授权" in refused.value.messages[0]


def test_an_unused_leaf_can_be_deleted_and_is_audited(tree, make_user):
    admin = make_user(Role.ADMIN, tree.district)
    node_id = tree.community_b1.id
    orgs.delete_node(tree.community_b1, actor=admin)
    db.session.commit()
    assert db.session.get(OrgUnit, node_id) is None
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "org.delete"))


def test_admin_adds_renames_moves_and_deactivates_through_the_pages(tree, login_as):
    client, _ = login_as(Role.ADMIN)
    from tests.conftest import Auth

    auth = Auth(client)
    url = f"/admin/orgs/{tree.town_a.id}"
    added = auth.post(url, {"op": "add", "add-name": "南关社区", "add-level": "community"})
    assert added.status_code == 302
    new = db.session.scalar(select(OrgUnit).where(OrgUnit.name == "南关社区"))
    assert new.parent_id == tree.town_a.id
    node_url = f"/admin/orgs/{new.id}"
    assert auth.post(node_url, {"op": "rename", "rename-name": "南关新社区"}).status_code == 302
    assert auth.post(node_url, {"op": "move", "move-parent": tree.town_b.id}).status_code == 302
    assert auth.post(node_url, {"op": "deactivate"}).status_code == 302
    node = db.session.get(OrgUnit, new.id)
    assert (node.name, node.parent_id, node.active) == ("南关新社区", tree.town_b.id, False)


def test_refused_edit_shows_the_reason_and_changes_nothing(tree, login_as):
    client, _ = login_as(Role.ADMIN)
    from tests.conftest import Auth

    response = Auth(client).post(
        f"/admin/orgs/{tree.town_a.id}", {"op": "delete"}, follow_redirects=True
    )
    assert "该单位正在使用中，无法删除" in response.get_data(as_text=True)
    assert db.session.get(OrgUnit, tree.town_a.id) is not None


def test_organiser_can_read_but_not_edit_the_tree(tree, login_as):
    client, _ = login_as(Role.ORGANISER, tree.town_a)
    from tests.conftest import Auth

    url = f"/admin/orgs/{tree.community_a1.id}"
    assert client.get(url).status_code == 200
    response = Auth(client).post(url, {"op": "rename", "rename-name": "改名"})
    assert response.status_code == 403
    assert db.session.get(OrgUnit, tree.community_a1.id).name == "东关社区"
