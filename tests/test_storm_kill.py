"""A sign-up storm against a real gunicorn (2 workers) while one worker is killed with
SIGKILL in the middle: afterwards no shift holds more confirmed sign-ups than places, every
sign-up the server answered as accepted is in the database, the counters agree with the
rows (nothing half-written), and the server keeps answering."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, ROOT
from volunteer_app.extensions import db
from volunteer_app.models import Shift, Signup, SignupStatus

VOLUNTEERS = 120
CAPACITY, WAITLIST = 20, 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(base, method, path, *, cookie="", body=None, headers=None):
    import http.client

    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    all_headers = {"Cookie": cookie, **(headers or {})}
    conn.request(method, path, body=body, headers=all_headers)
    response = conn.getresponse()
    data = response.read().decode("utf-8", "replace")
    cookies = response.headers.get_all("Set-Cookie") or []
    conn.close()
    return response.status, response.headers, data, cookies


def _session(cookies: list[str], old: str = "") -> str:
    for header in cookies:
        match = re.match(r"session=([^;]*)", header)
        if match:
            return f"session={match.group(1)}"
    return old


def _login(base: str, phone: str) -> tuple[str, str]:
    _s, _h, html, cookies = _request(base, "GET", "/auth/login")
    cookie = _session(cookies)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "phone": phone, "password": PASSWORD})
    status, _h, _d, cookies = _request(
        base,
        "POST",
        "/auth/login",
        cookie=cookie,
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 302, status
    cookie = _session(cookies, cookie)
    _s, _h, html, _c = _request(base, "GET", "/", cookie=cookie)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    return cookie, token


def _workers(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return [int(pid) for pid in out.stdout.split()]


@pytest.mark.skipif(not os.path.exists("/usr/bin/pgrep"), reason="needs pgrep")
def test_a_storm_with_a_killed_worker_loses_nothing_and_never_overbooks(
    app, database_url, make_event, make_volunteer, tmp_path
):
    _event, shift = make_event(capacity=CAPACITY, waitlist=WAITLIST, starts_in=timedelta(days=2))
    volunteers = [make_volunteer(commit=False) for _ in range(VOLUNTEERS)]
    db.session.commit()
    phones = [v.phone for v in volunteers]
    shift_id = shift.id
    port = _free_port()
    env = {
        **os.environ,
        "APP_CONFIG": "development",
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path),
        "RATELIMIT_ENABLED": "0",
        "DEV_TOOLS": "0",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_PARALLELISM": "1",
        # The fixture's key: the volunteers' encrypted data stays readable by the server.
        "PII_ENCRYPTION_KEY": app.config["PII_ENCRYPTION_KEY"],
        "SECRET_KEY": "storm-test-secret-key-0123456789",
    }
    master = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
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
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if _request(base, "GET", "/")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        with ThreadPoolExecutor(8) as pool:
            sessions = list(pool.map(lambda phone: _login(base, phone), phones))

        answers: dict[str, str] = {}
        gate = threading.Barrier(len(sessions) + 1)

        def sign_up(index: int) -> None:
            cookie, token = sessions[index]
            gate.wait(timeout=30)
            try:
                status, headers, _d, cookies = _request(
                    base,
                    "POST",
                    f"/shifts/{shift_id}/signup",
                    cookie=cookie,
                    body=f"csrf_token={token}",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                if status != 302:
                    answers[phones[index]] = f"status {status}"
                    return
                cookie = _session(cookies, cookie)
                page = _request(
                    base, "GET", urllib.parse.urlsplit(headers["Location"]).path, cookie=cookie
                )[2]
                if "报名成功" in page or ("候补" in page and "已进入候补" in page):
                    answers[phones[index]] = "accepted"
                elif "已满" in page:
                    answers[phones[index]] = "full"
                else:
                    answers[phones[index]] = "other"
            except (OSError, http.client.HTTPException) as error:
                # The killed worker's connections: reset, or cut in the middle of an answer.
                answers[phones[index]] = f"connection {type(error).__name__}"

        threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(len(sessions))]
        for thread in threads:
            thread.start()
        gate.wait(timeout=30)
        time.sleep(0.15)  # the storm is under way
        victims = _workers(master.pid)
        assert victims, "no gunicorn workers found"
        os.kill(victims[0], signal.SIGKILL)
        for thread in threads:
            thread.join(timeout=120)
        time.sleep(1)
        assert _request(base, "GET", "/")[0] == 200  # a new worker took over
    finally:
        master.send_signal(signal.SIGTERM)
        master.wait(timeout=30)

    db.session.commit()
    db.session.expire_all()
    confirmed = db.session.scalar(
        select(func.count())
        .select_from(Signup)
        .where(Signup.shift_id == shift_id, Signup.status == SignupStatus.CONFIRMED)
    )
    waiting = db.session.scalar(
        select(func.count())
        .select_from(Signup)
        .where(Signup.shift_id == shift_id, Signup.status == SignupStatus.WAITLISTED)
    )
    row = db.session.get(Shift, shift_id)
    assert confirmed <= CAPACITY and waiting <= WAITLIST
    assert (row.taken, row.waitlisted) == (confirmed, waiting)  # nothing half-written
    signed = set(
        db.session.scalars(
            select(Signup.user_id).where(
                Signup.shift_id == shift_id, Signup.status != SignupStatus.CANCELLED
            )
        )
    )
    by_phone = {v.phone: v.id for v in volunteers}
    accepted = [p for p, a in answers.items() if a == "accepted"]
    assert all(by_phone[p] in signed for p in accepted)
    assert len(accepted) >= 1
    lost = sum(1 for a in answers.values() if a.startswith("connection"))
    print(
        f"storm_kill: {len(answers)} answers, {len(accepted)} accepted, {lost} connections cut "
        f"by the kill, confirmed {confirmed}/{CAPACITY}, waitlisted {waiting}/{WAITLIST}"
    )
