"""The foundation's journeys in a real Chromium: home, logins per role, language and
large text, error pages, touch targets. Registration and the profile steps are in
test_volunteer_registration.py."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from volunteer_app.demo import DEMO_ACCOUNTS

from .conftest import (
    allow_console_error,
    assert_accessible,
    fresh_phone,
    login,
    logout,
    open_menu,
    register_account,
)

HEADING_ZH = "文明创建 志愿先行"
HEADING_EN = "Civilization Creation, Volunteers First"

# ---------------------------------------------------------------- a. home page


def _check_home(page) -> None:
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text(HEADING_ZH)
    demo = page.get_by_test_id("demo-logins")
    expect(demo).to_be_visible()
    expect(demo.locator("tbody tr")).to_have_count(len(DEMO_ACCOUNTS))
    expect(demo).to_contain_text("13800000001")
    assert_accessible(page)


def test_home_phone(phone_page, shot):
    _check_home(phone_page)
    shot(phone_page, "home-phone")


def test_home_desktop(desktop_page, shot):
    _check_home(desktop_page)
    shot(desktop_page, "home-desktop")


# ---------------------------------------------------------------- b. each role's menu

STAFF_NAV = ("组织架构", "角色授权", "审计日志", "我的职责")
ORGANISER = {"组织架构", "角色授权", "我的职责"}
#: (phone, expected staff entries); everyone logged in also sees 首页.
ROLE_NAV = [
    pytest.param("13800000001", set(STAFF_NAV), id="admin"),
    pytest.param("13800000002", ORGANISER, id="organiser-youth-league"),
    pytest.param("13800000003", ORGANISER, id="organiser-womens-federation"),
    pytest.param("13800000004", ORGANISER, id="organiser-town"),
    pytest.param("13800000005", {"我的职责"}, id="lead"),
    pytest.param("13800000006", {"我的职责"}, id="branch-secretary"),
    pytest.param("13800000007", set(), id="volunteer"),
]


@pytest.mark.parametrize(("phone", "staff_items"), ROLE_NAV)
def test_demo_role_menu(phone_page, phone, staff_items):
    page = phone_page
    login(page, phone)
    expect(page.get_by_role("button", name="打开菜单")).to_be_visible()
    page.get_by_role("button", name="打开菜单").click()
    open_menu(page)
    labels = [t.strip() for t in page.locator("#mainnav ul.navbar-nav .nav-link").all_inner_texts()]
    assert labels[0] == "首页", labels
    assert len(labels) == len(set(labels)), f"duplicate menu entries: {labels}"
    shown = set(labels) & set(STAFF_NAV)
    unexpected = shown - staff_items
    assert not unexpected, f"{phone} sees {sorted(unexpected)} in the menu: {labels}"
    missing = staff_items - shown
    # Every entry the menu does show must open for this account.
    for link in page.locator("#mainnav ul.navbar-nav .nav-link").all():
        href = link.get_attribute("href")
        response = page.request.get(href)
        assert response.status == 200, f"{phone}: menu entry {href} answers {response.status}"
    assert not missing, f"{phone} does not see {sorted(missing)} in the menu: {labels}"


def test_admin_org_tree_desktop(desktop_page, shot):
    page = desktop_page
    login(page, "13800000001")
    page.goto("/admin/orgs")
    expect(page.get_by_role("heading", level=1)).to_have_text("组织架构")
    tree = page.get_by_test_id("org-tree")
    expect(tree).to_contain_text("即墨区")
    expect(tree).to_contain_text("共青团即墨区委员会")
    # Each expandable node: plain text in <summary>, a separate link to open the unit.
    expect(tree.locator("summary a")).to_have_count(0)
    expect(tree.get_by_role("link", name="打开 即墨区", exact=True)).to_be_visible()
    assert_accessible(page)
    shot(page, "admin-orgs-desktop")


# ---------------------------------------------------------------- d. language, large text


def test_language_switch(phone_page):
    page = phone_page
    page.goto("/")
    page.get_by_role("button", name="English", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(HEADING_EN)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto("/auth/login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    page.get_by_role("button", name="中文", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text(HEADING_ZH)


LARGE = re.compile(r"\blarge-text\b")


def _large_text_as_visitor(page) -> None:
    html = page.locator("html")
    page.goto("/")
    expect(html).not_to_have_class(LARGE)
    page.get_by_test_id("large-text").click()
    expect(html).to_have_class(LARGE)
    expect(page.get_by_test_id("large-text")).to_have_attribute("aria-pressed", "true")
    page.goto("/auth/login")
    expect(html).to_have_class(LARGE)


def _still_large_without_the_cookie(page, phone: str) -> None:
    """With the browser's cookies gone, the large text comes from the account alone."""
    html = page.locator("html")
    page.context.clear_cookies()
    page.goto("/auth/login")
    expect(html).not_to_have_class(LARGE)
    login(page, phone)
    expect(html).to_have_class(LARGE)
    page.goto("/me")
    expect(html).to_have_class(LARGE)


def test_large_text_carries_over_on_login(phone_page):
    page = phone_page
    phone = fresh_phone()  # a new account: no other test sees its preference
    register_account(page, phone)
    expect(page.locator("html")).not_to_have_class(LARGE)
    logout(page)

    _large_text_as_visitor(page)
    login(page, phone)
    expect(page.locator("html")).to_have_class(LARGE)
    _still_large_without_the_cookie(page, phone)


def test_large_text_carries_over_on_registration(phone_page):
    page = phone_page
    _large_text_as_visitor(page)
    phone = fresh_phone()
    register_account(page, phone)
    expect(page.locator("html")).to_have_class(LARGE)
    _still_large_without_the_cookie(page, phone)


# ---------------------------------------------------------------- e. error pages


def test_not_found_page(phone_page):
    page = phone_page
    allow_console_error(page, r"status of 404")
    response = page.goto("/no-such-page")
    assert response is not None and response.status == 404
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text("页面不存在")
    expect(page.get_by_role("link", name="返回首页")).to_be_visible()
    assert_accessible(page)


# ---------------------------------------------------------------- f. touch targets

MIN_TARGET = 44
#: Pages and who opens them: None for a visitor, else a demo account's number.
TARGET_PAGES = [
    ("/", None),
    ("/auth/login", None),
    ("/auth/register", None),
    ("/me", "13800000007"),
    # The profile steps share their step list; these two add the checkboxes.
    ("/me/details", "13800000007"),
    ("/me/consent", "13800000007"),
]
# Inline links inside <p> are skipped: WCAG 2.5.5/2.5.8 exempt targets in running text.
# A checkbox or radio is measured by its `.form-check` (box and label are one target).
TARGETS_JS = """
(min) => {
  const out = [];
  const sel = 'a, button, input:not([type=hidden]), select';
  for (const el of document.querySelectorAll(sel)) {
    if (!el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
    let box = el.getBoundingClientRect();
    if (box.width <= 1 && box.height <= 1) continue;  // visually hidden (skip link)
    if (el.tagName === 'A' && el.closest('p')) continue;  // inline link in running text
    const wrapper = (el.type === 'checkbox' || el.type === 'radio') && el.closest('.form-check');
    if (wrapper) box = wrapper.getBoundingClientRect();
    if (box.height < min) {
      const tag = el.tagName.toLowerCase();
      const key = el.id ? `${tag}#${el.id}`
        : el.classList.length ? `${tag}.${el.classList[0]}`
        : el.pathname ? `${tag}[href=${el.pathname}]` : tag;
      const text = (el.innerText || el.getAttribute('aria-label') || el.value || '').trim();
      out.push({key, text, width: Math.round(box.width), height: Math.round(box.height)});
    }
  }
  return out;
}
"""


@pytest.mark.parametrize(("path", "account"), TARGET_PAGES, ids=[p for p, _ in TARGET_PAGES])
def test_touch_targets(phone_page, path, account):
    page = phone_page
    if account is not None:
        login(page, account)
    page.goto(path)
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    small = page.evaluate(TARGETS_JS, MIN_TARGET)
    found = [f'{s["key"]} "{s["text"]}" {s["width"]}x{s["height"]}' for s in small]
    assert not found, f"touch targets under {MIN_TARGET} px high on {path}: {found}"
