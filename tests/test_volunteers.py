"""Volunteer profiles: steps, ID rules, minors, masking and its audit, rights, scope, teams."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import Auth
from volunteer_app.extensions import db
from volunteer_app.models import (
    AffiliationHistory,
    AuditLog,
    MembershipStatus,
    OrgLevel,
    PoliticalStatus,
    Role,
    SmsCode,
    TeamMembership,
    User,
    VolunteerProfile,
)
from volunteer_app.services import ServiceError, orgs, volunteer_search, volunteers
from volunteer_app.services.idnumbers import make_resident_number
from volunteer_app.timeutil import local_today, utcnow

ADULT_ID = make_resident_number("370282", date(1990, 3, 15), 12, True)
MINOR_BIRTH = date(local_today().year - 15, 6, 1)
MINOR_ID = make_resident_number("370282", MINOR_BIRTH, 14, False)


def complete(user: User, tree, number: str = ADULT_ID, *, party: bool = False) -> None:
    today, now = local_today(), utcnow()
    volunteers.set_identity(user, "张三", volunteers.IdType.RESIDENT, number, today=today)
    volunteers.set_residence(user, tree.community_a1, now=now)
    status = PoliticalStatus.CPC_MEMBER if party else PoliticalStatus.MASSES
    volunteers.set_politics(user, status, tree.branch if party else None, now=now)
    volunteers.set_details(
        user,
        skills=["first_aid"],
        categories=["traffic_order"],
        availability=[],
        emergency_name="李四",
        emergency_phone="13700001111",
    )
    profile = volunteers.profile_of(user)
    minor = volunteers.is_minor(profile, today)
    volunteers.give_consent(
        user,
        privacy=True,
        sensitive=True,
        now=now,
        today=today,
        guardian_name="张父" if minor else "",
        guardian_phone="13700002222" if minor else "",
        guardian_consent=minor,
    )
    db.session.commit()


def test_the_profile_says_what_is_missing_until_every_step_is_done(tree, login_as):
    client, user = login_as(None)
    html = client.get("/me").get_data(as_text=True)
    assert 'data-testid="missing-steps"' in html
    assert "实名和证件号码" in html
    complete(user, tree)
    html = client.get("/me").get_data(as_text=True)
    assert 'data-testid="profile-complete"' in html


def consent_first(user: User) -> None:
    """The privacy and sensitive-data consent, which the identity step requires first."""
    volunteers.give_consent(user, privacy=True, sensitive=True, now=utcnow(), today=local_today())
    db.session.commit()


def test_identity_step_derives_birth_date_and_gender_and_encrypts(tree, login_as):
    client, user = login_as(None)
    consent_first(user)
    response = Auth(client).post(
        "/me/identity", {"real_name": "张三", "id_type": "resident", "id_number": ADULT_ID}
    )
    assert response.status_code == 302
    profile = db.session.get(VolunteerProfile, user.id)
    assert profile.birth_date == date(1990, 3, 15)
    assert profile.gender.value == "male"
    assert ADULT_ID not in profile.id_number_encrypted
    assert volunteers.id_number_of(profile) == ADULT_ID
    assert profile.id_masked == ADULT_ID[:6] + "********" + ADULT_ID[-4:]


def test_a_wrong_check_character_is_refused_and_nothing_is_written(login_as):
    client, user = login_as(None)
    consent_first(user)
    bad = ADULT_ID[:-1] + ("0" if ADULT_ID[-1] != "0" else "1")
    response = Auth(client).post(
        "/me/identity", {"real_name": "张三", "id_type": "resident", "id_number": bad}
    )
    assert "校验" in response.get_data(as_text=True)
    assert db.session.get(VolunteerProfile, user.id).id_hash is None


def test_an_id_number_registered_to_another_account_is_refused(tree, make_user):
    first, second = make_user(), make_user()
    complete(first, tree)
    with pytest.raises(ServiceError) as refused:
        volunteers.set_identity(
            second, "王五", volunteers.IdType.RESIDENT, ADULT_ID, today=local_today()
        )
    assert "已被其他账号登记" in refused.value.messages[0]
    db.session.rollback()
    assert db.session.get(VolunteerProfile, second.id) is None


def test_party_members_must_name_a_branch_and_others_have_none(tree, make_user):
    user = make_user()
    with pytest.raises(ServiceError):
        volunteers.set_politics(user, PoliticalStatus.CPC_MEMBER, None, now=utcnow())
    with pytest.raises(ServiceError):  # a community is not a branch
        volunteers.set_politics(user, PoliticalStatus.CPC_MEMBER, tree.community_a1, now=utcnow())
    profile = volunteers.set_politics(user, PoliticalStatus.MASSES, tree.branch, now=utcnow())
    assert profile.branch_id is None


def test_dual_reporting_keeps_work_branch_and_home_community(tree, make_user):
    user = make_user()
    complete(user, tree, party=True)
    profile = db.session.get(VolunteerProfile, user.id)
    assert (profile.community_id, profile.branch_id) == (tree.community_a1.id, tree.branch.id)


def test_a_change_of_community_is_kept_in_the_history(tree, make_user):
    user = make_user()
    complete(user, tree)
    volunteers.set_residence(user, tree.community_b1, now=utcnow())
    db.session.commit()
    rows = db.session.scalars(
        select(AffiliationHistory)
        .where(AffiliationHistory.user_id == user.id)
        .order_by(AffiliationHistory.id)
    ).all()
    assert [r.community_id for r in rows] == [tree.community_a1.id, tree.community_b1.id]
    assert rows[0].valid_to is not None and rows[1].valid_to is None


def test_a_minor_needs_a_guardians_name_phone_and_consent(tree, make_user):
    user = make_user()
    today = local_today()
    volunteers.set_identity(user, "小张", volunteers.IdType.RESIDENT, MINOR_ID, today=today)
    with pytest.raises(ServiceError) as refused:
        volunteers.give_consent(user, privacy=True, sensitive=True, now=utcnow(), today=today)
    assert len(refused.value.messages) == 3
    profile = volunteers.profile_of(user)
    assert volunteers.is_minor(profile, today)
    assert any(s.key == "consent" for s in volunteers.missing_steps(profile, today))


def test_an_adults_consent_needs_no_guardian(tree, make_user):
    user = make_user()
    complete(user, tree)
    assert volunteers.is_complete(db.session.get(VolunteerProfile, user.id), local_today())


def test_organiser_pages_mask_phone_and_id_and_log_the_view(tree, make_user, login_as):
    volunteer = make_user()
    complete(volunteer, tree)
    client, organiser = login_as(Role.ORGANISER, tree.town_a)
    listing = client.get("/volunteers").get_data(as_text=True)
    detail = client.get(f"/volunteers/{volunteer.id}").get_data(as_text=True)
    for html in (listing, detail):
        assert volunteer.phone not in html
        assert volunteer.masked_phone in html
        assert ADULT_ID not in html
        assert ADULT_ID[:6] + "********" + ADULT_ID[-4:] in html
    assert db.session.scalar(
        select(AuditLog).where(
            AuditLog.action == "pii.view_profile", AuditLog.actor_id == organiser.id
        )
    )


def test_showing_the_full_phone_is_logged(tree, make_user, login_as):
    volunteer = make_user()
    complete(volunteer, tree)
    client, organiser = login_as(Role.ORGANISER, tree.town_a)
    html = Auth(client).post(f"/volunteers/{volunteer.id}/phone").get_data(as_text=True)
    assert volunteer.phone in html
    assert db.session.scalar(
        select(AuditLog).where(
            AuditLog.action == "pii.view_phone", AuditLog.actor_id == organiser.id
        )
    )


def test_an_organiser_of_one_town_cannot_find_another_towns_volunteers(tree, make_user, login_as):
    volunteer = make_user()
    complete(volunteer, tree)  # lives in town A
    client, _ = login_as(Role.ORGANISER, tree.town_b)
    assert volunteer.masked_phone not in client.get("/volunteers").get_data(as_text=True)
    assert client.get(f"/volunteers/{volunteer.id}").status_code == 404
    assert Auth(client).post(f"/volunteers/{volunteer.id}/phone").status_code == 404


def test_a_branch_secretary_sees_the_branchs_members_wherever_they_live(tree, make_user, login_as):
    member = make_user()
    complete(member, tree, party=True)
    volunteers.set_residence(member, tree.community_b1, now=utcnow())  # lives in town B
    db.session.commit()
    client, _ = login_as(Role.BRANCH_SECRETARY, tree.branch)
    assert client.get(f"/volunteers/{member.id}").status_code == 200
    other = make_user()
    complete(other, tree, number=make_resident_number("370282", date(1980, 1, 1), 3, True))
    assert client.get(f"/volunteers/{other.id}").status_code == 404


def test_search_by_phone_tail_and_name(tree, make_user, login_as):
    volunteer = make_user()
    complete(volunteer, tree)
    client, _ = login_as(Role.ORGANISER, tree.town_a)
    assert "张三" in client.get(f"/volunteers?q={volunteer.phone[-4:]}").get_data(as_text=True)
    assert "张三" in client.get("/volunteers?q=张").get_data(as_text=True)
    assert "张三" not in client.get("/volunteers?q=欧阳").get_data(as_text=True)


def test_a_volunteer_downloads_all_their_data(tree, login_as):
    client, user = login_as(None)
    complete(user, tree)
    response = client.get("/me/data?format=json")
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(response.get_data(as_text=True))
    assert data["志愿者档案"]["证件号码"] == ADULT_ID  # labelled in Chinese
    assert data["账号"]["手机号"] == user.phone
    assert "张三" in client.get("/me/data").get_data(as_text=True)


def test_deleting_the_account_erases_personal_data_and_keeps_the_audit(tree, login_as):
    client, user = login_as(None)
    complete(user, tree)
    from tests.conftest import PASSWORD

    response = Auth(client).post("/me/delete", {"password": PASSWORD, "confirm": "y"})
    assert response.status_code == 302
    row = db.session.get(User, user.id)
    profile = db.session.get(VolunteerProfile, user.id)
    assert row.deleted_at is not None and not row.active and row.phone.startswith("d")
    assert profile.real_name is None and profile.id_hash is None
    assert profile.community_id == tree.community_a1.id  # attribution stays for tallies
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "account.delete"))
    # The ID number and the phone are free for a new registration.
    assert volunteer_search.load_for(row, user.id) is None


def test_deletion_needs_the_password(tree, login_as):
    client, user = login_as(None)
    response = Auth(client).post("/me/delete", {"password": "wrong", "confirm": "y"})
    assert "密码不正确" in response.get_data(as_text=True)
    assert db.session.get(User, user.id).deleted_at is None


def test_joining_a_team_needs_the_organisers_approval(tree, make_user, login_as):
    team = orgs.create_node("青年突击队", OrgLevel.TEAM, tree.youth_league)
    db.session.commit()
    volunteer_client, _volunteer = login_as(None)
    Auth(volunteer_client).post("/me/teams", {"team": team.id, "op": "join"})
    row = db.session.scalar(select(TeamMembership))
    assert row.status is MembershipStatus.PENDING
    outsider, _ = login_as(Role.ORGANISER, tree.womens_federation)
    assert (
        Auth(outsider)
        .post("/volunteers/team-requests", {"membership": row.id, "op": "approve"})
        .status_code
        == 404
    )
    organiser, _ = login_as(Role.ORGANISER, tree.youth_league)
    Auth(organiser).post("/volunteers/team-requests", {"membership": row.id, "op": "approve"})
    db.session.refresh(row)
    assert row.status is MembershipStatus.APPROVED


identity_fields = st.fixed_dictionaries(
    {
        "real_name": st.text(max_size=60),
        "id_type": st.sampled_from(["resident", "passport", "taiwan", "hk_macao", "bogus", ""]),
        "id_number": st.text(max_size=40),
        "gender": st.sampled_from(["", "male", "female", "x"]),
        "birth_date": st.sampled_from(["", "1990-01-01", "2999-01-01", "not a date"]),
    }
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fields=identity_fields)
def test_no_identity_input_gives_a_server_error(login_as, fields):
    client, user = login_as(None)
    consent_first(user)
    response = Auth(client).post("/me/identity", fields)
    assert response.status_code in (200, 302, 400)  # 400: a NUL byte, refused outright


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(phone=st.text(max_size=30))
def test_registration_step_one_gives_no_server_error_and_only_a_sent_code_writes(app, phone):
    """Step one never makes an account; it stores a code only when it moves on to step two."""
    client = app.test_client()
    from tests.conftest import csrf_token

    token = csrf_token(client, "/auth/register")
    codes_before = db.session.scalar(select(func.count()).select_from(SmsCode))
    response = client.post("/auth/register", data={"csrf_token": token, "phone": phone})
    assert response.status_code in (200, 302, 400)  # 400: a NUL byte, refused outright
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    codes_after = db.session.scalar(select(func.count()).select_from(SmsCode))
    if response.status_code == 302:
        assert codes_after == codes_before + 1
    else:
        assert codes_after == codes_before
