"""Issue 17 in a real Chromium at 390×844: the site with no signal.

1. The lead's scanner page, kept by the service worker, reopens with the network cut; the
   lead scans a volunteer's code computed on the volunteer's phone (offline too) and types a
   printed card's number; both are checked provisionally on the phone and synced, once each,
   when the network returns.
2. "My QR code" keeps changing with no network, and a code shown after two minutes offline
   is accepted by the server's rule (the phone's clock moved with Playwright's clock).
3. First loads of home, "My QR code" and the scanner over an emulated 400 kbit/s, 300 ms
   link, cold and warm (figures in docs/performance.md).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from volunteer_app import timeutil

from .conftest import PHONE, allow_console_error, login
from .test_checkin_journey import (
    LEAD_PHONE,
    VOLUNTEER_PHONE,
    _attendance_counts,
    _expect_result,
    _offline_logs,
    _type_code,
)
from .test_checkin_journey import journey as journey  # a fixture
from .test_checkin_journey import lead_page as lead_page  # a fixture


def _wait_for_service_worker(page) -> None:
    """The service worker is installed and controls the page."""
    page.wait_for_function(
        "() => navigator.serviceWorker && navigator.serviceWorker.controller !== null",
        timeout=15_000,
    )


def _kept_pages(page) -> list[str]:
    return page.evaluate(
        "() => caches.open('vf-pages').then(c => c.keys())"
        ".then(ks => ks.map(r => new URL(r.url).pathname))"
    )


def _issue_card(journey, user_id: int) -> str:
    from volunteer_app.extensions import db
    from volunteer_app.models import VolunteerCard

    with journey.app.app_context():
        card = VolunteerCard(user_id=user_id)
        db.session.add(card)
        db.session.commit()
        number = card.number
        db.session.remove()
    return number


def _phone_code(page) -> str:
    box = page.get_by_test_id("my-code")
    expect(box).to_have_attribute("data-source", "phone", timeout=10_000)
    token = box.get_attribute("data-token")
    assert token and token.startswith("t"), token
    return token


def test_scanner_reopens_offline_and_syncs_a_phone_code_and_a_typed_card_once(
    phone_page, lead_page, journey, shot
):
    began = time.perf_counter()
    volunteer, lead = phone_page, lead_page
    (card_holder, _signup, card_name) = journey.others[0]
    card_number = _issue_card(journey, card_holder)

    # The volunteer opens "My QR code" once with a signal: the phone gets its secret.
    login(volunteer, VOLUNTEER_PHONE)
    volunteer.goto("/me/qr")
    _phone_code(volunteer)

    # The lead opens the scanner with a signal; the service worker installs and keeps it.
    login(lead, LEAD_PHONE)
    scanner_path = f"/checkin/shifts/{journey.shift_id}"
    lead.goto(scanner_path)
    _wait_for_service_worker(lead)
    lead.reload()  # now through the service worker, which keeps a copy
    expect(lead.get_by_test_id("scanner")).to_have_attribute("data-roster", "ready")
    lead.wait_for_function("() => caches.has('vf-pages')")
    for _ in range(50):
        if scanner_path in _kept_pages(lead):
            break
        lead.wait_for_timeout(100)
    assert scanner_path in _kept_pages(lead)

    # The signal drops on both phones; the volunteer's code is still made on the phone.
    volunteer.context.set_offline(True)
    lead.context.set_offline(True)
    allow_console_error(lead, r"ERR_INTERNET_DISCONNECTED|Failed to fetch|service ?worker")
    lead.reload()  # the kept copy, not the browser's error page
    scanner = lead.get_by_test_id("scanner")
    expect(scanner).to_have_attribute("data-roster", "cached")
    sync = lead.get_by_test_id("sync-status")
    expect(sync).to_have_attribute("data-online", "0")
    lead.wait_for_function(
        "() => parseInt(document.getElementById('scanner').dataset.offlineCodes || '0') > 0"
    )
    code = _phone_code(volunteer)

    _type_code(lead, code)
    _expect_result(lead, state="pending", code="", name="王小明", provisional=True)
    _type_code(lead, card_number)
    _expect_result(lead, state="pending", code="", name=card_name, provisional=True)
    expect(sync).to_have_attribute("data-queued", "2")
    expect(sync).to_have_text("离线 · 2 条待同步")
    shot(lead, "scanner-reopened-offline-phone")
    assert _attendance_counts(journey.app, journey.shift_id) == {}

    # A forged phone code is not matched on the phone (the server decides when synced).
    forged = code[:-4] + ("AAAA" if not code.endswith("AAAA") else "BBBB")
    _type_code(lead, forged)
    _expect_result(lead, state="bad", code="", name="", provisional=True)

    # The signal returns: one batch, each scan applied once.
    batches: list[list[dict]] = []
    lead.on(
        "request",
        lambda r: (
            batches.append(json.loads(r.post_data)["scans"])
            if r.method == "POST" and r.url.endswith("/scans")
            else None
        ),
    )
    lead.context.set_offline(False)
    volunteer.context.set_offline(False)
    expect(sync).to_have_attribute("data-queued", "0", timeout=20_000)
    recent = lead.get_by_test_id("recent-scans")
    expect(recent.locator("li[data-state='ok'][data-code='checked_in']")).to_have_count(2)
    expect(recent.locator("li[data-code='tampered']")).to_have_count(1)
    assert len(batches) == 1 and len(batches[0]) == 3, batches
    per_user = _attendance_counts(journey.app, journey.shift_id)
    assert per_user == {journey.wang_id: 1, card_holder: 1}
    offline = sorted(_offline_logs(journey.app, journey.shift_id), key=repr)
    assert offline == sorted(
        [
            (journey.wang_id, "checked_in", True),
            (card_holder, "checked_in", True),
            (None, "tampered", False),
        ],
        key=repr,
    )
    # Reloading with the signal back sends nothing again.
    lead.reload()
    expect(lead.get_by_test_id("scanner")).to_have_attribute("data-roster", "ready")
    expect(sync).to_have_attribute("data-queued", "0")
    assert len(batches) == 1
    assert _attendance_counts(journey.app, journey.shift_id) == per_user
    print(f"offline_scanner_seconds: {time.perf_counter() - began:.2f}")


def test_my_code_keeps_changing_offline_and_is_accepted_after_two_minutes(phone_page, journey):
    from sqlalchemy import select

    from volunteer_app import checkin
    from volunteer_app.extensions import db
    from volunteer_app.models import Shift, User
    from volunteer_app.services import devicecodes

    page = phone_page
    if not timeutil.clock_shifted():  # otherwise conftest installed the moved clock already
        page.clock.install(time=datetime.now(UTC))
    login(page, VOLUNTEER_PHONE)
    page.goto("/me/qr")
    first = _phone_code(page)

    page.context.set_offline(True)
    expect(page.locator("#qr-status")).to_contain_text("没有网络")
    seen = [first]
    for _ in range(4):  # two minutes offline, 30 s at a time
        page.clock.fast_forward(30_000)
        expect(page.get_by_test_id("my-code")).not_to_have_attribute("data-token", seen[-1])
        seen.append(_phone_code(page))
    assert len(set(seen)) == 5, seen
    # The image is the code drawn on the phone, not the server's (unreachable) one.
    assert page.locator("#my-qr").get_attribute("src").startswith("data:image/")

    # The server's rule, at the phone's moment: the latest code is accepted, the first is not.
    elapsed = timedelta(minutes=2)
    with journey.app.app_context():
        at = timeutil.utcnow() + elapsed
        assert devicecodes.check(seen[-1], at).problem == ""
        assert devicecodes.check(seen[0], at).problem == "expired"
        lead = db.session.scalar(select(User).where(User.phone == LEAD_PHONE))
        shift = db.session.get(Shift, journey.shift_id)
        result = checkin.scan(lead, token=seen[-1], shift=shift, now=at)
        assert (result.ok, result.code, result.volunteer.id) == (
            True,
            "checked_in",
            journey.wang_id,
        )
        db.session.rollback()  # only a check: nothing is kept
        db.session.remove()


# ---------------------------------------------------------------- a weak link

THROTTLE = {
    "offline": False,
    "latency": 300,  # ms round trip
    "downloadThroughput": 400_000 / 8,  # 400 kbit/s in bytes per second
    "uploadThroughput": 400_000 / 8,
}
COLD_MS = 3000
WARM_MS = 1000


def _measure(page, cdp, path: str, *, cold: bool) -> dict:
    if cold:
        # Unthrottled first, so that the server has compressed its files once (as a
        # server that has run for a while has); then the browser forgets everything.
        page.goto(path, wait_until="load")
        cdp.send("Network.clearBrowserCache")
    cdp.send("Network.emulateNetworkConditions", THROTTLE)
    try:
        page.goto(path, wait_until="load")
        timing = page.evaluate(
            """() => {
              const nav = performance.getEntriesByType('navigation')[0];
              const res = performance.getEntriesByType('resource');
              return {
                load: nav.loadEventEnd - nav.startTime,
                bytes: nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0),
                decoded: nav.decodedBodySize + res.reduce((s, r) => s + r.decodedBodySize, 0),
              };
            }"""
        )
    finally:
        cdp.send(
            "Network.emulateNetworkConditions",
            {**THROTTLE, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
    return timing


@pytest.fixture
def throttled_page(browser, live_server):
    """A phone with service workers blocked (this measures HTTP caching alone) and without
    the harness's request routing: Playwright turns the HTTP cache off when a route is set.
    Requests to other hosts are recorded instead and fail the test."""
    from urllib.parse import urlsplit

    context = browser.new_context(base_url=live_server.url, service_workers="block", **PHONE)
    if timeutil.clock_shifted():
        context.clock.install(time=timeutil.utcnow().replace(tzinfo=UTC))
    page = context.new_page()
    offsite: list[str] = []
    errors: list[str] = []
    page.on(
        "request",
        lambda r: (
            offsite.append(r.url)
            if urlsplit(r.url).hostname not in ("127.0.0.1", "localhost")
            and not r.url.startswith("data:")
            else None
        ),
    )
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert offsite == [] and errors == [], (offsite, errors)


def test_first_load_cold_and_warm_on_a_throttled_link(throttled_page, journey):
    page = throttled_page
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    figures = {}
    figures["home"] = (_measure(page, cdp, "/", cold=True), _measure(page, cdp, "/", cold=False))
    login(page, VOLUNTEER_PHONE)
    figures["my_qr"] = (
        _measure(page, cdp, "/me/qr", cold=True),
        _measure(page, cdp, "/me/qr", cold=False),
    )
    page.context.clear_cookies()
    login(page, LEAD_PHONE)
    scanner = f"/checkin/shifts/{journey.shift_id}"
    figures["scanner"] = (
        _measure(page, cdp, scanner, cold=True),
        _measure(page, cdp, scanner, cold=False),
    )
    for name, (cold, warm) in figures.items():
        print(
            f"throttled {name}: cold {cold['load']:.0f} ms ({cold['bytes'] / 1024:.1f} KiB "
            f"transferred, {cold['decoded'] / 1024:.1f} KiB decoded), warm {warm['load']:.0f} ms "
            f"({warm['bytes'] / 1024:.1f} KiB)"
        )
    for name, (cold, warm) in figures.items():
        assert cold["load"] < COLD_MS, (name, cold)
        assert warm["load"] < WARM_MS, (name, warm)
