"""The organisers' workspace in a real Chromium, desktop 1366×768: the Youth League and the
Women's Federation organisers, logged in side by side, each open the workspace and their
own event's roster (the other's roster answers 404), print a sign-in sheet and download
an Excel export that opens with openpyxl. Mobile numbers stay masked throughout."""

from __future__ import annotations

import io
import re
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from volunteer_app.timeutil import local_today

from .conftest import (
    _PAGE_GUARDS,
    DESKTOP,
    _new_page,
    allow_console_error,
    assert_accessible,
    login,
)

YOUTH = ("13800000002", "共青团即墨区委员会")
WOMEN = ("13800000003", "即墨区妇女联合会")
FULL_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@dataclass
class Organiser:
    phone: str
    host: str
    page: object
    event_id: int = 0
    shift_id: int = 0


def _busiest_shift(db_path, host: str) -> tuple[int, int] | None:
    """(event id, shift id) of the host's live shift with the most volunteers expected."""
    with sqlite3.connect(db_path) as conn:
        return conn.execute(
            "SELECT e.id, s.id FROM events e JOIN org_units o ON o.id = e.host_id "
            "JOIN shifts s ON s.event_id = e.id "
            "LEFT JOIN signups g ON g.shift_id = s.id AND g.status IN ('confirmed', 'attended') "
            "WHERE o.name = ? AND e.status IN ('published', 'completed') AND NOT s.cancelled "
            "GROUP BY e.id, s.id ORDER BY count(g.id) DESC, s.starts_at DESC LIMIT 1",
            (host,),
        ).fetchone()


def _create_event(page, title: str) -> tuple[int, int]:
    """Through the organiser's pages: a new event of their unit with one shift, published."""
    page.goto("/organise/events/new")
    form = page.get_by_test_id("event-form")
    form.locator("[name=title]").fill(title)
    form.locator("[name=category]").select_option("env_sanitation")
    form.locator("[name=address]").fill("即墨古城南门广场")
    form.locator("[type=submit]").click()
    expect(page.get_by_test_id("no-shifts")).to_be_visible()
    event_id = int(re.search(r"/organise/events/(\d+)", page.url).group(1))
    shift = page.get_by_test_id("shift-form")
    shift.locator("[name=shift-post]").fill("签到引导组")
    shift.locator("[name=shift-day]").fill((local_today() + timedelta(days=3)).isoformat())
    shift.locator("[name=shift-start]").fill("09:00")
    shift.locator("[name=shift-end]").fill("11:30")
    shift.locator("[name=shift-capacity]").fill("8")
    shift.locator("[type=submit]").click()
    expect(page.get_by_test_id("shifts")).to_contain_text("签到引导组")
    page.get_by_test_id("publish").click()
    expect(page.get_by_test_id("publish")).to_have_count(0)
    shift_id = int(
        page.get_by_test_id("shifts").locator("tr[data-shift]").first.get_attribute("data-shift")
    )
    return event_id, shift_id


def _own_event(org: Organiser, live_server) -> None:
    found = _busiest_shift(live_server.db_path, org.host)
    if found is None:  # the demo rotates hosts: this unit may have no event yet
        found = _create_event(org.page, f"{org.host[-4:]}·工作台演练")
    org.event_id, org.shift_id = found


@pytest.fixture
def second_desktop(browser, live_server, request):
    context, page = _new_page(browser, live_server, request, "desktop-2", **DESKTOP)
    yield page
    _PAGE_GUARDS.pop(id(page), None)
    context.close()


def _roster(org: Organiser) -> int:
    """Open the shift's roster; the number of sign-ups it shows."""
    page = org.page
    response = page.goto(f"/organise/rosters/shifts/{org.shift_id}")
    assert response.status == 200
    total_text = page.get_by_test_id("roster-total").inner_text()
    rows = page.locator("[data-testid=roster] tbody tr")
    if rows.count():
        table = page.get_by_test_id("roster").inner_text()
        assert not FULL_PHONE.search(table), "a full mobile number on the roster"
        assert re.search(r"1\d\d\*{4}\d{4}", table), "no masked number on the roster"
    return int(re.search(r"\d+", total_text).group(0))


def _print_sheet(org: Organiser, shot=None) -> None:
    page = org.page
    page.get_by_test_id("print-link").click()
    expect(page).to_have_url(re.compile(rf"/organise/rosters/shifts/{org.shift_id}/print$"))
    sheet = page.get_by_test_id("sign-in-sheet")
    expect(sheet).to_have_count(1)
    table = page.get_by_test_id("sheet-table")
    expect(table).to_be_visible()
    expect(table.locator("thead th")).to_have_count(6)
    assert not FULL_PHONE.search(sheet.inner_text()), "a full mobile number on the sheet"
    # The print button prints (window.print, stubbed to count), and printing hides the menu.
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed++; }; }")
    page.get_by_test_id("print-button").click()
    assert page.evaluate("window.__printed") == 1
    page.emulate_media(media="print")
    expect(page.locator("header")).to_be_hidden()
    expect(page.get_by_test_id("print-button")).to_be_hidden()
    expect(table).to_be_visible()
    page.emulate_media(media="screen")
    assert_accessible(page)
    if shot is not None:
        shot(page, "signin-sheet-desktop")
    page.go_back()


def _export(org: Organiser, expected_rows: int) -> None:
    page = org.page
    with page.expect_download() as download:
        page.get_by_test_id("export-xlsx").click()
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(path).read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + expected_rows
    assert len(rows[0]) >= 10
    cells = " ".join(str(c) for row in rows for c in row if c is not None)
    assert not FULL_PHONE.search(cells), "a full mobile number in the export"


def test_two_organisers_side_by_side_see_only_their_own_rosters(
    desktop_page, second_desktop, live_server, shot
):
    youth = Organiser(*YOUTH, page=desktop_page)
    women = Organiser(*WOMEN, page=second_desktop)
    for org in (youth, women):
        login(org.page, org.phone)
    for org in (youth, women):
        _own_event(org, live_server)
    assert youth.event_id != women.event_id

    # The workspace.
    for org in (youth, women):
        page = org.page
        page.goto("/organise/")
        expect(page.locator("h1")).to_be_visible()
        expect(page.get_by_test_id("summary")).to_be_visible()
        expect(page.get_by_test_id("grants-link")).to_be_visible()
    assert_accessible(youth.page)
    shot(youth.page, "dashboard-desktop")

    # Each sees their own roster; the other's answers 404.
    for org, other in ((youth, women), (women, youth)):
        total = _roster(org)
        assert_accessible(org.page)
        allow_console_error(other.page, r"status of 404")
        for url in (
            f"/organise/rosters/shifts/{org.shift_id}",
            f"/organise/rosters/events/{org.event_id}",
            f"/organise/rosters/shifts/{org.shift_id}/print",
            f"/organise/rosters/shifts/{org.shift_id}/export?format=xlsx",
        ):
            response = other.page.goto(url)
            assert response.status == 404, f"{other.host} opened {url}"
        _roster(org)
        _print_sheet(org, shot if org is youth else None)
        expect(org.page.get_by_test_id("roster-actions")).to_be_visible()
        _export(org, total)

    # Neither workspace links to the other's event.
    for org, other in ((youth, women), (women, youth)):
        org.page.goto("/organise/")
        html = org.page.content()
        assert f"/organise/rosters/events/{other.event_id}" not in html
        assert f"/organise/rosters/shifts/{other.shift_id}" not in html
