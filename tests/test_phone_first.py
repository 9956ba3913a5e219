"""Issue 20: the volunteer home, consent before the ID number, pages in words (no codes),
the event list and event page, tallies defaults, registration and login helps, org trees,
sharing an event."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from tests.conftest import PASSWORD, Auth
from volunteer_app.extensions import db
from volunteer_app.models import (
    AuditLog,
    CodePurpose,
    OrgLevel,
    PoliticalStatus,
    Role,
    Signup,
    SignupStatus,
    SmsCode,
    User,
    VolunteerProfile,
)
from volunteer_app.services import listing, orgs, volunteers
from volunteer_app.services.idnumbers import make_resident_number
from volunteer_app.tallies import Period
from volunteer_app.tallies.forms import recent_months
from volunteer_app.timeutil import local_today, utcnow

ADULT_ID = make_resident_number("370282", date(1988, 7, 9), 31, True)


def client_of(app, user):
    client = app.test_client()
    assert Auth(client).login(user.phone, PASSWORD).status_code == 302
    return client


def sign_up(user, shift, status=SignupStatus.CONFIRMED):
    db.session.add(Signup(shift_id=shift.id, user_id=user.id, status=status, queued_at=utcnow()))
    shift.taken += 1
    db.session.commit()


# ---------------------------------------------------------------- the volunteer's home


def test_the_home_page_shows_my_code_first_then_hours_next_shift_and_events_nearby(
    app, make_volunteer, make_event
):
    volunteer = make_volunteer()
    _event, shift = make_event(title="东关街巷清洁", starts_in=timedelta(days=1))
    make_event(title="附近的另一个活动", starts_in=timedelta(days=4))
    sign_up(volunteer, shift)
    html = client_of(app, volunteer).get("/").get_data(as_text=True)
    code = html.index('data-testid="home-qr"')
    assert "我的志愿码" in html
    assert code < html.index('data-testid="home-hours"') < html.index("东关街巷清洁")
    assert "0.0 小时" in html and "暂无星级" in html
    assert 'data-testid="home-next-shift"' in html
    assert "附近的另一个活动" in html.split('data-testid="home-nearby"')[1]


def test_finishing_the_profile_lands_on_the_home_page_with_one_banner_and_a_next_step(
    app, tree, make_user
):
    user = make_user()
    today, now = local_today(), utcnow()
    volunteers.give_consent(user, privacy=True, sensitive=True, now=now, today=today)
    volunteers.set_identity(user, "张三", volunteers.IdType.RESIDENT, ADULT_ID, today=today)
    volunteers.set_residence(user, tree.community_a1, now=now)
    volunteers.set_politics(user, PoliticalStatus.MASSES, None, now=now)
    db.session.commit()
    client = client_of(app, user)
    response = Auth(client).post(
        "/me/details",
        {
            "categories": ["traffic_order"],
            "emergency_name": "李四",
            "emergency_phone": "13700001111",
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
    html = client.get("/").get_data(as_text=True)
    assert html.count("alert-success") == 1
    assert 'data-testid="next-step"' in html and "下一步" in html


# ---------------------------------------------------------------- PIPL


def test_the_id_number_is_asked_for_only_after_consent(app, make_user):
    user = make_user()
    client = client_of(app, user)
    response = client.get("/me/identity")
    assert response.status_code == 302 and response.headers["Location"].endswith("/me/consent")
    Auth(client).post(
        "/me/identity", {"real_name": "张三", "id_type": "resident", "id_number": ADULT_ID}
    )
    profile = db.session.get(VolunteerProfile, user.id)
    assert profile is None or profile.id_hash is None
    assert volunteers.STEPS[0].key == "consent"


def test_consent_then_an_id_number_showing_a_minor_asks_for_the_guardian(app, make_user):
    user = make_user()
    today, now = local_today(), utcnow()
    volunteers.give_consent(user, privacy=True, sensitive=True, now=now, today=today)
    minor = make_resident_number("370282", date(today.year - 15, 6, 1), 14, False)
    volunteers.set_identity(user, "小李", volunteers.IdType.RESIDENT, minor, today=today)
    db.session.commit()
    missing = volunteers.missing_steps(db.session.get(VolunteerProfile, user.id), today)
    assert missing[0].key == "consent"
    html = client_of(app, user).get("/me/consent").get_data(as_text=True)
    assert "监护人" in html


def test_my_data_on_screen_masks_the_id_number_and_uses_words_not_keys(app, make_volunteer):
    volunteer = make_volunteer()
    profile = db.session.get(VolunteerProfile, volunteer.id)
    number = volunteers.id_number_of(profile)
    html = client_of(app, volunteer).get("/me/data").get_data(as_text=True)
    assert number not in html and profile.id_masked in html
    for raw in (">male<", ">resident<", "real_name", "created_at", ">True<", ">False<"):
        assert raw not in html, raw
    assert "居民身份证" in html and "男" in html
    download = client_of(app, volunteer).get("/me/data?format=json").get_data(as_text=True)
    assert number in download  # the download (PIPL Art 45) stays complete


# ---------------------------------------------------------------- codes in words


def test_the_audit_log_names_actions_and_objects_in_words(app, login_as, tree, make_user):
    client, admin = login_as(Role.ADMIN)
    target = make_user()
    from volunteer_app.services import roles

    roles.grant(admin, target, Role.LEAD, tree.community_a1)
    db.session.commit()
    client.get("/me/data")  # audited with obj=current_user (a proxy)
    row = db.session.scalar(
        select(AuditLog).where(AuditLog.action == "pii.self_export").order_by(AuditLog.id.desc())
    )
    assert row.object_type == "User"
    html = client.get("/admin/audit").get_data(as_text=True)
    assert "授予角色" in html and "role.grant" not in html
    assert "LocalProxy" not in html and "RoleGrant" not in html


def test_attendance_shows_sign_up_statuses_in_words(app, login_as, make_volunteer, make_event):
    client, _ = login_as(Role.ADMIN)
    _event, shift = make_event()
    sign_up(make_volunteer(), shift, SignupStatus.ATTENDED)
    html = client.get(f"/checkin/shifts/{shift.id}/attendance").get_data(as_text=True)
    assert ">attended<" not in html and "已参加" in html


def test_a_system_cancellation_reason_is_shown_in_words(app):
    from volunteer_app.labels import system_reason

    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert "候补已失效" in system_reason("waitlist expired")
        assert system_reason("临时有事") == "临时有事"


# ---------------------------------------------------------------- the event pages


def test_the_event_list_is_sorted_by_start_time(app, tree, make_event, make_volunteer):
    make_event(title="家门口三天后", starts_in=timedelta(days=3))
    sooner, _ = make_event(title="远处明天", starts_in=timedelta(days=1))
    sooner.area_id = tree.community_b1.id
    db.session.commit()
    volunteer = make_volunteer(tree.community_a1)
    events = db.session.scalars(
        listing.query_events(volunteer, listing.Filters(), now=utcnow(), today=local_today())
    ).all()
    assert [e.title for e in events] == ["远处明天", "家门口三天后"]
    assert [e.title for e in listing.near_home(volunteer, now=utcnow())] == ["家门口三天后"]


def test_the_filters_are_collapsed_until_one_is_set(client, make_event):
    make_event()
    html = client.get("/events").get_data(as_text=True)
    assert re.search(r"<details class=\"filters-box[^>]*data-open-wide>", html)
    html = client.get("/events?when=week").get_data(as_text=True)
    assert re.search(r"<details class=\"filters-box[^>]*data-open-wide open>", html)


def test_a_shift_over_two_days_shows_both_dates(client, make_event):
    event, _ = make_event(hours=30)
    html = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert re.search(r"\d+月\d+日 周. \d\d:\d\d – \d+月\d+日 \d\d:\d\d", html)


def test_an_ended_shift_shows_no_places_left(client, make_event):
    event, _ = make_event(starts_in=timedelta(hours=-5), hours=2)
    html = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "已结束" in html and "个名额" not in html


def test_the_contact_number_is_a_tap_to_call_link_and_the_place_has_a_map_link(client, make_event):
    event, _ = make_event(contact_name="王老师", contact_phone="0532-88511000")
    html = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert 'href="tel:053288511000"' in html
    assert 'data-testid="map"' in html and "uri.amap.com/search?keyword=" in html


def test_cancelling_asks_for_confirmation_first(app, make_volunteer, make_event):
    volunteer = make_volunteer()
    event, shift = make_event()
    sign_up(volunteer, shift)
    html = client_of(app, volunteer).get(f"/events/{event.id}").get_data(as_text=True)
    box = html.split('data-testid="cancel"')[1].split("</details>")[0]
    assert "<summary" in box and 'data-testid="confirm-cancel"' in box
    assert "onclick" not in box


# ---------------------------------------------------------------- tallies


def test_tallies_default_to_the_last_twelve_months(app, login_as):
    assert recent_months(date(2026, 1, 5)) == Period(202502, 202601, "recent")
    assert recent_months(date(2026, 12, 5)) == Period(202601, 202612, "recent")
    client, _ = login_as(Role.ADMIN)
    html = client.get("/tallies/").get_data(as_text=True)
    assert re.search(r'<option selected value="recent">近12个月</option>', html)


def test_switching_the_tally_tab_keeps_the_period(app, login_as):
    client, _ = login_as(Role.ADMIN)
    html = client.get("/tallies/?dim=area&period=year&category=traffic_order").get_data(
        as_text=True
    )
    tab = re.search(r'href="([^"]*)" data-testid="dim-party"', html).group(1)
    assert "period=year" in tab and "category=traffic_order" in tab


def test_the_leaderboard_puts_units_without_hours_last_in_name_order(app, login_as, tree):
    orgs.create_node("A社区", OrgLevel.COMMUNITY, tree.town_a)
    db.session.commit()
    client, _ = login_as(Role.ADMIN)
    html = client.get(f"/tallies/leaderboard?area={tree.town_a.id}").get_data(as_text=True)
    table = html.split('data-testid="rank-area"')[1].split("</table>")[0]
    names = re.findall(r'/tallies/area/\d+">([^<]+)</a>', table)
    assert names == sorted(names) and "A社区" in names
    assert "无审核通过时长，不排名" in html


def test_the_dual_report_tells_namesakes_apart_and_prints_from_a_button(
    app, login_as, tree, make_volunteer
):
    first = make_volunteer(party=True)
    second = make_volunteer(party=True)
    for user in (first, second):
        db.session.get(VolunteerProfile, user.id).real_name = "王伟"
    db.session.commit()
    client, _ = login_as(Role.ADMIN)
    html = client.get(f"/tallies/party/{tree.branch.id}/dual").get_data(as_text=True)
    assert first.masked_phone in html and second.masked_phone in html
    assert "data-print" in html and "Ctrl" not in html


# ---------------------------------------------------------------- registration and login


def test_the_party_branch_of_the_home_community_is_preselected(app, tree, make_user):
    user = make_user()
    volunteers.set_residence(user, tree.community_a1, now=utcnow())
    db.session.commit()
    html = client_of(app, user).get("/me/politics").get_data(as_text=True)
    assert re.search(rf'<option selected value="{tree.branch.id}">', html)


def test_a_duplicate_id_number_offers_the_way_back_into_the_other_account(app, tree, make_user):
    owner, newcomer = make_user(), make_user()
    today, now = local_today(), utcnow()
    volunteers.set_identity(owner, "张三", volunteers.IdType.RESIDENT, ADULT_ID, today=today)
    volunteers.give_consent(newcomer, privacy=True, sensitive=True, now=now, today=today)
    db.session.commit()
    client = client_of(app, newcomer)
    html = (
        Auth(client)
        .post("/me/identity", {"real_name": "张三", "id_type": "resident", "id_number": ADULT_ID})
        .get_data(as_text=True)
    )
    assert 'data-testid="recover-account"' in html
    assert owner.masked_phone in html and owner.phone not in html
    assert "/auth/reset" in html


def _code(phone: str) -> str:
    from volunteer_app.models import Notification

    row = db.session.scalar(
        select(Notification).where(Notification.address == phone).order_by(Notification.id.desc())
    )
    return re.search(r"\b(\d{6})\b", row.body).group(1)


def test_logging_in_with_an_sms_code(app, client, make_user):
    user = make_user()
    auth = Auth(client)
    response = auth.post("/auth/sms-login", {"phone": user.phone})
    assert response.headers["Location"].endswith("/auth/sms-login/verify")
    response = auth.post("/auth/sms-login/verify", {"code": "000000"})
    assert "验证码" in response.get_data(as_text=True)  # a wrong code: the form again
    response = auth.post("/auth/sms-login/verify", {"code": _code(user.phone)})
    assert response.status_code == 302
    assert 'data-testid="whoami"' in client.get("/").get_data(as_text=True)


def test_login_codes_have_the_registration_limits(app, client, make_user):
    user = make_user()
    auth = Auth(client)
    auth.post("/auth/sms-login", {"phone": user.phone})
    again = auth.post("/auth/sms-login", {"phone": user.phone})
    assert again.status_code == 200 and "秒后" in again.get_data(as_text=True)
    codes = db.session.scalars(select(SmsCode).where(SmsCode.phone == user.phone)).all()
    assert len(codes) == 1 and codes[0].purpose is CodePurpose.LOGIN


def test_an_unknown_number_gets_no_login_code(app, client):
    Auth(client).post("/auth/sms-login", {"phone": "13912345678"})
    row = db.session.scalar(select(SmsCode).where(SmsCode.phone == "13912345678"))
    assert row is not None and row.code_hash is None
    assert db.session.scalar(select(User).where(User.phone == "13912345678")) is None


# ---------------------------------------------------------------- org trees


def test_organising_units_are_labelled_by_their_kind(app, login_as, tree):
    client, _ = login_as(Role.ADMIN)
    html = client.get(f"/admin/orgs/{tree.youth_league.id}").get_data(as_text=True)
    assert "共青团" in html.split("</h1>")[0]
    html = client.get(f"/admin/orgs/{tree.womens_federation.id}").get_data(as_text=True)
    assert "妇联" in html.split("</h1>")[0]


def test_the_move_to_list_offers_only_valid_parents(app, tree):
    team = orgs.create_node("青年突击队", OrgLevel.TEAM, tree.youth_league)
    db.session.commit()
    parents = orgs.valid_parents(tree.community_a1)
    assert {p.id for p in parents} == {tree.town_b.id}
    assert team not in parents
    # The present parent (the district) is no choice; a community or a team never is.
    assert [p.id for p in orgs.valid_parents(tree.youth_league)] == [tree.womens_federation.id]


# ---------------------------------------------------------------- sharing


def test_an_event_has_a_share_page_with_posters_and_link_preview_metadata(client, make_event):
    event, _ = make_event(title="分享的活动")
    html = client.get(f"/events/{event.id}/share").get_data(as_text=True)
    assert '<meta property="og:title" content="分享的活动">' in html
    assert f"/events/{event.id}/poster.png" in html and f"/events/{event.id}/poster.pdf" in html
    detail = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert 'property="og:image"' in detail and 'data-testid="share"' in detail
    for size in ("a4", "phone"):
        pdf = client.get(f"/events/{event.id}/poster.pdf?size={size}")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
        png = client.get(f"/events/{event.id}/poster.png?size={size}")
        assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    assert client.get(f"/events/{event.id}/poster.gif").status_code == 404
    assert client.get(f"/events/{event.id}/poster.pdf?size=huge").data.startswith(b"%PDF")
