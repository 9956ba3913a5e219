"""The moment of contention, against a real gunicorn (4 workers) on each database: 50
simultaneous camera-link scans (/q/) and 50 simultaneous self check-ins (/s/) all answer
2xx (on SQLite the GET that writes takes the write lock first and waits its turn);
waitlist numbers told in a 300-request storm are the final positions; two scanners
syncing the same volunteers in opposite orders never deadlock.

Sessions are made by the test app with the server's secret (a logged-in session cookie
and its CSRF token) so that the storm, not 300 logins, is what the test spends its time on.
"""

from __future__ import annotations

import ast
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import session
from flask_login import login_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import delete, func, select, update

from config import TestingConfig
from tests.conftest import ROOT
from volunteer_app.extensions import db
from volunteer_app.models import (
    Attendance,
    Role,
    ScanLog,
    ShiftLead,
    Signup,
    SignupStatus,
)
from volunteer_app.services import qr
from volunteer_app.timeutil import utcnow

WORKERS = "4"
OPEN_SOON = timedelta(minutes=10)  # the shift's check-in window is open
SIMULTANEOUS = 50


# ---------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, base: str):
        self.base = base
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port

    def request(self, method: str, path: str, *, cookie: str = "", body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=90)
        try:
            conn.request(method, path, body=body, headers={"Cookie": cookie, **(headers or {})})
            response = conn.getresponse()
            data = response.read().decode("utf-8", "replace")
            return response.status, response.headers, data
        finally:
            conn.close()


@pytest.fixture(scope="module")
def gunicorn(database_url, tmp_path_factory):
    """gunicorn with 4 threaded workers on the test database and the test app's secrets,
    started once per module and database (each test's rows are cleaned by `app`)."""
    port = _free_port()
    env = {
        **os.environ,
        "APP_CONFIG": "development",
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("gunicorn")),
        "RATELIMIT_ENABLED": "0",
        "DEV_TOOLS": "0",
        "PII_ENCRYPTION_KEY": TestingConfig.PII_ENCRYPTION_KEY,
        "SECRET_KEY": TestingConfig.SECRET_KEY,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            WORKERS,
            "--worker-class",
            "gthread",
            "--threads",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "5",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    served = Server(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if served.request("GET", "/auth/login")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def server(app, gunicorn):
    db.session.commit()  # the test's own transaction holds nothing while the storm runs
    return gunicorn


def logged_in(app, user) -> tuple[str, str]:
    """A session cookie for `user` and its CSRF token, as a login would have left them."""
    user_id = user.id
    # A fresh app context: generate_csrf keeps its token in `g` for the context's life.
    with app.app_context(), app.test_request_context("/"):
        login_user(db.session.get(type(user), user_id))
        token = generate_csrf()
        value = app.session_interface.get_signing_serializer(app).dumps(dict(session))
    return f"{app.config['SESSION_COOKIE_NAME']}={value}", token


def storm(jobs: list[Callable[[], object]]) -> list[object]:
    """Run the jobs in their own threads, released together; their answers in order."""
    gate = threading.Barrier(len(jobs))
    answers: list[object] = [None] * len(jobs)

    def run(index: int) -> None:
        gate.wait(timeout=60)
        try:
            answers[index] = jobs[index]()
        except OSError as error:
            answers[index] = f"connection {type(error).__name__}"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return answers


def _backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def _open_shift(make_event, make_volunteer, make_user, tree, *, volunteers: int, leads: int = 1):
    _event, shift = make_event(capacity=volunteers + 10, starts_in=OPEN_SOON)
    people = [make_volunteer(commit=False) for _ in range(volunteers)]
    staff = [make_user(Role.LEAD, tree.community_a1) for _ in range(leads)]
    db.session.flush()
    for lead in staff:
        shift.leads.append(ShiftLead(user_id=lead.id))
    for person in people:
        db.session.add(Signup(shift_id=shift.id, user_id=person.id, status=SignupStatus.CONFIRMED))
    shift.taken = volunteers
    db.session.commit()
    return shift, people, staff


def _attendances(shift_id: int) -> int:
    db.session.commit()
    return db.session.scalar(
        select(func.count()).select_from(Attendance).where(Attendance.shift_id == shift_id)
    )


# ---------------------------------------------------------------- /q/ and /s/


def test_fifty_simultaneous_camera_scans_all_answer_and_check_in(
    app, server, database_url, make_event, make_volunteer, make_user, tree
):
    """Two leads' phone cameras open 50 volunteer codes at once: no "busy", 50 check-ins."""
    shift, people, leads = _open_shift(
        make_event, make_volunteer, make_user, tree, volunteers=SIMULTANEOUS, leads=2
    )
    cookies = [logged_in(app, lead)[0] for lead in leads]
    now = utcnow()
    paths = [f"/q/{qr.volunteer_token(person.id, now)}" for person in people]
    answers = storm(
        [
            (lambda path=path, i=i: server.request("GET", path, cookie=cookies[i % 2])[0])
            for i, path in enumerate(paths)
        ]
    )
    failures = [a for a in answers if not (isinstance(a, int) and 200 <= a < 300)]
    checked_in = _attendances(shift.id)
    print(
        f"contention[{_backend(database_url)}] /q/: {len(answers)} scans, "
        f"{len(failures)} non-2xx {sorted(map(str, failures))}, {checked_in} checked in"
    )
    assert failures == []
    assert checked_in == SIMULTANEOUS


def test_fifty_simultaneous_self_checkins_all_answer_and_check_in(
    app, server, database_url, make_event, make_volunteer, make_user, tree
):
    """50 volunteers open the printed site code at once: no "busy", 50 check-ins."""
    shift, people, _leads = _open_shift(
        make_event, make_volunteer, make_user, tree, volunteers=SIMULTANEOUS
    )
    cookies = [logged_in(app, person)[0] for person in people]
    path = f"/s/{qr.printed_site_token(shift.id)}"
    answers = storm(
        [(lambda c=cookie: server.request("GET", path, cookie=c)[0]) for cookie in cookies]
    )
    failures = [a for a in answers if not (isinstance(a, int) and 200 <= a < 300)]
    checked_in = _attendances(shift.id)
    print(
        f"contention[{_backend(database_url)}] /s/: {len(answers)} self check-ins, "
        f"{len(failures)} non-2xx {sorted(map(str, failures))}, {checked_in} checked in"
    )
    assert failures == []
    assert checked_in == SIMULTANEOUS


# ---------------------------------------------------------------- the waitlist storm

STORM = 300
CAPACITY, WAITLIST = 20, 40
ROUNDS = 2


def _told_position(app, set_cookies: list[str]) -> int | None:
    """The waitlist number in the flash message the sign-up left in the session cookie."""
    serializer = app.session_interface.get_signing_serializer(app)
    for header in set_cookies:
        match = re.match(rf"{app.config['SESSION_COOKIE_NAME']}=([^;]*)", header)
        if not match or not match.group(1):
            continue
        data = serializer.loads(match.group(1))
        for category, message in data.get("_flashes", []):
            if category == "warning":
                return int(re.search(r"\d+", message).group())
    return None


def test_waitlist_numbers_told_are_the_final_positions(
    app, server, database_url, make_event, make_volunteer
):
    """300 sign-ups at once, several rounds: every number told is the final position."""
    people = [make_volunteer(commit=False) for _ in range(STORM)]
    db.session.commit()
    sessions = [logged_in(app, person) for person in people]
    figures = []
    for _round in range(ROUNDS):
        _event, shift = make_event(capacity=CAPACITY, waitlist=WAITLIST)
        db.session.commit()
        path = f"/shifts/{shift.id}/signup"

        def sign_up(index: int, path: str = path) -> tuple[int, int | None]:
            cookie, token = sessions[index]
            conn = http.client.HTTPConnection(server.host, server.port, timeout=90)
            try:
                conn.request(
                    "POST",
                    path,
                    body=urllib.parse.urlencode({"csrf_token": token}),
                    headers={
                        "Cookie": cookie,
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                )
                response = conn.getresponse()
                response.read()
                cookies = response.headers.get_all("Set-Cookie") or []
                return response.status, _told_position(app, cookies)
            finally:
                conn.close()

        answers = storm([(lambda i=i: sign_up(i)) for i in range(STORM)])
        db.session.commit()
        db.session.expire_all()
        queue = db.session.scalars(
            select(Signup.user_id)
            .where(Signup.shift_id == shift.id, Signup.status == SignupStatus.WAITLISTED)
            .order_by(Signup.queued_at, Signup.id)
        ).all()
        final = {user_id: place for place, user_id in enumerate(queue, start=1)}
        told = {
            people[i].id: answer[1]
            for i, answer in enumerate(answers)
            if isinstance(answer, tuple) and answer[1] is not None
        }
        odd = [a for a in answers if not (isinstance(a, tuple) and a[0] == 302)]
        wrong = {user: (n, final.get(user)) for user, n in told.items() if final.get(user) != n}
        confirmed = db.session.scalar(
            select(func.count())
            .select_from(Signup)
            .where(Signup.shift_id == shift.id, Signup.status == SignupStatus.CONFIRMED)
        )
        figures.append((len(told), len(wrong), len(odd), confirmed, len(queue)))
        assert odd == []
        assert confirmed == CAPACITY and len(queue) == WAITLIST
        assert wrong == {}
        assert set(told) == set(final)  # everyone on the waitlist was told a number
    print(
        f"contention[{_backend(database_url)}] waitlist storm: {ROUNDS} rounds of {STORM}; "
        "per round (told, told wrong, non-302, confirmed, waitlisted): "
        + ", ".join(str(f) for f in figures)
    )


# ---------------------------------------------------------------- batch syncs

PAIRS = 50
BATCH = 10


def test_opposite_order_batch_syncs_never_deadlock(
    app, server, database_url, make_event, make_volunteer, make_user, tree
):
    """Two scanners sync the same 10 volunteers in opposite orders, 50 times: both answer
    200 every time and each volunteer is checked in once."""
    shift, people, leads = _open_shift(
        make_event, make_volunteer, make_user, tree, volunteers=BATCH, leads=2
    )
    sessions = [logged_in(app, lead) for lead in leads]
    path = f"/api/v1/shifts/{shift.id}/scans"
    statuses: list[object] = []
    wrong_counts = 0

    def sync(index: int, order: list) -> Callable[[], int]:
        """One scanner's batch, made here (tokens need the app), sent by the storm."""
        cookie, token = sessions[index]
        now = utcnow()
        scans = [{"nonce": uuid.uuid4().hex, "token": qr.volunteer_token(p.id, now)} for p in order]
        body = json.dumps({"scans": scans})
        headers = {"Content-Type": "application/json", "X-CSRFToken": token}
        return lambda: server.request("POST", path, cookie=cookie, body=body, headers=headers)[0]

    for _pair in range(PAIRS):
        statuses += storm([sync(0, people), sync(1, people[::-1])])
        if _attendances(shift.id) != BATCH:
            wrong_counts += 1
        # Back to nobody checked in, for the next pair to fight over the same rows.
        db.session.execute(delete(Attendance).where(Attendance.shift_id == shift.id))
        db.session.execute(
            update(Signup).where(Signup.shift_id == shift.id).values(status=SignupStatus.CONFIRMED)
        )
        db.session.execute(delete(ScanLog).where(ScanLog.shift_id == shift.id))
        db.session.commit()
    failures = [s for s in statuses if s != 200]
    print(
        f"contention[{_backend(database_url)}] batch syncs: {PAIRS} opposite-order pairs of "
        f"{BATCH} scans, {len(failures)} non-200 {sorted(map(str, failures))}, "
        f"{wrong_counts} pairs with a wrong attendance count"
    )
    assert failures == []
    assert wrong_counts == 0


# ---------------------------------------------------------------- every GET that writes


def _route_methods(function: ast.FunctionDef) -> set[str] | None:
    """The methods of a view's @bp.route, None when it is not a view."""
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "route":
            for keyword in decorator.keywords:
                if keyword.arg == "methods":
                    return {ast.literal_eval(e) for e in keyword.value.elts}
            return {"GET"}
    return None


def test_every_get_view_that_commits_takes_the_write_lock():
    """A view answering GET that commits is marked @writes (or its SQLite read transaction
    could not become the writer under load: "database is locked", a 503)."""
    unmarked = []
    for path in sorted(Path(ROOT, "volunteer_app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef):
                continue
            methods = _route_methods(node)
            if methods is None or methods != {"GET"}:
                continue  # a view that also answers POST writes only when POSTed
            if "commit" not in ast.unparse(node):
                continue
            marked = any(
                getattr(d, "id", None) == "writes" or getattr(d, "attr", None) == "writes"
                for d in node.decorator_list
            )
            if not marked:
                unmarked.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert unmarked == []
