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
    "qr", "pdf", "excel", "id", "sms", "csv", "ics", "axe", "english", "usb", "wifi",
    "app", "url", "ok", "gb", "pipl", "am", "pm", "xlsx", "ios", "android", "wechat",
    "ca", "bluetooth", "http", "https", "cn", "www", "vs", "json", "mb", "kb",
}

CHECKS_JS = """() => {
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
    const words = node.textContent.match(/[A-Za-z][A-Za-z_.]*[A-Za-z]/g);
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
