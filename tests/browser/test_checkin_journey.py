"""Check-in at the crossroads, in a real Chromium: a volunteer shows "my QR", the lead's
phone opens it and checks them in; on the scanner page the lead checks in more by roster
search and a handheld scanner's keystrokes, loses the connection, scans two more (queued,
provisional) and gets them synced, each exactly once, when the connection returns."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from .conftest import (
    _PAGE_GUARDS,
    PHONE,
    _new_page,
    allow_console_error,
    assert_accessible,
    login,
)

VOLUNTEER_PHONE = "13800000007"  # 王小明
LEAD_PHONE = "13800000005"  # 东关社区领队
OTHERS = 8  # demo volunteers signed up besides 王小明


@dataclass
class Journey:
    app: object
    shift_id: int
    wang_id: int
    #: (user id, sign-up id, name) of the other volunteers on the roster.
    others: list[tuple[int, int, str]]
    #: (user id, phone, name) of a volunteer who is not signed up: a walk-in.
    walk_in: tuple[int, str, str]

    def token(self, user_id: int) -> str:
        """A volunteer's current code, signed with the live server's key."""
        from volunteer_app.services import qr
        from volunteer_app.timeutil import utcnow

        with self.app.app_context():
            return qr.volunteer_token(user_id, utcnow())


def _live_app(live_server):
    """The app on the live server's database with its keys (read from its instance dir)."""
    from config import TestingConfig
    from volunteer_app import create_app

    keys = json.loads((live_server.db_path.parent / "instance" / "dev-keys.json").read_text())
    return create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{live_server.db_path}",
        SECRET_KEY=keys["SECRET_KEY"],
        PII_ENCRYPTION_KEY=keys["PII_ENCRYPTION_KEY"],
    )


def _open_shift(app) -> Journey:
    """An event in 环秀街道/东关社区 whose shift starts in 10 minutes (check-in open), led by
    the demo lead, with 王小明 and eight demo volunteers (complete profiles) confirmed."""
    from sqlalchemy import delete, select

    from volunteer_app import checkin
    from volunteer_app.demo import find_node
    from volunteer_app.extensions import db
    from volunteer_app.models import (
        Event,
        EventStatus,
        Shift,
        ShiftLead,
        Signup,
        SignupStatus,
        User,
        VolunteerProfile,
    )
    from volunteer_app.timeutil import utcnow

    with app.app_context():
        now = utcnow().replace(microsecond=0)
        town = find_node(("即墨区", "环秀街道"))
        community = find_node(("即墨区", "环秀街道", "东关社区"))
        lead = db.session.scalar(select(User).where(User.phone == LEAD_PHONE))
        wang = db.session.scalar(select(User).where(User.phone == VOLUNTEER_PHONE))
        # A demo shift of today may be open right now: the lead leaves it, so that opening
        # a code without a shift (/q/<token>) can only mean this one.
        for other in checkin.open_shifts_led_by(lead, now):
            db.session.execute(
                delete(ShiftLead).where(
                    ShiftLead.shift_id == other.id, ShiftLead.user_id == lead.id
                )
            )
        start = now + timedelta(minutes=10)
        event = Event(
            host_id=town.id,
            area_id=community.id,
            title="路口文明引导·签到演练",
            category="traffic_order",
            address="东关社区主干道路口",
            status=EventStatus.PUBLISHED,
            starts_at=start,
            ends_at=start + timedelta(hours=2),
        )
        shift = Shift(
            event=event,
            post="早高峰岗",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            capacity=20,
            taken=0,
            waitlisted=0,
            signup_opens_at=now - timedelta(days=3),
        )
        shift.leads.append(ShiftLead(user_id=lead.id))
        db.session.add_all([event, shift])
        db.session.flush()
        others = db.session.scalars(
            select(User)
            .join(VolunteerProfile, VolunteerProfile.user_id == User.id)
            .where(User.phone.like("150%"), VolunteerProfile.consented_at.is_not(None))
            .order_by(User.phone)
            .limit(OTHERS + 1)
        ).all()
        *others, walker = others
        signups = {}
        for user in [wang, *others]:
            signup = Signup(shift_id=shift.id, user_id=user.id, status=SignupStatus.CONFIRMED)
            db.session.add(signup)
            signups[user.id] = signup
        shift.taken = len(signups)
        db.session.commit()
        journey = Journey(
            app=app,
            shift_id=shift.id,
            wang_id=wang.id,
            others=[(u.id, signups[u.id].id, u.display_name) for u in others],
            walk_in=(walker.id, walker.phone, walker.display_name),
        )
        db.session.remove()
    return journey


def _attendance_counts(app, shift_id: int) -> dict[int, int]:
    from sqlalchemy import func, select

    from volunteer_app.extensions import db
    from volunteer_app.models import Attendance

    with app.app_context():
        rows = db.session.execute(
            select(Attendance.user_id, func.count())
            .where(Attendance.shift_id == shift_id)
            .group_by(Attendance.user_id)
        ).all()
        db.session.remove()
    return dict(rows)


def _offline_logs(app, shift_id: int) -> list[tuple[int, str, bool]]:
    from sqlalchemy import select

    from volunteer_app.extensions import db
    from volunteer_app.models import ScanLog

    with app.app_context():
        rows = db.session.execute(
            select(ScanLog.volunteer_id, ScanLog.code, ScanLog.ok).where(
                ScanLog.shift_id == shift_id, ScanLog.method == "offline"
            )
        ).all()
        db.session.remove()
    return [tuple(r) for r in rows]


@pytest.fixture
def journey(live_server):
    app = _live_app(live_server)
    try:
        yield _open_shift(app)
    finally:
        from volunteer_app.extensions import db

        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def lead_page(browser, live_server, request):
    """A second phone (its own profile and cookies): the lead's."""
    context, page = _new_page(browser, live_server, request, "lead-phone", **PHONE)
    yield page
    _PAGE_GUARDS.pop(id(page), None)
    context.close()


def _decode_qr(png: bytes) -> str:
    import zxingcpp
    from PIL import Image

    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert found, "the QR code on /me/qr could not be decoded"
    return found[0].text


def _expect_result(page, *, state: str, code: str, name: str, provisional: bool = False) -> None:
    panel = page.get_by_test_id("scanner-result")
    expect(panel).to_have_attribute("data-state", state)
    expect(panel).to_have_attribute("data-code", code)
    expect(panel).to_have_attribute("data-provisional", "true" if provisional else "false")
    expect(panel.locator(".sc-name")).to_have_text(name)


def _expect_counts(page, **counts: int) -> None:
    box = page.get_by_test_id("counts")
    for key, value in counts.items():
        expect(box.locator(f"[data-count='{key}']")).to_have_text(str(value))


def _type_code(page, text: str) -> None:
    """What a handheld scanner does: the characters, then Enter."""
    field = page.locator("#sc-code")
    field.press_sequentially(text)
    field.press("Enter")


def test_checkin_journey(phone_page, lead_page, journey, live_server, shot):
    began = time.perf_counter()
    volunteer, lead = phone_page, lead_page
    login(volunteer, VOLUNTEER_PHONE)
    login(lead, LEAD_PHONE)

    # 1. The volunteer opens "my QR"; the lead's phone reads it (decoded from the pixels).
    volunteer.goto("/me/qr")
    expect(volunteer.get_by_test_id("qr-name")).to_have_text("王小明")
    image = volunteer.locator("#my-qr")
    expect(image).to_be_visible()
    volunteer.wait_for_function(
        "() => { const i = document.getElementById('my-qr');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    assert_accessible(volunteer)
    shot(volunteer, "my-qr-phone")
    url = _decode_qr(image.screenshot())
    parts = urlsplit(url)
    assert parts.path.startswith("/q/"), url

    lead.goto(parts.path)
    result = lead.get_by_test_id("scan-result")
    expect(result).to_have_attribute("data-code", "checked_in")
    expect(result).to_contain_text("王小明")
    expect(result).to_contain_text("路口文明引导·签到演练")
    shot(lead, "scan-result-phone")

    # 2. The scanner page: roster cached, counts, the handheld scanner's field focused.
    lead.goto(f"/checkin/shifts/{journey.shift_id}")
    scanner = lead.get_by_test_id("scanner")
    expect(scanner).to_have_attribute("data-roster", "ready")
    expected = 1 + len(journey.others)
    _expect_counts(lead, expected=expected, **{"in": 1}, out=0, missing=expected - 1)
    expect(lead.locator("#sc-code")).to_be_focused()
    expect(lead.get_by_test_id("missing-list").locator("li.sc-person")).to_have_count(expected - 1)
    assert_accessible(lead)

    (a_id, a_signup, a_name), (b_id, _b, b_name), (c_id, _c, c_name) = journey.others[:3]
    (d_id, _d, d_name), (e_id, _e, e_name) = journey.others[3:5]

    # Roster search by the last four digits of the phone, then the row's button.
    roster = lead.request.get(f"/api/v1/shifts/{journey.shift_id}/roster").json()
    tail = next(r["phone_tail"] for r in roster["roster"] if r["signup_id"] == a_signup)
    lead.get_by_test_id("roster-search").fill(tail)
    row = lead.get_by_test_id("search-results").locator(f"li[data-signup-id='{a_signup}']")
    expect(row).to_contain_text(a_name)
    row.get_by_role("button").click()
    _expect_result(lead, state="ok", code="checked_in", name=a_name)
    expect(row).to_contain_text(a_name)  # the search list now shows the check-in time
    lead.get_by_test_id("roster-search").fill("")

    # The handheld scanner: a full code URL, then a bare token.
    lead.locator("#sc-code").focus()
    _type_code(lead, f"{live_server.url}/q/{journey.token(b_id)}")
    _expect_result(lead, state="ok", code="checked_in", name=b_name)
    expect(lead.locator("#sc-code")).to_be_focused()
    expect(lead.locator("#sc-code")).to_have_value("")
    c_token = journey.token(c_id)
    _type_code(lead, c_token)
    # The same code again at once (within 3 s) is a double read: ignored.
    lead.locator("#sc-code").fill(c_token)
    lead.locator("#sc-code").press("Enter")
    _expect_result(lead, state="ok", code="checked_in", name=c_name)
    _expect_counts(lead, expected=expected, **{"in": 4}, missing=expected - 4)
    expect(lead.get_by_test_id("recent-scans").locator("li")).to_have_count(3)
    expect(lead.get_by_test_id("sync-status")).to_have_attribute("data-queued", "0")
    shot(lead, "scanner-phone")

    # 3. The connection drops: two more scans are queued and shown provisionally.
    lead.context.set_offline(True)
    sync = lead.get_by_test_id("sync-status")
    expect(sync).to_have_attribute("data-online", "0")
    _type_code(lead, journey.token(d_id))
    _expect_result(lead, state="pending", code="", name=d_name, provisional=True)
    _type_code(lead, journey.token(e_id))
    _expect_result(lead, state="pending", code="", name=e_name, provisional=True)
    expect(sync).to_have_attribute("data-queued", "2")
    expect(sync).to_contain_text("2")
    recent = lead.get_by_test_id("recent-scans")
    expect(recent.locator("li[data-provisional='true']")).to_have_count(2)
    _expect_counts(lead, **{"in": 6}, missing=expected - 6)  # provisional, from the roster
    queued = lead.evaluate(
        f"() => JSON.parse(localStorage.getItem('vf.scanner.queue.{journey.shift_id}'))"
    )
    assert len(queued) == 2 and all(item["offline"] for item in queued)
    shot(lead, "scanner-offline-phone")
    assert _attendance_counts(journey.app, journey.shift_id).get(d_id) is None

    # 4. Back online: the queue goes as one batch; each answer replaces the provisional one.
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
    expect(sync).to_have_attribute("data-queued", "0", timeout=20_000)
    expect(sync).to_have_attribute("data-online", "1")
    _expect_result(lead, state="ok", code="checked_in", name=e_name)
    expect(recent.locator("li[data-provisional='true']")).to_have_count(0)
    expect(recent.locator("li[data-state='ok'][data-code='checked_in']")).to_have_count(5)
    _expect_counts(lead, expected=expected, **{"in": 6}, out=0, missing=expected - 6)
    assert len(batches) == 1, batches
    assert [s["nonce"] for s in batches[0]] == [item["nonce"] for item in queued]
    assert all(s["offline"] is True for s in batches[0])

    # 5. A flaky connection: the phone says online but the request fails. The scan is
    # queued; the queue survives a reload and is sent from the reloaded page.
    (f_id, _f, f_name) = journey.others[5]
    allow_console_error(lead, r"Failed to load resource: net::ERR_INTERNET_DISCONNECTED")
    lead.route("**/api/v1/shifts/*/scans", lambda route: route.abort("internetdisconnected"))
    _type_code(lead, journey.token(f_id))
    _expect_result(lead, state="pending", code="", name=f_name, provisional=True)
    expect(sync).to_have_attribute("data-queued", "1")
    expect(sync).to_have_attribute("data-online", "1")
    lead.unroute("**/api/v1/shifts/*/scans")
    lead.reload()
    expect(lead.get_by_test_id("scanner")).to_have_attribute("data-roster", "ready")
    expect(sync).to_have_attribute("data-queued", "0")
    expect(recent.locator("li")).to_have_count(6)
    expect(recent.locator("li[data-provisional='true']")).to_have_count(0)
    expect(recent.locator(f"li[data-state='ok']:has-text('{f_name}')")).to_have_count(1)
    _expect_counts(lead, expected=expected, **{"in": 7}, out=0, missing=expected - 7)

    # 6. A walk-in: added to the shift by phone number and checked in.
    walker_id, walker_phone, walker_name = journey.walk_in
    lead.locator(".sc-walkin summary").click()
    lead.get_by_test_id("walkin-form").locator("input").fill(walker_phone)
    lead.get_by_test_id("walkin-form").get_by_role("button").click()
    _expect_result(lead, state="ok", code="checked_in", name=walker_name)
    expected += 1
    _expect_counts(lead, expected=expected, **{"in": 8}, out=0, missing=expected - 8)

    # Each scan exactly once, as the API and the database see it.
    api = lead.request.get(f"/api/v1/shifts/{journey.shift_id}/roster").json()
    assert api["counts"] == {"expected": expected, "in": 8, "out": 0, "missing": expected - 8}
    checked = {r["user_id"] for r in api["roster"] if r["checked_in_at"]}
    assert checked == {journey.wang_id, a_id, b_id, c_id, d_id, e_id, f_id, walker_id}
    per_user = _attendance_counts(journey.app, journey.shift_id)
    assert per_user[d_id] == 1 and per_user[e_id] == 1 and per_user[f_id] == 1
    assert sum(per_user.values()) == 8
    offline = _offline_logs(journey.app, journey.shift_id)
    assert sorted(offline) == sorted((v, "checked_in", True) for v in (d_id, e_id, f_id))

    print(f"checkin_journey_seconds: {time.perf_counter() - began:.2f}")


# ---------------------------------------------------------------- the camera


def _qr_video(path, text: str) -> None:
    """A few frames of a QR code as Y4M, for Chromium's fake camera."""
    import qrcode
    from PIL import Image

    code = qrcode.make(text, border=4).convert("L").resize((360, 360), Image.NEAREST)
    frame = Image.new("L", (640, 480), 255)
    frame.paste(code, (140, 60))
    chroma = bytes([128]) * (320 * 240)
    with open(path, "wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(5):
            out.write(b"FRAME\n" + frame.tobytes() + chroma + chroma)


@pytest.fixture
def camera_page(browser, live_server, journey, request, tmp_path):
    """A phone whose camera films a volunteer's QR code (a second Chromium: the fake
    camera is a launch option)."""
    from .conftest import CHROMIUM_ARGS, chromium_path

    volunteer_id, _signup, name = journey.others[0]
    video = tmp_path / "qr.y4m"
    _qr_video(video, f"{live_server.url}/q/{journey.token(volunteer_id)}")
    filming = browser.browser_type.launch(
        executable_path=chromium_path(),
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        context, page = _new_page(filming, live_server, request, "camera-phone", **PHONE)
        context.grant_permissions(["camera"])
        yield page, name
        _PAGE_GUARDS.pop(id(page), None)
        context.close()
    finally:
        filming.close()


def test_camera_scanning(camera_page, journey):
    """Continuous scanning: the code in view is read on the phone (BarcodeDetector where the
    browser has it, else the zxing-cpp WebAssembly decoder served by the app; the server's
    decoder only when neither works), checked in once, not again and again."""
    page, name = camera_page
    decodes: list[str] = []
    wasm: list[str] = []
    page.on("request", lambda r: decodes.append(r.url) if r.url.endswith("/decode") else None)
    page.on("request", lambda r: wasm.append(r.url) if ".wasm" in r.url else None)
    login(page, LEAD_PHONE)
    page.goto(f"/checkin/shifts/{journey.shift_id}")
    expect(page.get_by_test_id("scanner")).to_have_attribute("data-roster", "ready")
    page.get_by_test_id("camera-start").click()
    expect(page.locator("#sc-video")).to_be_visible()
    panel = page.get_by_test_id("scanner-result")
    expect(panel).to_have_attribute("data-code", "checked_in", timeout=15_000)
    _expect_result(page, state="ok", code="checked_in", name=name)
    page.wait_for_timeout(3500)  # the code stays in view: de-duplicated, not re-sent
    expect(page.get_by_test_id("recent-scans").locator("li")).to_have_count(1)
    assert decodes == [], decodes  # no camera frame left the phone
    if not page.evaluate("'BarcodeDetector' in window"):
        assert len(wasm) == 1 and "/static/vendor/zxing-wasm/zxing_reader.wasm?v=" in wasm[0]
    page.locator("#sc-camera-stop").click()
    expect(page.locator("#sc-video")).to_be_hidden()
    expect(page.locator("#sc-code")).to_be_focused()
