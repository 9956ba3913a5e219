"""Organisers' event pages: create, shifts, publish, cancel, copy, repeat, the roster; scope."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import Auth
from volunteer_app import signups
from volunteer_app.extensions import db
from volunteer_app.models import (
    AuditLog,
    Channel,
    Event,
    EventStatus,
    Notification,
    Role,
    Shift,
    ShiftLead,
    Signup,
    SignupStatus,
)
from volunteer_app.services import events
from volunteer_app.services.events import EventFields, ShiftFields
from volunteer_app.timeutil import from_local, local_today, to_local, utcnow

DAY = local_today() + timedelta(days=30)


def post(client, path: str, data: dict | None = None, **kwargs):
    return Auth(client).post(path, data, **kwargs)


def text(response) -> str:
    return response.get_data(as_text=True)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """The stored (naive UTC) form of a local time on a day."""
    return from_local(datetime.combine(day, time(hour, minute)))


def shift_data(day: date = DAY, start: str = "08:00", end: str = "11:00", **extra) -> dict:
    data = {
        "post": "清扫组",
        "duties": "清扫背街小巷",
        "day": day.isoformat(),
        "start": start,
        "end": end,
        "capacity": "10",
        "waitlist_enabled": "y",
        "waitlist_limit": "5",
        "signup_opens_days": "7",
        "cancel_deadline_hours": "2",
        "checkin_opens_minutes": "30",
        "checkin_closes_minutes": "30",
    }
    data.update(extra)
    return data


def prefixed(prefix: str, data: dict) -> dict:
    return {f"{prefix}-{key}": value for key, value in data.items()}


@pytest.fixture
def organiser(login_as, tree):
    """An organiser of town A, with the pages in English."""
    client, user = login_as(Role.ORGANISER, tree.town_a)
    client.set_cookie("lang", "en")
    return client, user


@pytest.fixture
def draft(organiser, tree):
    """make(days=[DAY], ...) -> a draft hosted by town A with one 08:00–11:00 shift a day."""
    _client, user = organiser

    def make(
        days=(DAY,), capacity: int = 10, title: str = "周末清洁", opens_days: int | None = 7
    ) -> Event:
        event = events.create_event(
            user,
            tree.town_a,
            EventFields(title=title, category="env_sanitation", address="东关社区广场"),
        )
        for day in days:
            events.add_shift(
                user,
                event,
                ShiftFields(
                    post="清扫组",
                    starts_at=local(day, 8),
                    ends_at=local(day, 11),
                    capacity=capacity,
                    signup_opens_days=opens_days,
                ),
            )
        db.session.commit()
        return event

    return make


def sign_up(user, shift):
    result = signups.sign_up(user, shift, now=utcnow(), today=local_today())
    db.session.commit()
    return result.signup


# ---------------------------------------------------------------- create and publish


def test_organiser_creates_an_event_with_two_shifts_and_publishes_it(organiser, tree, make_user):
    client, _user = organiser
    lead = make_user(Role.LEAD, tree.community_a1, name="李站长")
    outsider = make_user(Role.LEAD, tree.community_b1, name="外镇站长")

    page = text(client.get("/organise/events/new"))
    assert tree.town_a.name in page and tree.community_b1.name in page  # area: whole district
    assert tree.branch.name not in page  # Party units do not host events
    response = post(
        client,
        "/organise/events/new",
        {
            "host": tree.town_a.id,
            "title": "文明交通劝导",
            "category": "traffic_order",
            "description": "路口劝导",
            "address": "鹤山路与蓝鳌路路口",
            "area_id": tree.community_a1.id,
            "contact_name": "王老师",
            "contact_phone": "0532-88886666",
            "min_age": "16",
            "dangerous": "y",
            "visibility": "public",
        },
    )
    assert response.status_code == 302
    event = db.session.scalar(select(Event).where(Event.title == "文明交通劝导"))
    assert response.headers["Location"].endswith(f"/organise/events/{event.id}")
    assert event.status is EventStatus.DRAFT
    assert (event.host_id, event.area_id, event.min_age) == (
        tree.town_a.id,
        tree.community_a1.id,
        16,
    )
    assert event.dangerous and not event.adults_only

    manage = text(client.get(f"/organise/events/{event.id}"))
    assert "李站长" in manage and "外镇站长" not in manage  # leads from the caller's scope
    for post_name, start, end in (("东口", "07:30", "09:30"), ("西口", "16:30", "18:30")):
        response = post(
            client,
            f"/organise/events/{event.id}/shifts",
            prefixed(
                "shift",
                shift_data(start=start, end=end, post=post_name, lead_ids=[str(lead.id)]),
            ),
        )
        assert response.status_code == 302, text(response)[:2000]
    shifts = db.session.scalars(select(Shift).where(Shift.event_id == event.id)).all()
    assert [
        (s.post, s.starts_at, s.ends_at) for s in sorted(shifts, key=lambda s: s.starts_at)
    ] == [
        ("东口", local(DAY, 7, 30), local(DAY, 9, 30)),
        ("西口", local(DAY, 16, 30), local(DAY, 18, 30)),
    ]
    assert all(s.signup_opens_at == s.starts_at - timedelta(days=7) for s in shifts)
    assert count(ShiftLead, ShiftLead.user_id == lead.id) == 2
    assert count(ShiftLead, ShiftLead.user_id == outsider.id) == 0
    db.session.refresh(event)
    assert event.starts_at == local(DAY, 7, 30)  # shown in local time on the pages
    assert "07:30" in text(client.get(f"/organise/events/{event.id}"))

    response = post(client, f"/organise/events/{event.id}/publish")
    assert response.status_code == 302
    db.session.refresh(event)
    assert event.status is EventStatus.PUBLISHED
    listing = text(client.get("/organise/events"))
    assert "文明交通劝导" in listing and "Published" in listing and "0/20" in listing
    assert count(AuditLog, AuditLog.action == "event.publish") == 1


def test_publishing_without_shifts_is_refused_with_the_reason(login_as, tree, draft):
    client, _user = login_as(Role.ORGANISER, tree.town_a)  # Chinese, the default
    event = draft(days=())
    response = post(client, f"/organise/events/{event.id}/publish")
    assert response.status_code == 200
    assert "发布前请至少添加一个班次。" in text(response)
    db.session.refresh(event)
    assert event.status is EventStatus.DRAFT


def test_a_new_event_needs_the_required_fields_and_writes_nothing(organiser, tree):
    client, _user = organiser
    response = post(
        client,
        "/organise/events/new",
        {"host": tree.town_a.id, "title": "", "category": "", "address": "", "latitude": "36.4"},
    )
    page = text(response)
    assert response.status_code == 200
    assert "Please enter a title." in page and "Please enter the place." in page
    assert count(Event) == 0


def test_list_shows_drafts_newest_first_and_filters_by_status(organiser, draft, make_event):
    client, _user = organiser
    make_event(title="已发布的活动")
    draft(title="草稿活动")
    page = text(client.get("/organise/events"))
    assert page.index("草稿活动") < page.index("已发布的活动")
    drafts = text(client.get("/organise/events?status=draft"))
    assert "草稿活动" in drafts and "已发布的活动" not in drafts
    for i in range(25):
        draft(days=(), title=f"更多草稿{i}")
    first = text(client.get("/organise/events?status=draft"))
    assert "更多草稿24" in first and "草稿活动" not in first and "page=2" in first
    second = text(client.get("/organise/events?status=draft&page=2"))
    assert "草稿活动" in second and "更多草稿24" not in second


# ---------------------------------------------------------------- scope


def test_another_towns_organiser_gets_404_and_does_not_see_the_event(
    login_as, tree, make_event, make_volunteer
):
    event, shift = make_event(title="环秀街道的活动")
    signup = sign_up(make_volunteer(), shift)
    other, _user = login_as(Role.ORGANISER, tree.town_b)
    for path in (
        f"/organise/events/{event.id}",
        f"/organise/shifts/{shift.id}/roster",
        f"/organise/shifts/{shift.id}/edit",
    ):
        assert other.get(path).status_code == 404, path
    for path in (
        f"/organise/events/{event.id}/edit",
        f"/organise/events/{event.id}/shifts",
        f"/organise/events/{event.id}/publish",
        f"/organise/events/{event.id}/cancel",
        f"/organise/events/{event.id}/copy",
        f"/organise/events/{event.id}/repeat",
        f"/organise/shifts/{shift.id}/edit",
        f"/organise/shifts/{shift.id}/cancel",
        f"/organise/shifts/{shift.id}/roster/add",
        f"/organise/signups/{signup.id}/remove",
    ):
        assert post(other, path, {"cancel-reason": "x"}).status_code == 404, path
    assert "环秀街道的活动" not in text(other.get("/organise/events"))
    # Nor can they host an event on town A.
    response = post(
        other,
        "/organise/events/new",
        {"host": tree.town_a.id, "title": "越权", "category": "other", "address": "某地"},
    )
    assert response.status_code == 200 and count(Event, Event.title == "越权") == 0

    own, _user = login_as(Role.ORGANISER, tree.town_a)
    assert own.get(f"/organise/events/{event.id}").status_code == 200
    assert "环秀街道的活动" in text(own.get("/organise/events"))


def test_volunteers_and_leads_cannot_open_the_organiser_pages(login_as, tree):
    for role in (Role.VOLUNTEER, Role.LEAD):
        client, _user = login_as(role, tree.community_a1)
        assert client.get("/organise/events").status_code == 403


# ---------------------------------------------------------------- cancel


def test_cancelling_an_event_cancels_the_signups_and_tells_each_volunteer_once(
    organiser, make_event, make_volunteer
):
    client, _user = organiser
    event, shift = make_event(capacity=2, waitlist=2)
    people = [make_volunteer() for _ in range(3)]
    for person in people:
        sign_up(person, shift)  # two confirmed, one waitlisted
    page = text(client.get(f"/organise/events/{event.id}"))
    assert "Volunteers signed up who will be told: 3." in page

    response = post(client, f"/organise/events/{event.id}/cancel", {"cancel-reason": ""})
    assert response.status_code == 200 and "Please give a reason." in text(response)
    db.session.refresh(event)
    assert event.status is EventStatus.PUBLISHED

    response = post(client, f"/organise/events/{event.id}/cancel", {"cancel-reason": "台风预警"})
    assert response.status_code == 302
    db.session.refresh(event)
    assert event.status is EventStatus.CANCELLED and event.cancel_reason == "台风预警"
    assert count(Signup, Signup.status != SignupStatus.CANCELLED) == 0
    for person in people:
        assert (
            count(
                Notification,
                Notification.user_id == person.id,
                Notification.template == "event_cancelled",
                Notification.channel == Channel.IN_APP,
            )
            == 1
        )
    assert "Volunteers told: 3." in text(client.get(f"/organise/events/{event.id}"))


def test_cancelling_a_shift_needs_a_reason_and_tells_its_volunteers(
    organiser, make_event, make_volunteer
):
    client, _user = organiser
    _event, shift = make_event()
    person = make_volunteer()
    sign_up(person, shift)
    post(client, f"/organise/shifts/{shift.id}/cancel", {"cancel_shift-reason": ""})
    db.session.refresh(shift)
    assert not shift.cancelled
    response = post(
        client, f"/organise/shifts/{shift.id}/cancel", {"cancel_shift-reason": "人手已满"}
    )
    assert response.status_code == 302
    db.session.refresh(shift)
    assert shift.cancelled
    assert (
        count(
            Notification,
            Notification.template == "shift_cancelled",
            Notification.channel == Channel.IN_APP,
        )
        == 1
    )


# ---------------------------------------------------------------- edit a shift


def test_editing_a_shifts_time_notifies_the_signed_up_volunteers(organiser, draft, make_volunteer):
    client, _user = organiser
    event = draft(capacity=5, opens_days=None)
    event.status = EventStatus.PUBLISHED
    db.session.commit()
    shift = event.shifts[0]
    people = [make_volunteer() for _ in range(2)]
    for person in people:
        sign_up(person, shift)

    page = text(client.get(f"/organise/shifts/{shift.id}/edit"))
    assert 'value="08:00"' in page and f'value="{DAY.isoformat()}"' in page

    # Same time, more places: nobody is told.
    response = post(client, f"/organise/shifts/{shift.id}/edit", shift_data(capacity="8"))
    assert response.status_code == 302
    assert count(Notification, Notification.template == "shift_changed") == 0

    response = post(
        client, f"/organise/shifts/{shift.id}/edit", shift_data(start="09:00", end="12:00")
    )
    assert response.status_code == 302
    db.session.refresh(shift)
    assert (shift.starts_at, shift.ends_at) == (local(DAY, 9), local(DAY, 12))
    for person in people:
        assert (
            count(
                Notification,
                Notification.user_id == person.id,
                Notification.template == "shift_changed",
                Notification.channel == Channel.IN_APP,
            )
            == 1
        )
    db.session.refresh(event)
    assert event.starts_at == local(DAY, 9)


def test_capacity_below_the_confirmed_count_is_refused(login_as, tree, make_event, make_volunteer):
    client, _user = login_as(Role.ORGANISER, tree.town_a)
    _event, shift = make_event(capacity=5)
    for _ in range(3):
        sign_up(make_volunteer(), shift)
    start = to_local(shift.starts_at)
    end = to_local(shift.ends_at)
    response = post(
        client,
        f"/organise/shifts/{shift.id}/edit",
        shift_data(
            day=start.date(),
            start=start.strftime("%H:%M"),
            end=end.strftime("%H:%M"),
            capacity="2",
        ),
    )
    assert response.status_code == 200
    assert "已有 3 名志愿者确认参加，名额不能少于此数。" in text(response)
    db.session.refresh(shift)
    assert shift.capacity == 5


def test_a_shift_ending_before_it_starts_shows_the_error_and_writes_nothing(login_as, tree, draft):
    client, _user = login_as(Role.ORGANISER, tree.town_a)
    event = draft(days=())
    response = post(
        client,
        f"/organise/events/{event.id}/shifts",
        prefixed("shift", shift_data(start="11:00", end="08:00")),
    )
    assert response.status_code == 200
    assert "班次结束时间须晚于开始时间。" in text(response)
    assert count(Shift) == 0
    assert count(AuditLog, AuditLog.action == "shift.create") == 0


# ---------------------------------------------------------------- copy and repeat


def test_repeat_weekly_three_times_makes_three_drafts_on_the_right_local_dates(organiser, draft):
    client, _user = organiser
    event = draft()
    response = post(client, f"/organise/events/{event.id}/repeat", {"repeat-weekly": "3"})
    assert response.status_code == 302
    db.session.refresh(event)
    copies = db.session.scalars(
        select(Event).where(Event.id != event.id).order_by(Event.starts_at)
    ).all()
    assert len(copies) == 3
    assert event.series_key and {c.series_key for c in copies} == {event.series_key}
    assert all(c.status is EventStatus.DRAFT for c in copies)
    for weeks, copy in enumerate(copies, start=1):
        (shift,) = copy.shifts
        assert to_local(shift.starts_at).date() == DAY + timedelta(weeks=weeks)
        assert to_local(shift.starts_at).time() == time(8, 0)
        assert to_local(shift.ends_at).time() == time(11, 0)
    manage = text(client.get(f"/organise/events/{event.id}"))
    assert 'data-testid="series"' in manage
    assert all(f"/organise/events/{c.id}" in manage for c in copies)


def test_repeat_on_listed_dates_and_a_bad_date_writes_nothing(organiser, draft):
    client, _user = organiser
    event = draft()
    response = post(
        client, f"/organise/events/{event.id}/repeat", {"repeat-dates": "2031-01-05, 2031-13-01"}
    )
    assert response.status_code == 200 and "2031-13-01" in text(response)
    assert count(Event) == 1
    dates = f"{DAY + timedelta(days=3)}\n{DAY + timedelta(days=10)}，{DAY + timedelta(days=3)}"
    response = post(client, f"/organise/events/{event.id}/repeat", {"repeat-dates": dates})
    assert response.status_code == 302
    days = sorted(
        to_local(s.starts_at).date()
        for s in db.session.scalars(select(Shift).join(Event).where(Event.id != event.id))
    )
    assert days == [DAY + timedelta(days=3), DAY + timedelta(days=10)]


def test_copy_moves_the_shift_times_by_the_offset(organiser, draft):
    client, _user = organiser
    event = draft(days=(DAY, DAY + timedelta(days=1)))
    target = DAY + timedelta(days=9)
    response = post(client, f"/organise/events/{event.id}/copy", {"copy-day": target.isoformat()})
    assert response.status_code == 302
    copy = db.session.scalar(select(Event).where(Event.id != event.id))
    assert response.headers["Location"].endswith(f"/organise/events/{copy.id}")
    assert copy.status is EventStatus.DRAFT and copy.title == event.title
    old = sorted((s.starts_at, s.ends_at) for s in event.shifts)
    new = sorted((s.starts_at, s.ends_at) for s in copy.shifts)
    offset = timedelta(days=9)
    assert new == [(a + offset, b + offset) for a, b in old]
    assert to_local(new[0][0]).date() == target


# ---------------------------------------------------------------- the roster


def test_each_roster_row_links_to_a_removal_page_that_asks_for_the_reason(
    organiser, make_event, make_volunteer
):
    client, _user = organiser
    _event, shift = make_event(capacity=3)
    volunteer = make_volunteer()
    signup = sign_up(volunteer, shift)
    roster = text(client.get(f"/organise/shifts/{shift.id}/roster"))
    assert f'href="/organise/signups/{signup.id}/remove"' in roster
    page = client.get(f"/organise/signups/{signup.id}/remove")
    assert page.status_code == 200
    assert volunteer.profile.real_name in text(page) and 'name="remove-reason"' in text(page)
    # Without a reason: back to the same page with the message, nothing changed.
    answer = post(client, f"/organise/signups/{signup.id}/remove", {"remove-reason": " "})
    assert answer.headers["Location"].endswith(f"/organise/signups/{signup.id}/remove")
    db.session.refresh(signup)
    assert signup.status is SignupStatus.CONFIRMED
    post(client, f"/organise/signups/{signup.id}/remove", {"remove-reason": "岗位调整"})
    # Once removed, the page says so and leads back to the roster.
    again = client.get(f"/organise/signups/{signup.id}/remove")
    assert again.status_code == 302 and again.headers["Location"].endswith("/roster")


def test_organiser_removes_with_a_reason_and_adds_past_capacity(
    organiser, make_event, make_volunteer
):
    client, user = organiser
    _event, shift = make_event(capacity=1, waitlist=2)
    first, second, extra = make_volunteer(), make_volunteer(), make_volunteer()
    first_signup = sign_up(first, shift)
    second_signup = sign_up(second, shift)
    assert second_signup.status is SignupStatus.WAITLISTED
    roster = text(client.get(f"/organise/shifts/{shift.id}/roster"))
    assert first.masked_phone in roster and first.phone not in roster
    assert "No. 1 in line" in roster

    # Removing needs a reason; then the first waitlisted moves up.
    post(client, f"/organise/signups/{first_signup.id}/remove", {"remove-reason": ""})
    db.session.refresh(first_signup)
    assert first_signup.status is SignupStatus.CONFIRMED
    response = post(
        client, f"/organise/signups/{first_signup.id}/remove", {"remove-reason": "临时有事"}
    )
    assert response.status_code == 302
    db.session.refresh(first_signup)
    db.session.refresh(second_signup)
    assert first_signup.status is SignupStatus.CANCELLED
    assert first_signup.cancel_reason == "临时有事" and first_signup.cancelled_by_id == user.id
    assert second_signup.status is SignupStatus.CONFIRMED
    removed = db.session.scalar(select(AuditLog).where(AuditLog.action == "signup.remove"))
    assert removed.actor_id == user.id and removed.detail["reason"] == "临时有事"

    # Adding needs a reason; past the capacity it is allowed and marked.
    post(client, f"/organise/shifts/{shift.id}/roster/add", {"add-q": extra.phone})
    assert count(Signup, Signup.user_id == extra.id) == 0
    response = post(
        client,
        f"/organise/shifts/{shift.id}/roster/add",
        {"add-q": extra.phone, "add-reason": "社区推荐"},
    )
    assert response.status_code == 302
    added = db.session.scalar(select(Signup).where(Signup.user_id == extra.id))
    assert added.status is SignupStatus.CONFIRMED and added.over_capacity
    assert added.source == "organiser"
    db.session.refresh(shift)
    assert shift.taken == 2 and shift.capacity == 1
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "signup.add"))
    assert audit.detail["over_capacity"] is True and audit.detail["reason"] == "社区推荐"
    assert 'data-testid="over-capacity"' in text(client.get(f"/organise/shifts/{shift.id}/roster"))


def test_adding_by_name_offers_a_choice_and_keeps_to_the_callers_scope(
    organiser, tree, make_event, make_volunteer
):
    client, _user = organiser
    _event, shift = make_event()
    ours = [make_volunteer(tree.community_a1), make_volunteer(tree.community_a2)]
    theirs = make_volunteer(tree.community_b1)

    response = post(
        client,
        f"/organise/shifts/{shift.id}/roster/add",
        {"add-q": theirs.phone, "add-reason": "帮忙"},
    )
    assert "No volunteer in your scope matches." in text(response)
    assert count(Signup) == 0

    response = post(
        client, f"/organise/shifts/{shift.id}/roster/add", {"add-q": "志愿者", "add-reason": "帮忙"}
    )
    page = text(response)
    assert "Please choose the volunteer." in page
    assert ours[0].masked_phone in page and ours[1].masked_phone in page
    assert theirs.masked_phone not in page
    assert count(Signup) == 0

    # Part of a number matching one volunteer still asks which one is meant.
    response = post(
        client,
        f"/organise/shifts/{shift.id}/roster/add",
        {"add-q": ours[1].phone[-4:], "add-reason": "帮忙"},
    )
    assert "Please choose the volunteer." in text(response) and count(Signup) == 0

    response = post(
        client,
        f"/organise/shifts/{shift.id}/roster/add",
        {"add-q": "志愿者", "add-reason": "帮忙", "add-user": str(ours[1].id)},
    )
    assert response.status_code == 302
    assert db.session.scalar(select(Signup.user_id)) == ours[1].id
    # A forged choice outside the search results is refused.
    response = post(
        client,
        f"/organise/shifts/{shift.id}/roster/add",
        {"add-q": "志愿者", "add-reason": "帮忙", "add-user": str(theirs.id)},
    )
    assert response.status_code == 200 and count(Signup) == 1
