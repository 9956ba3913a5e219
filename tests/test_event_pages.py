"""Residents' event pages: list and filters, visibility, sign-up and cancel over HTTP, my
shifts, calendars."""

from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar
from sqlalchemy import select

from tests.conftest import PASSWORD, Auth, csrf_token
from volunteer_app.extensions import db
from volunteer_app.models import (
    EventStatus,
    OrgLevel,
    Signup,
    SignupStatus,
    TeamMembership,
    User,
    Visibility,
)
from volunteer_app.models.volunteers import MembershipStatus
from volunteer_app.services import listing, orgs
from volunteer_app.timeutil import local_today, utcnow


def login(app, user):
    client = app.test_client()
    Auth(client).login(user.phone, PASSWORD)
    return client


def test_the_list_shows_published_upcoming_events_with_places_left(client, make_event):
    make_event(capacity=8, title="街巷清洁")
    make_event(title="草稿活动", status=EventStatus.DRAFT)
    make_event(title="过去的活动", starts_in=timedelta(days=-3))
    html = client.get("/events").get_data(as_text=True)
    assert "街巷清洁" in html and "剩余 8 个名额" in html
    assert "草稿活动" not in html and "过去的活动" not in html


def test_filters_by_category_area_and_places(client, tree, make_event, make_volunteer):
    make_event(title="交通文明岗", category="traffic_order")
    _e, full = make_event(title="满员活动", capacity=1, waitlist=0)
    from volunteer_app import signups
    from volunteer_app.timeutil import local_today, utcnow

    signups.sign_up(make_volunteer(), full, now=utcnow(), today=local_today())
    db.session.commit()
    html = client.get("/events?category=traffic_order").get_data(as_text=True)
    assert "交通文明岗" in html and "满员活动" not in html
    html = client.get("/events?places=1").get_data(as_text=True)
    assert "交通文明岗" in html and "满员活动" not in html
    html = client.get(f"/events?area={tree.town_b.id}").get_data(as_text=True)
    assert "交通文明岗" not in html  # its area is a community of town A


def test_today_and_this_week_show_a_shift_under_way_and_not_one_after_the_window(
    client, make_event
):
    """Whatever the day and hour (tests/dated.py runs this on moved clocks): a shift that
    started an hour ago is today and this week; one starting an hour after the window's own
    end (the listing's boundary, local midnight) is not."""
    make_event(title="正在进行的活动", starts_in=timedelta(hours=-1), opens_days=None)
    make_event(title="明年的活动", starts_in=timedelta(days=300), opens_days=None)
    now, today = utcnow(), local_today()
    for when in ("today", "week"):
        _start, end = listing._window(when, today)
        title = f"窗口之后的活动{when}"
        make_event(title=title, starts_in=end - now + timedelta(hours=1), opens_days=None)
        html = client.get(f"/events?when={when}").get_data(as_text=True)
        assert "正在进行的活动" in html
        assert "明年的活动" not in html
        assert title not in html


def test_near_my_community_comes_first(app, tree, make_event, make_volunteer):
    far, _ = make_event(title="远处的活动", starts_in=timedelta(days=1))
    far.area_id = tree.community_b1.id
    _near, _ = make_event(title="家门口的活动", starts_in=timedelta(days=3))
    db.session.commit()
    volunteer = make_volunteer(tree.community_a1)
    html = login(app, volunteer).get("/events").get_data(as_text=True)
    assert html.index("家门口的活动") < html.index("远处的活动")
    assert "就在您的社区" in html


def test_members_only_events_are_hidden_from_others(app, tree, make_event, make_volunteer, client):
    team = orgs.create_node("巾帼志愿服务队", OrgLevel.TEAM, tree.womens_federation)
    db.session.commit()
    event, _ = make_event(
        title="队员活动", host=tree.womens_federation, visibility=Visibility.MEMBERS
    )
    assert "队员活动" not in client.get("/events").get_data(as_text=True)
    assert client.get(f"/events/{event.id}").status_code == 404
    member = make_volunteer()
    db.session.add(
        TeamMembership(user_id=member.id, team_id=team.id, status=MembershipStatus.APPROVED)
    )
    db.session.commit()
    member_client = login(app, member)
    assert "队员活动" in member_client.get("/events").get_data(as_text=True)
    assert member_client.get(f"/events/{event.id}").status_code == 200


def test_a_draft_answers_404(client, make_event):
    event, _ = make_event(status=EventStatus.DRAFT)
    assert client.get(f"/events/{event.id}").status_code == 404


def test_sign_up_and_cancel_through_the_pages(app, make_event, make_volunteer):
    _event, shift = make_event(capacity=1, waitlist=2)
    first, second = make_volunteer(), make_volunteer()
    a, b = login(app, first), login(app, second)
    response = Auth(a).post(f"/shifts/{shift.id}/signup", follow_redirects=True)
    assert "报名成功" in response.get_data(as_text=True)
    response = Auth(b).post(f"/shifts/{shift.id}/signup", follow_redirects=True)
    assert "候补，排第 1 位" in response.get_data(as_text=True)
    signup = db.session.scalar(select(Signup).where(Signup.user_id == first.id))
    Auth(a).post(f"/signups/{signup.id}/cancel", {"next": "my_shifts"})
    html = b.get("/my/shifts").get_data(as_text=True)
    assert "已确认" in html
    promoted = db.session.scalar(select(Signup).where(Signup.user_id == second.id))
    assert promoted.status is SignupStatus.CONFIRMED


def test_a_sign_up_through_the_page_takes_six_statements(app, make_event, make_volunteer):
    """The hot path's reads and writes, counted (BEGIN and COMMIT aside): the user, the
    shift with its event and the volunteer's profile, the volunteer's standing, the
    shift's counter, the sign-up (returning the last place in the queue before it), the
    notice. A column the
    refusal checks or the notice read that the first query does not load (a lazy load) or
    an object read again fails this before it slows the sign-ups down."""
    from sqlalchemy import event as sa_event

    _event, shift = make_event(capacity=1, waitlist=2)
    client = login(app, make_volunteer())
    shift_id, token = shift.id, csrf_token(client, "/")
    url = f"/shifts/{shift_id}/signup"
    db.session.expunge_all()
    sent: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")):
            sent.append(" ".join(statement.split()[:4]))

    sa_event.listen(db.engine, "before_cursor_execute", note)
    try:
        response = client.post(url, data={"csrf_token": token})
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", note)
    assert response.status_code == 302
    assert db.session.scalar(select(Signup).where(Signup.shift_id == shift_id)) is not None
    assert len(sent) == 6, sent


def _statements_of(client, url: str, data: dict) -> tuple[int, list[str]]:
    """The status of a POST and every statement it sent, BEGIN and COMMIT included."""
    from sqlalchemy import event as sa_event

    sent: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        sent.append(" ".join(statement.split()[:3]))

    sa_event.listen(db.engine, "before_cursor_execute", note)
    try:
        response = client.post(url, data=data)
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", note)
    return response.status_code, sent


def test_a_sign_up_holds_sqlite_write_lock_only_from_its_first_write(
    app, make_event, make_volunteer
):
    """The checks read before SQLite's one write lock is taken (as PostgreSQL's reads come
    before the first row lock); the place is claimed, and the sign-up written, under it."""
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL: no write lock of the whole database to take
    _event, shift = make_event(capacity=1, waitlist=2)
    client = login(app, make_volunteer())
    shift_id, token = shift.id, csrf_token(client, "/")
    db.session.expunge_all()
    status, sent = _statements_of(client, f"/shifts/{shift_id}/signup", {"csrf_token": token})
    assert status == 302
    lock = sent.index("BEGIN IMMEDIATE")
    before, after = sent[:lock], sent[lock:]
    assert any(s.startswith("SELECT shifts.id") for s in before), sent
    assert any(s.startswith("SELECT signups.shift_id") for s in before), sent  # standing
    assert after[1].startswith("UPDATE shifts"), sent
    assert any(s.startswith("INSERT INTO signups") for s in after), sent
    assert db.session.scalar(select(Signup).where(Signup.shift_id == shift_id)) is not None


def test_a_refused_sign_up_takes_no_write_lock(app, make_event, make_volunteer):
    """A sign-up the checks refuse (the shift full, no waitlist) never waits for SQLite's
    write lock nor holds it from the writers."""
    _event, shift = make_event(capacity=1, waitlist=0)
    first = login(app, make_volunteer())
    shift_id, token = shift.id, csrf_token(first, "/")
    first.post(f"/shifts/{shift_id}/signup", data={"csrf_token": token})
    second = login(app, make_volunteer())
    token = csrf_token(second, "/")
    db.session.expunge_all()
    status, sent = _statements_of(second, f"/shifts/{shift_id}/signup", {"csrf_token": token})
    assert status == 302
    assert "BEGIN IMMEDIATE" not in sent
    assert not any(s.startswith(("UPDATE", "INSERT")) for s in sent), sent
    assert len(db.session.scalars(select(Signup).where(Signup.shift_id == shift_id)).all()) == 1


def test_the_event_page_says_why_one_cannot_sign_up(app, make_event, make_user):
    event, _shift = make_event(party_only=True)
    html = login(app, make_user()).get(f"/events/{event.id}").get_data(as_text=True)
    assert "仅限党员" in html and "资料尚未填写完整" in html
    assert 'data-testid="signup"' not in html


def test_a_refused_sign_up_changes_nothing(app, make_event, make_user):
    _event, shift = make_event()
    client = login(app, make_user())
    response = Auth(client).post(f"/shifts/{shift.id}/signup", follow_redirects=True)
    assert "资料尚未填写完整" in response.get_data(as_text=True)
    assert db.session.scalar(select(Signup)) is None


def test_cancelling_someone_elses_signup_answers_404(app, make_event, make_volunteer):
    _event, shift = make_event()
    owner, other = make_volunteer(), make_volunteer()
    Auth(login(app, owner)).post(f"/shifts/{shift.id}/signup")
    signup = db.session.scalar(select(Signup))
    assert Auth(login(app, other)).post(f"/signups/{signup.id}/cancel").status_code == 404
    db.session.refresh(signup)
    assert signup.status is SignupStatus.CONFIRMED


def test_after_the_deadline_my_shifts_explains_instead_of_a_button(app, make_event, make_volunteer):
    _event, shift = make_event(starts_in=timedelta(hours=1))
    volunteer = make_volunteer()
    client = login(app, volunteer)
    Auth(client).post(f"/shifts/{shift.id}/signup")
    html = client.get("/my/shifts").get_data(as_text=True)
    assert 'data-testid="cancel-closed"' in html and "请联系组织者" in html


def test_shift_ics_parses_with_a_calendar_library(client, make_event):
    event, shift = make_event(title="交通文明岗")
    body = client.get(f"/shifts/{shift.id}.ics")
    assert body.mimetype == "text/calendar"
    cal = Calendar.from_ical(body.data)
    items = list(cal.walk("VEVENT"))
    assert len(items) == 1
    assert "交通文明岗" in str(items[0]["summary"])
    assert items[0].decoded("dtstart").replace(tzinfo=None) == shift.starts_at
    event_cal = Calendar.from_ical(client.get(f"/events/{event.id}.ics").data)
    assert len(list(event_cal.walk("VEVENT"))) == 1


def test_the_personal_feed_lists_my_shifts_and_a_new_link_revokes_the_old(
    app, make_event, make_volunteer
):
    _e, shift = make_event(title="街巷清洁")
    volunteer = make_volunteer()
    client = login(app, volunteer)
    Auth(client).post(f"/shifts/{shift.id}/signup")
    client.get("/my/calendar")
    token = db.session.get(User, volunteer.id).calendar_token
    anonymous = app.test_client()
    feed = Calendar.from_ical(anonymous.get(f"/calendar/{token}.ics").data)
    assert [str(e["summary"]) for e in feed.walk("VEVENT")] == ["街巷清洁 · 清扫组"]
    Auth(client).post("/my/calendar")
    assert anonymous.get(f"/calendar/{token}.ics").status_code == 404
