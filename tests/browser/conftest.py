"""Real-browser harness: a live server subprocess, headless Chromium, offline guards, axe.

Every test here is marked `browser`. With no Chromium on the machine they are all
skipped with one reason, repeated in the terminal summary so it cannot be missed.

The live server is `flask run` in a subprocess on a fresh SQLite database seeded
with the demo accounts. Each test gets a new browser context (a fresh profile) whose
requests to any host other than the loopback are aborted and make the test fail, as
do console errors (CSP violations included) and uncaught page errors.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from volunteer_app import timeutil

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCREENSHOT_DIR = ROOT / "docs" / "screenshots"
DEMO_PASSWORD = "Volunteer2026"

NO_BROWSER = (
    "Browser tests skipped: no Chromium found — install Debian's chromium "
    "(apt-get install chromium) or run `.venv/bin/playwright install chromium`"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "locale": "zh-CN",
}
DESKTOP = {"viewport": {"width": 1366, "height": 768}}
SERVER_START_SECONDS = 20.0


# ---------------------------------------------------------------- finding a browser


def _playwright_chromium() -> str | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    try:
        with sync_playwright() as p:
            path = p.chromium.executable_path
    except Exception:
        return None
    return path if path and Path(path).exists() else None


def find_chromium() -> str | None:
    """Debian's Chromium, else one on PATH, else Playwright's own download."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists() and os.access(candidate, os.X_OK):
            return candidate
    return _playwright_chromium()


_CHROMIUM: dict[str, str | None] = {}


def chromium_path() -> str | None:
    if "path" not in _CHROMIUM:
        _CHROMIUM["path"] = find_chromium()
    return _CHROMIUM["path"]


def _is_browser_item(item: pytest.Item) -> bool:
    return HERE in Path(str(item.path)).resolve().parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if _is_browser_item(item)]
    if not ours:
        return
    missing = chromium_path() is None
    for item in ours:
        item.add_marker(pytest.mark.browser)
        if missing:
            item.add_marker(pytest.mark.skip(reason=NO_BROWSER))
    if missing:
        config.stash[_SKIPPED_KEY] = True


_SKIPPED_KEY = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """Fold every no-browser skip into one line of the -ra summary."""
    report = yield
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and NO_BROWSER in str(longrepr[2]):
        report.longrepr = (str(Path(__file__)), None, longrepr[2])
    return report


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    # Under pytest-xdist the workers collect; the skips they report still say why.
    skipped = terminalreporter.stats.get("skipped", [])
    if config.stash.get(_SKIPPED_KEY, False) or any(
        NO_BROWSER in str(getattr(report, "longrepr", "")) for report in skipped
    ):
        terminalreporter.write_sep("!", NO_BROWSER, red=True, bold=True)


# ---------------------------------------------------------------- the live server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    log: Path
    db_path: Path

    def stderr(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _flask(env: dict[str, str], *args: str, log: Path) -> None:
    flask = Path(sys.executable).parent / "flask"
    result = subprocess.run(
        [str(flask), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    with log.open("a") as fh:
        fh.write(f"$ flask {' '.join(args)}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        pytest.fail(
            f"`flask {' '.join(args)}` failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`flask run` in a subprocess on a fresh, seeded SQLite database."""
    tmp = tmp_path_factory.mktemp("live")
    log = tmp / "server.log"
    db_path = tmp / "browser.db"
    env = {
        **os.environ,
        "APP_CONFIG": "development",
        "DATABASE_URL": f"sqlite:///{db_path}",
        "INSTANCE_PATH": str(tmp / "instance"),
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "8192",
        "ARGON2_PARALLELISM": "1",
        "RATELIMIT_ENABLED": "0",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("FLASK_DEBUG", "FLASK_RUN_PORT", "FLASK_RUN_HOST", "SECRET_KEY"):
        env.pop(name, None)
    _flask(env, "db", "upgrade", log=log)
    _flask(env, "seed", "demo", log=log)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    flask = Path(sys.executable).parent / "flask"
    with log.open("a") as out:
        process = subprocess.Popen(
            [str(flask), "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(url=url, process=process, log=log, db_path=db_path)
    try:
        _wait_until_up(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_up(server: LiveServer) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"live server exited with {server.process.returncode} before answering:\n"
                f"{server.stderr()}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(server.url + "/", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as error:
            last_error = error
        time.sleep(0.1)
    pytest.fail(
        f"live server did not answer {server.url} within {SERVER_START_SECONDS:.0f} s "
        f"({last_error}):\n{server.stderr()}",
        pytrace=False,
    )


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser(live_server: LiveServer):
    """One headless Chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:  # pragma: no cover - the collection hook skips first
        pytest.skip(NO_BROWSER)
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@dataclass
class Guard:
    """What a context did that a test must not: off-host requests, console errors."""

    name: str
    page: object = None
    offsite: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern] = field(default_factory=list)

    def on_route(self, route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about") or parts.hostname in LOCAL_HOSTS:
            route.continue_()
            return
        self.offsite.append(f"{route.request.method} {url}")
        route.abort("blockedbyclient")

    def on_console(self, message) -> None:
        if message.type != "error":
            return
        location = message.location or {}
        text = f"{message.text} ({location.get('url', '')}:{location.get('lineNumber', '')})"
        if not any(pattern.search(message.text) for pattern in self.allowed):
            self.console_errors.append(text)

    def on_page_error(self, error) -> None:
        self.page_errors.append(str(error))

    def problems(self) -> list[str]:
        out = []
        if self.offsite:
            out.append("requests to other hosts (aborted):\n    " + "\n    ".join(self.offsite))
        if self.console_errors:
            out.append("console errors:\n    " + "\n    ".join(self.console_errors))
        if self.page_errors:
            out.append("uncaught page errors:\n    " + "\n    ".join(self.page_errors))
        return out


_GUARDS_KEY = pytest.StashKey[list[Guard]]()
_PAGE_GUARDS: dict[int, Guard] = {}


def allow_console_error(page, pattern: str) -> None:
    """Let console errors matching `pattern` through on this page (e.g. an expected 404)."""
    _PAGE_GUARDS[id(page)].allowed.append(re.compile(pattern))


def _new_page(browser, live_server: LiveServer, request: pytest.FixtureRequest, name: str, **opts):
    context = browser.new_context(base_url=live_server.url, **opts)
    context.set_default_timeout(10_000)
    if timeutil.clock_shifted():
        # The server runs on the moved clock (VOLUNTEER_CLOCK); the page's Date must agree.
        context.clock.install(time=timeutil.utcnow().replace(tzinfo=UTC))
    guard = Guard(name=name)
    context.route("**/*", guard.on_route)
    page = context.new_page()
    guard.page = page
    page.on("console", guard.on_console)
    page.on("pageerror", guard.on_page_error)
    request.node.stash.setdefault(_GUARDS_KEY, []).append(guard)
    _PAGE_GUARDS[id(page)] = guard
    return context, page


@pytest.fixture
def phone_page(browser, live_server: LiveServer, request: pytest.FixtureRequest):
    """A 390×844 touch phone (zh-CN) with a fresh profile."""
    context, page = _new_page(browser, live_server, request, "phone", **PHONE)
    yield page
    _PAGE_GUARDS.pop(id(page), None)
    context.close()


@pytest.fixture
def desktop_page(browser, live_server: LiveServer, request: pytest.FixtureRequest):
    """A 1366×768 desktop with a fresh profile."""
    context, page = _new_page(browser, live_server, request, "desktop", **DESKTOP)
    yield page
    _PAGE_GUARDS.pop(id(page), None)
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """After the test body: fail it if its pages went off-host or logged errors."""
    result = yield
    problems = []
    for guard in item.stash.get(_GUARDS_KEY, []):
        with contextlib.suppress(Exception):  # a closed page has nothing more to report
            guard.page.evaluate("0")  # let pending console events arrive
        problems += [f"[{guard.name}] {p}" for p in guard.problems()]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
    return result


# ---------------------------------------------------------------- helpers


LOGIN_LABELS = {
    "zh-CN": ("手机号", "密码", "登录"),
    "en": ("Mobile number", "Password", "Log in"),
}


def login(page, phone: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the form in the page's current language and wait for the redirect."""
    from playwright.sync_api import expect

    if "/auth/login" not in page.url:
        page.goto("/auth/login")
    lang = page.locator("html").get_attribute("lang") or "zh-CN"
    phone_label, password_label, submit = LOGIN_LABELS.get(lang, LOGIN_LABELS["zh-CN"])
    form = page.get_by_test_id("login-form")
    form.get_by_label(phone_label, exact=True).fill(phone)
    form.get_by_label(password_label, exact=True).fill(password)
    with page.expect_navigation():
        form.get_by_role("button", name=submit, exact=True).click()
    expect(page.get_by_test_id("whoami")).to_be_attached()


def open_menu(page) -> None:
    """On a phone, expand the collapsed navbar (no-op when it is already expanded)."""
    from playwright.sync_api import expect

    toggler = page.locator("button.navbar-toggler")
    if toggler.is_visible() and toggler.get_attribute("aria-expanded") != "true":
        toggler.click()
    expect(page.locator("#mainnav")).to_be_visible()
    expect(page.locator("#mainnav")).not_to_have_class(re.compile(r"\bcollapsing\b"))


def logout(page) -> None:
    """Log out through the menu's button (退出 / Log out)."""
    from playwright.sync_api import expect

    open_menu(page)
    with page.expect_navigation():
        page.locator("#mainnav form[action$='/auth/logout'] button").click()
    expect(page.get_by_test_id("whoami")).to_have_count(0)


_PHONES = itertools.count()
_ID_SERIALS = itertools.count(1)


def fresh_phone() -> str:
    """A mobile number no other test of this session (nor the demo data) uses."""
    return f"139{(time.time_ns() // 1000 + next(_PHONES)) % 10**8:08d}"


def fresh_id_number() -> str:
    """A valid resident ID number (an adult man's) that is new within this session.

    Born on the 30th: the demo data's random birth dates never go past the 28th, so
    no seeded volunteer can hold the same number.
    """
    from volunteer_app.services.idnumbers import make_resident_number

    return make_resident_number("370282", date(1990, 3, 30), 2 * next(_ID_SERIALS) + 1, True)


_CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def sms_code(page, phone: str) -> str:
    """The newest code sent to `phone`, read from /dev/messages in a second tab."""
    from playwright.sync_api import expect

    tab = page.context.new_page()
    guard = _PAGE_GUARDS.get(id(page))
    if guard is not None:
        tab.on("console", guard.on_console)
        tab.on("pageerror", guard.on_page_error)
    try:
        tab.goto("/dev/messages")
        row = tab.get_by_test_id("dev-messages").locator(f"tbody tr:has(td[data-phone='{phone}'])")
        expect(row.first).to_be_visible()
        body = row.first.locator(".sms-body").inner_text()
    finally:
        tab.close()
    assert "验证码" in body, f"the newest SMS to {phone} has no code: {body!r}"
    found = _CODE_RE.search(body)
    assert found, f"no 6-digit code in the SMS to {phone}: {body!r}"
    return found.group(1)


def request_code(page, phone: str) -> None:
    """Registration step 1 (from wherever the page is): the number, then 获取验证码."""
    from playwright.sync_api import expect

    if urlsplit(page.url).path != "/auth/register":
        page.goto("/auth/register")
    form = page.get_by_test_id("register-form")
    form.get_by_label("手机号", exact=True).fill(phone)
    with page.expect_navigation():
        form.get_by_role("button", name="获取验证码", exact=True).click()
    expect(page).to_have_url(re.compile(r"/auth/register/verify$"))
    expect(page.get_by_test_id("register-verify-form")).to_be_visible()


def fill_verify(page, code: str, password: str, confirm: str | None = None) -> None:
    """Registration step 2's fields, not yet submitted."""
    form = page.get_by_test_id("register-verify-form")
    form.get_by_label("验证码", exact=True).fill(code)
    form.get_by_label("密码", exact=True).fill(password)
    form.get_by_label("确认密码", exact=True).fill(password if confirm is None else confirm)


def submit_verify(page) -> None:
    with page.expect_navigation():
        page.get_by_test_id("register-verify-form").get_by_role(
            "button", name="注册账号", exact=True
        ).click()


def register_account(page, phone: str, password: str = DEMO_PASSWORD) -> None:
    """Both registration steps; ends logged in on /me/consent (consent before the ID number)."""
    from playwright.sync_api import expect

    request_code(page, phone)
    fill_verify(page, sms_code(page, phone), password)
    submit_verify(page)
    expect(page).to_have_url(re.compile(r"/me/consent$"))
    expect(page.get_by_test_id("whoami")).to_be_attached()


def give_consent(page) -> None:
    """The consent step (privacy notice and the separate sensitive-data consent)."""
    form = page.get_by_test_id("consent-form")
    form.get_by_label("我已阅读并同意隐私政策。", exact=True).check()
    form.get_by_label(re.compile("身份证件号码")).check()
    with page.expect_navigation():
        form.get_by_role("button", name="完成").click()


@pytest.fixture
def shot(request: pytest.FixtureRequest, tmp_path: Path):
    """shot(page, name): a full-page PNG in the test's tmp dir, and in docs/screenshots
    when pytest runs with --screenshots."""
    publish = bool(request.config.getoption("--screenshots", default=False))

    def take(page, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if publish:
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SCREENSHOT_DIR / f"{name}.png")
        return path

    return take


BLOCKING_IMPACTS = frozenset({"serious", "critical"})


def assert_accessible(page, context: str | None = None) -> None:
    """Run the axe-core bundled in axe-playwright-python; fail on serious/critical findings.

    axe.min.js ships inside the wheel and is evaluated in the page over the DevTools
    protocol: nothing is fetched, and the page's CSP does not apply to it.
    """
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context=context)
    lines: list[str] = []
    for violation in results.response["violations"]:
        if violation.get("impact") not in BLOCKING_IMPACTS:
            continue
        lines.append(f"  {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"      {' '.join(str(t) for t in node['target'])}")
            summary = " ".join(node.get("failureSummary", "").split())
            if summary:
                lines.append(f"        {summary[:300]}")
    if lines:
        pytest.fail(f"axe (serious/critical) on {page.url}:\n" + "\n".join(lines), pytrace=False)
