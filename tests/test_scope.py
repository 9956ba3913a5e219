"""Scope: a grant covers its node's subtree and nothing else; other scopes answer 404."""

from __future__ import annotations

from sqlalchemy import select

from volunteer_app.extensions import db
from volunteer_app.models import OrgUnit, Role
from volunteer_app.services.scope import covers, path_filter


def test_grant_on_a_town_covers_its_communities_and_not_its_sibling_town(tree, make_user):
    organiser = make_user(Role.ORGANISER, tree.town_a)
    assert covers(organiser, tree.town_a, [Role.ORGANISER])
    assert covers(organiser, tree.community_a1, [Role.ORGANISER])
    assert covers(organiser, tree.community_a2, [Role.ORGANISER])
    assert not covers(organiser, tree.town_b, [Role.ORGANISER])
    assert not covers(organiser, tree.community_b1, [Role.ORGANISER])
    assert not covers(organiser, tree.district, [Role.ORGANISER])


def test_grant_of_another_role_does_not_cover(tree, make_user):
    lead = make_user(Role.LEAD, tree.town_a)
    assert covers(lead, tree.community_a1, [Role.LEAD])
    assert not covers(lead, tree.community_a1, [Role.ORGANISER])


def test_admin_on_the_district_covers_everything(tree, make_user):
    admin = make_user(Role.ADMIN, tree.district)
    for node in (tree.community_b1, tree.branch, tree.youth_league):
        assert covers(admin, node, [Role.ORGANISER])


def test_path_filter_selects_exactly_the_subtree(tree, make_user):
    organiser = make_user(Role.ORGANISER, tree.town_a)
    names = set(
        db.session.scalars(
            select(OrgUnit.name).where(path_filter(OrgUnit.path, organiser, [Role.ORGANISER]))
        )
    )
    assert names == {"环秀街道", "东关社区", "西关社区"}


def test_path_filter_does_not_confuse_ids_sharing_a_prefix(app, make_user):
    from volunteer_app.models import OrgLevel
    from volunteer_app.services import orgs

    district = orgs.create_node("区", OrgLevel.DISTRICT, None)
    towns = [orgs.create_node(f"镇{i}", OrgLevel.TOWN, district) for i in range(12)]
    db.session.commit()
    # "/1/2/" must not match "/1/12/".
    user = make_user(Role.ORGANISER, towns[0])
    matched = set(
        db.session.scalars(
            select(OrgUnit.id).where(path_filter(OrgUnit.path, user, [Role.ORGANISER]))
        )
    )
    assert matched == {towns[0].id}


def test_node_outside_scope_answers_404_and_inside_200(tree, login_as):
    client, _ = login_as(Role.ORGANISER, tree.town_a)
    assert client.get(f"/admin/orgs/{tree.community_a1.id}").status_code == 200
    assert client.get(f"/admin/orgs/{tree.community_b1.id}").status_code == 404
    assert client.get("/admin/orgs/999999").status_code == 404


def test_org_tree_lists_only_the_callers_subtree(tree, login_as):
    client, _ = login_as(Role.ORGANISER, tree.town_a)
    html = client.get("/admin/orgs").get_data(as_text=True)
    assert "东关社区" in html
    assert "岘山社区" not in html
    assert "共青团即墨区委员会" not in html


def test_volunteer_cannot_open_staff_pages(login_as):
    client, _ = login_as(None)
    assert client.get("/admin/orgs").status_code == 403
    assert client.get("/admin/roles").status_code == 403
    assert client.get("/admin/audit").status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/orgs")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_organiser_cannot_read_the_audit_log(tree, login_as):
    client, _ = login_as(Role.ORGANISER, tree.town_a)
    assert client.get("/admin/audit").status_code == 403
