"""Journeys 1 and 2 in a real Chromium: an organiser publishes an event with a one-place
shift; on phones, a resident finds it and signs up, a second resident is waitlisted, the
first cancels from "my shifts" and the second is promoted and sees it."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from playwright.sync_api import expect

from volunteer_app.timeutil import local_today

from .conftest import PHONE, _new_page, assert_accessible, login

ORGANISER = "13800000004"  # 环秀街道组织者
FIRST = "13800000007"  # 王小明, complete profile
TITLE = "背街小巷清洁·候补演练"


def _second_resident(live_server) -> str:
    """A demo volunteer with a complete profile (consented), to be the second resident."""
    import sqlite3

    with sqlite3.connect(live_server.db_path) as conn:
        (phone,) = conn.execute(
            "SELECT u.phone FROM users u JOIN volunteer_profiles p ON p.user_id = u.id "
            "WHERE u.phone LIKE '150%' AND p.consented_at IS NOT NULL "
            "AND p.birth_date < '2000-01-01' ORDER BY u.phone DESC LIMIT 1"
        ).fetchone()
    return phone


def _publish_event(page) -> str:
    """The organiser's desktop journey: new event, one shift of one place, publish."""
    login(page, ORGANISER)
    page.goto("/organise/events/new")
    form = page.locator("[data-testid=event-form]")
    form.locator("[name=title]").fill(TITLE)
    form.locator("[name=category]").select_option("env_sanitation")
    form.locator("[name=address]").fill("东关社区南巷")
    form.locator("[type=submit]").click()
    expect(page.locator("[data-testid=no-shifts]")).to_be_visible()
    manage_url = page.url
    shift = page.locator("[data-testid=shift-form]")
    shift.locator("[name=shift-post]").fill("清扫组")
    # Two days ahead of the app's own today (its clock may be moved: tests/test_clock.py).
    day = local_today() + timedelta(days=2)
    shift.locator("[name=shift-day]").fill(day.isoformat())
    shift.locator("[name=shift-start]").fill("09:00")
    shift.locator("[name=shift-end]").fill("11:00")
    shift.locator("[name=shift-capacity]").fill("1")
    shift.locator("[name=shift-waitlist_limit]").fill("2")
    shift.locator("[type=submit]").click()
    expect(page.locator("[data-testid=shifts]")).to_contain_text("清扫组")
    # A second shift in the afternoon (journey 4: an event with two shifts).
    shift = page.locator("[data-testid=shift-form]")
    shift.locator("[name=shift-post]").fill("宣传组")
    shift.locator("[name=shift-day]").fill(day.isoformat())
    shift.locator("[name=shift-start]").fill("14:00")
    shift.locator("[name=shift-end]").fill("16:00")
    shift.locator("[name=shift-capacity]").fill("5")
    shift.locator("[type=submit]").click()
    expect(page.locator("[data-testid=shifts]")).to_contain_text("宣传组")
    page.locator("[data-testid=publish]").click()
    expect(page.locator("[data-testid=publish]")).to_have_count(0)
    return manage_url


def _open_event(page) -> None:
    # By its category, not "this week": two days ahead is next week on a Saturday or Sunday.
    page.goto("/events?category=env_sanitation")
    expect(page.locator("[data-testid=event-list]")).to_contain_text(TITLE)
    page.get_by_role("link", name=TITLE).first.click()
    expect(page.locator("h1")).to_contain_text(TITLE)


def test_a_full_shift_waitlists_and_promotes_on_cancellation(
    browser, live_server, desktop_page, request, shot
):
    started = time.perf_counter()
    _publish_event(desktop_page)
    second_phone = _second_resident(live_server)

    _first_context, first = _new_page(browser, live_server, request, "first", **PHONE)
    _second_context, second = _new_page(browser, live_server, request, "second", **PHONE)
    login(first, FIRST)
    _open_event(first)
    shot(first, "event-phone")
    assert_accessible(first)
    first.locator("[data-testid=shift]", has_text="清扫组").locator("[data-testid=signup]").click()
    expect(first.locator("[data-testid=my-status]")).to_contain_text("已报名")

    login(second, second_phone)
    _open_event(second)
    morning = second.locator("[data-testid=shift]", has_text="清扫组")
    expect(morning.locator("[data-testid=places-left]")).to_contain_text("已满")
    morning.locator("[data-testid=signup]").click()  # "join the waitlist"
    expect(second.locator("[data-testid=my-status]")).to_contain_text("候补第 1 位")

    first.goto("/my/shifts")
    card = first.locator("[data-testid=upcoming] article", has_text=TITLE)
    expect(card).to_contain_text("已确认")
    shot(first, "my-shifts-phone")
    assert_accessible(first)
    card.get_by_test_id("cancel").locator("summary").click()  # asks first
    expect(card.get_by_test_id("confirm-cancel")).to_be_visible()
    card.get_by_test_id("confirm-cancel").click()
    expect(first.locator("[data-testid=upcoming]")).not_to_contain_text(TITLE)

    second.goto("/my/shifts")
    expect(second.locator("[data-testid=upcoming] article", has_text=TITLE)).to_contain_text(
        "已确认"
    )
    second.goto("/notifications")
    expect(second.locator("[data-testid=messages]")).to_contain_text(re.compile("已确认参加"))
    print(f"event_journey_seconds: {time.perf_counter() - started:.2f}")


def test_the_event_list_on_a_phone(phone_page, shot):
    login(phone_page, FIRST)
    phone_page.goto("/events")
    expect(phone_page.locator("[data-testid=event-list] article").first).to_be_visible()
    shot(phone_page, "events-phone")
    assert_accessible(phone_page)
    phone_page.goto("/me/qr")
    shot(phone_page, "my-qr-phone")


def test_the_tallies_on_a_desktop(desktop_page, shot):
    login(desktop_page, "13800000001")
    desktop_page.goto("/tallies/?period=year")
    expect(desktop_page.locator("svg").first).to_be_visible()
    shot(desktop_page, "tallies-desktop")
    assert_accessible(desktop_page)
    desktop_page.goto("/my/hours")
    shot(desktop_page, "my-hours-desktop")
