"""Becoming a volunteer on a phone, in Chinese: the SMS code, the account, then the five
profile steps (consent first, then identity, residence, political status, details)."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable

from playwright.sync_api import expect

from .conftest import (
    assert_accessible,
    fill_verify,
    fresh_id_number,
    fresh_phone,
    give_consent,
    open_menu,
    register_account,
    request_code,
    sms_code,
    submit_verify,
)

PASSWORD = "Abcd1234x"
SAVE = "保存并继续"
STEP_URL = {
    "identity": re.compile(r"/me/identity$"),
    "residence": re.compile(r"/me/residence$"),
    "politics": re.compile(r"/me/politics$"),
    "details": re.compile(r"/me/details$"),
    "consent": re.compile(r"/me/consent$"),
    "me": re.compile(r"/me$"),
    "home": re.compile(r"/$"),
}
SELECTED_JS = "s => [s.selectedOptions[0].text, s.selectedOptions[0].parentElement.label || '']"


def _users_with_phone(live_server, phone: str) -> int:
    with sqlite3.connect(live_server.db_path) as conn:
        return conn.execute("SELECT count(*) FROM users WHERE phone = ?", (phone,)).fetchone()[0]


def _save(page, form_id: str, button: str = SAVE) -> None:
    with page.expect_navigation():
        page.get_by_test_id(form_id).get_by_role("button", name=button, exact=True).click()


class _Checks:
    """Runs axe and screenshots, keeping their time out of the journey's timing."""

    def __init__(self, shot: Callable) -> None:
        self.shot = shot
        self.seconds = 0.0

    def __call__(self, page, screenshot: str | None = None) -> None:
        started = time.perf_counter()
        assert_accessible(page)
        if screenshot:
            self.shot(page, screenshot)
        self.seconds += time.perf_counter() - started


def test_register_and_complete_profile_on_phone(phone_page, live_server, shot):
    page = phone_page
    check = _Checks(shot)
    phone = fresh_phone()
    id_number = fresh_id_number()
    started = time.perf_counter()

    # Step 1: the number; the code arrives by (development) SMS.
    page.goto("/auth/register")
    expect(page.get_by_role("heading", level=1)).to_have_text("成为志愿者")
    check(page, "register-phone")
    request_code(page, phone)
    expect(page.get_by_test_id("register-verify-form")).to_be_visible()
    check(page)
    code = sms_code(page, phone)
    assert _users_with_phone(live_server, phone) == 0, "an account before the code was entered"

    # Step 2: the code and a password; logged in, on to the profile.
    fill_verify(page, code, PASSWORD)
    submit_verify(page)
    expect(page).to_have_url(STEP_URL["consent"])
    expect(page.get_by_role("status").first).to_contain_text("欢迎")
    open_menu(page)
    expect(page.get_by_test_id("whoami")).to_contain_text(phone[-4:])
    assert _users_with_phone(live_server, phone) == 1

    # Profile 1: consent, before any ID number is asked for; an adult sees no guardian fields.
    form = page.get_by_test_id("consent-form")
    expect(form).to_be_visible()
    check(page)
    expect(form.get_by_label("监护人", exact=False)).to_have_count(0)
    form.get_by_label("我已阅读并同意隐私政策。", exact=True).check()
    form.get_by_label(re.compile("身份证件号码")).check()
    _save(page, "consent-form", "完成")
    expect(page).to_have_url(STEP_URL["identity"])

    # Profile 1: real name and ID number.
    form = page.get_by_test_id("identity-form")
    expect(form).to_be_visible()
    check(page)
    form.get_by_label("真实姓名", exact=True).fill("张志愿")
    expect(form.get_by_label("证件类型", exact=True).locator("option:checked")).to_have_text(
        "居民身份证"
    )
    form.get_by_label("证件号码", exact=True).fill(id_number)
    check(page, "profile-identity-phone")
    _save(page, "identity-form")

    # Profile 2: the residence community, found by typing part of its name.
    expect(page).to_have_url(STEP_URL["residence"])
    form = page.get_by_test_id("residence-form")
    expect(form).to_be_visible()
    check(page)
    form.locator("#community-filter").fill("东关")
    assert page.locator("#community").evaluate(SELECTED_JS) == ["东关社区", "环秀街道"]
    _save(page, "residence-form")

    # Profile 3: political status; the Party branch only for Party members.
    expect(page).to_have_url(STEP_URL["politics"])
    form = page.get_by_test_id("politics-form")
    expect(form).to_be_visible()
    branch = page.locator("#branch")
    expect(branch).to_be_hidden()
    check(page)
    status = page.locator("#political_status")
    status.select_option(label="中共党员")
    expect(branch).to_be_visible()
    check(page)
    status.select_option(label="群众")
    expect(branch).to_be_hidden()
    status.select_option(label="中共预备党员")
    expect(branch).to_be_visible()
    status.select_option(label="中共党员")
    form.locator("#branch-filter").fill("东关社区")
    assert page.locator("#branch").evaluate(SELECTED_JS)[0] == "东关社区党支部"
    _save(page, "politics-form")

    # Profile 4: kinds of service, skills, free time, emergency contact.
    expect(page).to_have_url(STEP_URL["details"])
    form = page.get_by_test_id("details-form")
    expect(form).to_be_visible()
    check(page)
    for label in ("环境卫生", "医疗急救", "周末白天"):
        form.get_by_label(label, exact=True).check()
    form.get_by_label("紧急联系人", exact=True).fill("张父")
    form.get_by_label("紧急联系人手机号", exact=True).fill("13912345678")
    check(page, "profile-details-phone")
    _save(page, "details-form")

    # Done: the home page, one success banner and the next step (find an event).
    expect(page).to_have_url(STEP_URL["home"])
    expect(page.locator(".alert-success")).to_have_count(1)
    expect(page.get_by_test_id("next-step")).to_be_visible()
    seconds = time.perf_counter() - started - check.seconds
    print(f"register_seconds: {seconds:.2f}")
    print(f"register_seconds_with_checks: {seconds + check.seconds:.2f}")

    page.goto("/me")
    expect(page.get_by_test_id("missing-steps")).to_have_count(0)
    profile = page.locator("main")
    for text in ("张志愿", "东关社区", "中共党员", "东关社区党支部", "环境卫生", "医疗急救"):
        expect(profile).to_contain_text(text)
    check(page, "profile-phone")


def test_register_refused_on_phone(phone_page, live_server):
    """Step 2 with a too-short password: the error in Chinese, still on step 2, no account."""
    page = phone_page
    phone = fresh_phone()
    request_code(page, phone)
    fill_verify(page, sms_code(page, phone), "short")
    submit_verify(page)
    expect(page).to_have_url(re.compile(r"/auth/register/verify$"))
    errors = page.locator("[data-testid=form-errors], .invalid-feedback")
    expect(errors.first).to_be_visible()
    expect(errors.first).to_contain_text("密码至少需要 8 位")
    expect(page.get_by_test_id("whoami")).to_have_count(0)
    expect(page.get_by_test_id("register-verify-form")).to_be_visible()
    assert _users_with_phone(live_server, phone) == 0


def test_wrong_code_refused_on_phone(phone_page, live_server):
    page = phone_page
    phone = fresh_phone()
    request_code(page, phone)
    code = sms_code(page, phone)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    fill_verify(page, wrong, PASSWORD)
    submit_verify(page)
    expect(page).to_have_url(re.compile(r"/auth/register/verify$"))
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(page.get_by_test_id("whoami")).to_have_count(0)
    assert _users_with_phone(live_server, phone) == 0


def test_wrong_check_character_refused_on_phone(phone_page):
    page = phone_page
    register_account(page, fresh_phone(), PASSWORD)
    give_consent(page)
    number = fresh_id_number()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    form = page.get_by_test_id("identity-form")
    form.get_by_label("真实姓名", exact=True).fill("李校验")
    form.get_by_label("证件号码", exact=True).fill(wrong)
    _save(page, "identity-form")
    expect(page).to_have_url(STEP_URL["identity"])
    errors = page.get_by_test_id("form-errors")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text("校验位")
    expect(page.get_by_test_id("identity-form")).to_be_visible()
    assert_accessible(page)


def test_stopping_after_the_account_on_phone(phone_page):
    """Someone who only creates the account is asked on /me for all five steps."""
    page = phone_page
    register_account(page, fresh_phone(), PASSWORD)
    page.goto("/me")
    missing = page.get_by_test_id("missing-steps")
    expect(missing).to_be_visible()
    expect(missing.locator("li")).to_have_count(5)
    expect(page.get_by_test_id("profile-complete")).to_have_count(0)
    assert_accessible(page)
    with page.expect_navigation():
        missing.get_by_role("link", name="继续").click()
    expect(page).to_have_url(STEP_URL["consent"])
