"""Every page of every role, on a phone (390×844) and at 200% zoom with large text.

Each role's pages are found the way a person finds them: from the home page, by
following every link on every page (one URL per route shape, so /events/3 and
/events/4 count once). On each page the test fails on

- sideways scrolling of the page (a table may scroll inside its own container);
- a table cell squeezed narrower than two characters while its text wraps;
- English words inside the Chinese UI (message ids, enum values, "None"), outside
  a short list of Latin words people use in Chinese (QR, PDF, Excel, ID, SMS …);

and on the forms a person fills first (the profile, a sign-up, a cancellation), on a
landing page without exactly one success banner and a next step.
"""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urlsplit

import pytest

from .conftest import _new_page, login
from .test_zoom import ZOOMED_PHONE

PHONE_VIEW = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "locale": "zh-CN",
}

ROLES = {
    "anonymous": None,
    "volunteer": "13800000007",
    "lead": "13800000005",
    "secretary": "13800000006",
    "town-organiser": "13800000004",
    "youth-league": "13800000002",
    "womens-federation": "13800000003",
    "admin": "13800000001",
}

#: Links a crawl must not follow: they act (a scan checks in), download a file, or leave.
SKIP = re.compile(
    r"^/(q/|s/|auth/logout|language|large-text|static/|dev/)"
    r"|\.(svg|ics|xlsx|csv|pdf|png|zip)$"
    r"|/(export|feed|print|phones|calendar\.ics|ics)(/|$)"
    r"|/card/\d+/svg"
)
MAX_PAGES = 45

#: Latin words that belong in a Chinese page.
ALLOWED_LATIN = {
    "jm",  # the printed card number's prefix (JM0000001)
    "qr", "pdf", "excel", "id", "sms", "csv", "ics", "axe", "english", "usb", "wifi",
    "app", "url", "ok", "gb", "pipl", "am", "pm", "xlsx", "ios", "android", "wechat",
    "ca", "bluetooth", "http", "https", "cn", "www", "vs", "json", "mb", "kb", "png", "ip",
}

CHECKS_JS = r"""() => {
  const out = {overflow: null, narrow: [], latin: []};
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) {
    const limit = doc.clientWidth + 1;
    out.overflow = doc.scrollWidth + 'px > ' + doc.clientWidth + 'px: ' +
      Array.from(document.querySelectorAll('body *'))
        .filter(e => e.getBoundingClientRect().right > limit && !e.closest('.table-responsive'))
        .slice(-3).map(e => e.tagName + '.' + e.className + ' "' +
                       (e.textContent || '').trim().slice(0, 20) + '"').join(' | ');
  }
  for (const cell of document.querySelectorAll('td, th')) {
    const text = (cell.innerText || '').trim();
    if (text.length < 2 || !cell.offsetParent) continue;
    const style = getComputedStyle(cell);
    const font = parseFloat(style.fontSize);
    const inner = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const lines = cell.clientHeight / (parseFloat(style.lineHeight) || font * 1.5);
    if (inner < 2 * font && lines > 2)
      out.narrow.push(text.slice(0, 20) + " (" + Math.round(inner) + "px)");
  }
  // Visible text outside elements marked as another language, code, or user data.
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const parent = node.parentElement;
    if (!parent || !parent.offsetParent && getComputedStyle(parent).position !== 'fixed') continue;
    const foreign = '[lang]:not([lang^="zh"]), script, style, code, kbd, .font-monospace, '
      + '[data-user-text], .visually-hidden';
    if (parent.closest(foreign)) continue;
    // A link written out in a message (/my/shifts, https://…) is an address, not English.
    const text = node.textContent.replace(/(https?:\/\/[^\s，。]*|\/[\w\/.?=&%-]+)/g, ' ');
    const words = text.match(/[A-Za-z][A-Za-z_.]*[A-Za-z]/g);
    const where = ' «' + node.textContent.trim().slice(0, 40) + '»';
    if (words) out.latin.push(...words.map(w => w + where));
  }
  return out;
}"""


def shape(path: str) -> str:
    """/events/12?page=2 -> /events/N: one visit per route shape."""
    return re.sub(r"/\d+", "/N", re.sub(r"/[A-Za-z0-9_-]{20,}", "/T", path))


def check_page(page) -> list[str]:
    found = page.evaluate(CHECKS_JS)
    problems = []
    if found["overflow"]:
        problems.append(f"sideways scrolling {found['overflow']}")
    if found["narrow"]:
        problems.append(f"cells narrower than two characters: {found['narrow'][:3]}")
    latin = [w for w in found["latin"] if w.split(" ", 1)[0].lower() not in ALLOWED_LATIN]
    if latin:
        problems.append(f"English in the Chinese UI: {sorted(set(latin))[:6]}")
    return problems


def crawl(page) -> dict[str, list[str]]:
    """Visit every page reachable by links from the home page; the problems per URL."""
    base = urlsplit(page.url)
    queue: deque[str] = deque(["/"])
    seen_shapes: set[str] = set()
    report: dict[str, list[str]] = {}
    visited = 0
    while queue and visited < MAX_PAGES:
        url = queue.popleft()
        if shape(urlsplit(url).path) in seen_shapes:
            continue
        seen_shapes.add(shape(urlsplit(url).path))
        response = page.goto(url)
        visited += 1
        if response is None or "text/html" not in (response.headers.get("content-type") or ""):
            continue
        if response.status >= 500:
            report[url] = [f"answered {response.status}"]
            continue
        problems = check_page(page)
        if problems:
            report[url] = problems
        for href in page.eval_on_selector_all(
            "a[href]", "els => els.map(e => e.getAttribute('href'))"
        ):
            parts = urlsplit(href)
            foreign = parts.netloc and parts.netloc != base.netloc
            if parts.scheme not in ("", base.scheme) or foreign:
                continue
            if not parts.path.startswith("/") or SKIP.search(parts.path):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if shape(parts.path) not in seen_shapes:
                queue.append(target)
    return report


def _open(browser, live_server, request, phone: str | None, zoomed: bool):
    context, page = _new_page(
        browser, live_server, request, "zoomed" if zoomed else "phone",
        **(ZOOMED_PHONE if zoomed else PHONE_VIEW),
    )
    if phone:
        login(page, phone)
    else:
        page.goto("/")
    if zoomed:
        page.goto("/")
        if page.locator("[data-testid=large-text]").get_attribute("aria-pressed") != "true":
            with page.expect_navigation():
                page.locator("[data-testid=large-text]").click()
    return context, page


@pytest.mark.parametrize("zoomed", [False, True], ids=["phone", "zoom200-large-text"])
@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_fits_a_phone_and_speaks_chinese(browser, live_server, request, role, zoomed):
    context, page = _open(browser, live_server, request, ROLES[role], zoomed)
    try:
        report = crawl(page)
    finally:
        context.close()
    assert not report, f"{role}: " + "\n".join(
        f"{url}:\n    " + "\n    ".join(problems) for url, problems in report.items()
    )


# ---------------------------------------------------------------- the forms' next steps

NEXT_STEP = "[data-testid=next-step], [data-next-step]"


class Journey:
    """Counts what a person does: taps, typed fields and page loads."""

    def __init__(self, page) -> None:
        self.page, self.taps, self.typed, self.loads = page, 0, 0, 0
        page.on("load", lambda _page: self._loaded())

    def _loaded(self) -> None:
        self.loads += 1

    def tap(self, locator, *, navigates: bool = False) -> None:
        self.taps += 1
        if navigates:
            with self.page.expect_navigation():
                locator.click()
        else:
            locator.click()

    def type(self, locator, text: str) -> None:
        self.typed += 1
        locator.fill(text)

    def choose(self, select, label: str) -> None:
        self.taps += 2  # open the list, pick the option
        select.select_option(label=label)


def assert_next_step(page, *, success_banners: int | None = 1) -> None:
    """The page a form lands on: at most one success banner, and a visible next step."""
    from playwright.sync_api import expect

    if success_banners is not None:
        expect(page.locator(".alert-success")).to_have_count(success_banners)
    expect(page.locator(NEXT_STEP).first).to_be_visible()


def test_a_new_resident_goes_from_home_to_showing_the_volunteer_code(phone_page):
    """The resident journey: home → account → profile → home → 我的志愿码, on a phone; each
    form lands on the next form or on a page with one success banner and a next step.
    Before issue 20 this took 26 taps, 10 typed fields and about 14 page loads."""
    import time

    from playwright.sync_api import expect

    from .conftest import fresh_id_number, fresh_phone, sms_code

    page = phone_page
    page.goto("/")
    journey = Journey(page)
    started = time.perf_counter()
    phone = fresh_phone()

    journey.tap(page.get_by_role("link", name="成为志愿者").first, navigates=True)
    form = page.get_by_test_id("register-form")
    journey.type(form.get_by_label("手机号", exact=True), phone)
    journey.tap(form.get_by_role("button", name="获取验证码"), navigates=True)
    code = sms_code(page, phone)
    form = page.get_by_test_id("register-verify-form")
    journey.type(form.get_by_label("验证码", exact=True), code)
    journey.type(form.get_by_label("密码", exact=True), "Abcd1234x")
    journey.type(form.get_by_label("确认密码", exact=True), "Abcd1234x")
    journey.tap(form.get_by_role("button", name="注册账号"), navigates=True)

    form = page.get_by_test_id("consent-form")  # consent before the ID number
    journey.tap(form.get_by_label("我已阅读并同意隐私政策。", exact=True))
    journey.tap(form.get_by_label(re.compile("身份证件号码")))
    journey.tap(form.get_by_role("button", name="完成"), navigates=True)

    form = page.get_by_test_id("identity-form")
    journey.type(form.get_by_label("真实姓名", exact=True), "张新来")
    journey.type(form.get_by_label("证件号码", exact=True), fresh_id_number())
    journey.tap(form.get_by_role("button", name="保存并继续"), navigates=True)

    form = page.get_by_test_id("residence-form")
    journey.choose(page.locator("#community"), "东关社区")
    journey.tap(form.get_by_role("button", name="保存并继续"), navigates=True)

    form = page.get_by_test_id("politics-form")
    journey.choose(page.locator("#political_status"), "群众")
    journey.tap(form.get_by_role("button", name="保存并继续"), navigates=True)

    form = page.get_by_test_id("details-form")
    journey.tap(form.get_by_label("环境卫生", exact=True))
    journey.type(form.get_by_label("紧急联系人", exact=True), "张父")
    journey.type(form.get_by_label("紧急联系人手机号", exact=True), "13912345678")
    journey.tap(form.get_by_role("button", name="保存并继续"), navigates=True)

    expect(page).to_have_url(re.compile(r"/$"))
    assert_next_step(page)
    journey.tap(page.get_by_test_id("home-qr"), navigates=True)
    expect(page.locator("#my-qr")).to_be_visible()
    seconds = time.perf_counter() - started
    print(
        f"resident_journey: taps={journey.taps} typed={journey.typed} "
        f"page_loads={journey.loads} seconds={seconds:.1f}"
    )
    assert journey.taps < 26 and journey.typed <= 10 and journey.loads < 14


def test_signing_up_and_cancelling_land_on_a_next_step(phone_page):
    from playwright.sync_api import expect

    page = phone_page
    login(page, "13800000007")
    assert_next_step(page)  # the login form lands on the home page: 我的志愿码
    page.goto("/events")
    links = page.locator("[data-testid=event-list] a.stretched-link")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    for href in hrefs:  # the first event this volunteer may sign up for
        page.goto(href)
        if page.locator("[data-testid=signup]").count():
            break
    button = page.locator("[data-testid=signup]").first
    expect(button).to_be_visible()
    with page.expect_navigation():
        button.click()
    assert_next_step(page, success_banners=None)  # signed up, or on the waitlist
    page.goto("/my/shifts")
    box = page.locator("[data-testid=upcoming] [data-testid=cancel]").first
    box.locator("summary").click()
    with page.expect_navigation():
        box.get_by_test_id("confirm-cancel").click()
    assert_next_step(page, success_banners=0)


def test_phone_screenshots_of_the_main_pages(browser, live_server, request, shot):
    """The new home, the event list, the lead's shift list, an organiser's event page and
    the tallies, on a phone (docs/screenshots with --screenshots)."""
    from playwright.sync_api import expect

    from .conftest import assert_accessible

    pages = [
        ("13800000007", "/", "home-volunteer-phone"),
        ("13800000007", "/events", "event-list-phone"),
        ("13800000005", "/checkin", "scanner-list-phone"),
        ("13800000004", "/organise/events", None),
        ("13800000001", "/tallies/", "tallies-phone"),
    ]
    for phone, path, name in pages:
        context, page = _open(browser, live_server, request, phone, zoomed=False)
        try:
            page.goto(path)
            if name is None:  # the first event of the organiser's list
                link = page.locator("[data-testid=events] tbody a").first
                with page.expect_navigation():
                    link.click()
                name = "organiser-event-phone"
            expect(page.locator("main")).to_be_visible()
            assert not check_page(page), check_page(page)
            assert_accessible(page)
            shot(page, name)
        finally:
            context.close()
