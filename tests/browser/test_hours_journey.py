"""Journey 5 in a real Chromium: an organiser approves pending hours; the town organiser and
the Party branch secretary open their tallies and see approved hours; the volunteer
downloads a certificate whose code verifies online."""

from __future__ import annotations

import io
import re

from playwright.sync_api import expect
from pypdf import PdfReader

from volunteer_app.timeutil import local_today

from .conftest import assert_accessible, login

ADMIN = "13800000001"
TOWN_ORGANISER = "13800000004"  # 环秀街道
SECRETARY = "13800000006"  # 东关社区党支部
VOLUNTEER = "13800000007"  # 王小明


def _hours(text: str) -> float:
    return float(re.sub(r"[^\d.]", "", text) or 0)


def test_approved_hours_reach_the_tallies_and_a_certificate_verifies(desktop_page, shot):
    page = desktop_page
    login(page, ADMIN)
    page.goto("/hours/pending")
    groups = page.locator("[data-testid=group]")
    if groups.count():
        groups.first.get_by_role("button", name="通过本班次全部记录").click()
        expect(page.locator(".alert-success, [role=status]").first).to_be_visible()
    page.get_by_role("button", name="退出").click()

    login(page, TOWN_ORGANISER)
    page.goto("/tallies/?period=year")
    expect(page.locator("[data-testid=heading]")).to_contain_text("环秀街道")
    assert _hours(page.locator("[data-testid=fig-hours]").inner_text()) > 0
    assert_accessible(page)
    page.get_by_role("button", name="退出").click()

    login(page, SECRETARY)
    page.goto("/tallies/?dim=party&period=year")
    expect(page.locator("[data-testid=heading]")).to_contain_text("党支部")
    expect(page.locator("[data-testid=dual-link]")).to_be_visible()
    page.locator("[data-testid=dual-link]").click()
    expect(page.locator("table").first).to_be_visible()
    shot(page, "dual-report-desktop")
    page.get_by_role("button", name="退出").click()

    login(page, VOLUNTEER)
    page.goto("/my/hours")
    assert _hours(page.locator("[data-testid=approved-total]").inner_text()) > 0
    form = page.locator("[data-testid=certificate-form]")
    form.locator("[name=start]").fill(f"{local_today().year - 3}-01-01")
    form.locator("[name=end]").fill(local_today().isoformat())
    with page.expect_download() as download:
        form.locator("[type=submit]").click()
    pdf = PdfReader(io.BytesIO(download.value.path().read_bytes()))
    text = re.sub(r"\s+", "", pdf.pages[0].extract_text())
    assert "志愿服务证明" in text and "王小明" in text
    number = re.search(r"JM-[0-9A-Z]{4}-[0-9A-Z]{4}", text)  # short, read aloud
    assert number, text[:300]
    page.goto(f"/verify/{number.group(0)}")
    body = page.locator("main").inner_text()
    assert number.group(0) in body and "王**" in body
    assert "王小明" not in body and "13800000007" not in body
