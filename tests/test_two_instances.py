"""Two app instances (two gunicorn processes, each with its own instance folder, on two
ports) and the scheduler, on one database and one Redis, as a production pair runs them:

- a sign-up storm split across both never overbooks and answers every volunteer;
- the per-phone login limit counts attempts on both instances together (Redis);
- an import previewed on one instance is confirmed on the other (the upload waits in the
  database, not on a disk);
- scheduler failover: the active scheduler is killed, the stand-by takes over within its
  lease, and no job runs twice (job_runs);
- Redis stopped: both instances keep serving (the limiter fails open), never a 500.

Runs on each database of the suite. Needs Redis: a private `redis-server` (so that it can be
stopped) when the binary is there, else TEST_REDIS_URL (default redis://127.0.0.1:6379/6,
without the outage step). Skipped locally without Redis; under CI=true it must run.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, ROOT
from tests.test_import import three_rows, xlsx
from tests.test_storm_kill import _free_port, _login, _request, _session
from volunteer_app.extensions import db
from volunteer_app.models import JobRun, Role, Shift, Signup, SignupStatus, VolunteerProfile
from volunteer_app.timeutil import utcnow

VOLUNTEERS = 60
CAPACITY, WAITLIST = 20, 10
LOGIN_PHONE_LIMIT = 4
LEASE_SECONDS = 4  # SQLite: the killed scheduler's lock is stale after this
POLL_SECONDS = 1
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_url(tmp_path):
    """A Redis of the test's own (stoppable), or the shared one; (url, stop or None)."""
    server = shutil.which("redis-server")
    if server:
        port = _free_port()
        proc = subprocess.Popen(
            [
                server,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while not _redis_answers(url) and time.monotonic() < deadline:
            time.sleep(0.1)

        def stop() -> None:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)

        try:
            yield url, stop
        finally:
            stop()
        return
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/6")
    if not _redis_answers(url):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: Redis does not answer at {url} (nor is redis-server installed)")
        pytest.skip(f"two-instance test skipped: no redis-server binary and no Redis at {url}")
    yield url, None


def _wait_until(predicate, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def _up(base: str) -> bool:
    try:
        return _request(base, "GET", "/")[0] == 200
    except OSError:
        return False


def _post_form(base, path, cookie, fields):
    return _request(
        base, "POST", path, cookie=cookie, body=urllib.parse.urlencode(fields), headers=FORM
    )


def _csrf(base, path, cookie):
    _s, _h, html, cookies = _request(base, "GET", path, cookie=cookie)
    return _session(cookies, cookie), re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', html
    ).group(1)


def _multipart(fields: dict, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _job_runs() -> list[JobRun]:
    db.session.commit()
    db.session.expire_all()
    return list(db.session.scalars(select(JobRun).order_by(JobRun.started_at, JobRun.id)))


def _owner(run: JobRun) -> str:
    return run.result.rsplit("[", 1)[-1].rstrip("]")


@pytest.mark.skipif(not os.path.exists("/usr/bin/pgrep"), reason="needs a POSIX host")
def test_two_instances_and_a_scheduler_share_one_database_and_redis(
    app, database_url, redis_url, make_event, make_volunteer, make_user, tree, tmp_path
):
    url, stop_redis = redis_url
    dialect = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    _event, shift = make_event(capacity=CAPACITY, waitlist=WAITLIST, starts_in=timedelta(days=2))
    volunteers = [make_volunteer(commit=False) for _ in range(VOLUNTEERS)]
    organiser = make_user(Role.ORGANISER, tree.town_a)
    db.session.commit()
    phones = [v.phone for v in volunteers]
    shift_id, organiser_phone = shift.id, organiser.phone

    env = {
        **os.environ,
        "APP_CONFIG": "development",
        "DATABASE_URL": database_url,
        "DEV_TOOLS": "0",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_PARALLELISM": "1",
        "PII_ENCRYPTION_KEY": app.config["PII_ENCRYPTION_KEY"],
        "SECRET_KEY": "two-instances-secret-key-0123456789",  # the same on both: one session
        "RATELIMIT_ENABLED": "1",
        "RATELIMIT_STORAGE_URI": url,
        "RATELIMIT_KEY_PREFIX": f"t22-{uuid.uuid4().hex[:8]}",  # this run's own keys
        "RATELIMIT_LOGIN": "100000 per minute",  # every client here is 127.0.0.1
        "RATELIMIT_LOGIN_PHONE": f"{LOGIN_PHONE_LIMIT} per minute",
        "SCHEDULER_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    servers, bases, logs = [], [], []
    for name in ("a", "b"):
        port = _free_port()
        folder = tmp_path / name  # each instance its own instance folder (its own "disk")
        folder.mkdir()
        log = open(tmp_path / f"gunicorn-{name}.log", "w")  # noqa: SIM115
        logs.append(log)
        servers.append(
            subprocess.Popen(
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
                env={**env, "INSTANCE_PATH": str(folder)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        bases.append(f"http://127.0.0.1:{port}")
    scheduler_command = [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "wsgi",
        "scheduler",
        "run",
        "--scale",
        "0.02",
        "--poll-seconds",
        str(POLL_SECONDS),
        "--max-seconds",
        "120",
    ]
    scheduler_env = {**env, "INSTANCE_PATH": str(tmp_path / "scheduler")}
    schedulers: list[subprocess.Popen] = []
    figures: dict[str, object] = {"database": dialect}
    try:
        schedulers.append(
            subprocess.Popen(
                scheduler_command,
                cwd=ROOT,
                env=scheduler_env,
                stdout=open(tmp_path / "scheduler-1.log", "w"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
            )
        )
        assert all(_wait_until(lambda b=b: _up(b), 40) for b in bases), "an instance did not start"
        first = _wait_until(lambda: [r for r in _job_runs() if r.ok], 30)
        assert first, (tmp_path / "scheduler-1.log").read_text()[-2000:]
        active_owner = _owner(first[0])
        schedulers.append(
            subprocess.Popen(
                scheduler_command,
                cwd=ROOT,
                env=scheduler_env,
                stdout=open(tmp_path / "scheduler-2.log", "w"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
            )
        )

        # ---- a sign-up storm split across both: log in on one, sign up on the other
        with ThreadPoolExecutor(8) as pool:
            sessions = list(pool.map(lambda i: _login(bases[i % 2], phones[i]), range(VOLUNTEERS)))
        answers: dict[int, tuple[int, str]] = {}
        gate = threading.Barrier(VOLUNTEERS)

        def sign_up(index: int) -> None:
            base = bases[(index + 1) % 2]
            cookie, token = sessions[index]
            gate.wait(timeout=30)
            status, headers, _d, cookies = _post_form(
                base, f"/shifts/{shift_id}/signup", cookie, {"csrf_token": token}
            )
            if status != 302:
                answers[index] = ((index + 1) % 2, f"status {status}")
                return
            page = _request(
                base,
                "GET",
                urllib.parse.urlsplit(headers["Location"]).path,
                cookie=_session(cookies, cookie),
            )[2]
            if "报名成功" in page:
                outcome = "confirmed"
            elif "已进入候补" in page:
                outcome = "waitlisted"
            elif "已满" in page:
                outcome = "full"
            else:
                outcome = "other"
            answers[index] = ((index + 1) % 2, outcome)

        threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(VOLUNTEERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
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
        per_instance = {
            name: {
                outcome: sum(1 for i, o in answers.values() if i == n and o == outcome)
                for outcome in ("confirmed", "waitlisted", "full", "other")
            }
            for n, name in enumerate("ab")
        }
        figures["storm"] = per_instance
        assert len(answers) == VOLUNTEERS
        assert (confirmed, waiting) == (CAPACITY, WAITLIST)
        assert (row.taken, row.waitlisted) == (confirmed, waiting)
        outcomes = [o for _i, o in answers.values()]
        assert outcomes.count("confirmed") == CAPACITY
        assert outcomes.count("waitlisted") == WAITLIST
        assert outcomes.count("full") == VOLUNTEERS - CAPACITY - WAITLIST

        # ---- the per-phone login limit counts both instances together
        statuses = []
        for attempt in range(LOGIN_PHONE_LIMIT + 2):
            base = bases[attempt % 2]
            cookie, token = _csrf(base, "/auth/login", "")
            statuses.append(
                _post_form(
                    base,
                    "/auth/login",
                    cookie,
                    {"csrf_token": token, "phone": "13700000777", "password": "Wrong1234"},
                )[0]
            )
        figures["login_limit"] = statuses
        assert statuses == [200] * LOGIN_PHONE_LIMIT + [429, 429]

        # ---- an import previewed on one instance, confirmed on the other
        cookie, _token = _login(bases[0], organiser_phone)
        cookie, token = _csrf(bases[0], "/volunteers/import", cookie)
        body, content_type = _multipart({"csrf_token": token}, "roster.xlsx", xlsx(three_rows()))
        status, _h, page, cookies = _request(
            bases[0],
            "POST",
            "/volunteers/import",
            cookie=cookie,
            body=body,
            headers={"Content-Type": content_type},
        )
        assert status == 200
        cookie = _session(cookies, cookie)
        stash = re.search(r'name="token"[^>]*value="([^"]+)"', page)
        assert stash, page[:2000]
        before = db.session.scalar(select(func.count()).select_from(VolunteerProfile))
        cookie, token = _csrf(bases[1], "/volunteers/import", cookie)
        status, headers, _d, _c = _post_form(
            bases[1],
            "/volunteers/import/confirm",
            cookie,
            {"csrf_token": token, "token": stash.group(1)},
        )
        assert status == 302 and headers["Location"].endswith("/volunteers"), headers
        db.session.commit()
        after = db.session.scalar(select(func.count()).select_from(VolunteerProfile))
        assert after - before == 3
        figures["import"] = "previewed on a, confirmed on b: 3 volunteers"

        # ---- scheduler failover: kill the active one, the stand-by takes over
        assert "standing by" in _wait_until(lambda: (tmp_path / "scheduler-2.log").read_text(), 15)
        killed_at = utcnow()
        killed = time.monotonic()
        schedulers[0].send_signal(signal.SIGKILL)
        schedulers[0].wait(timeout=10)
        taken_over = _wait_until(
            lambda: "running" in (tmp_path / "scheduler-2.log").read_text(), LEASE_SECONDS + 15
        )
        lock_seconds = time.monotonic() - killed
        assert taken_over, (tmp_path / "scheduler-2.log").read_text()[-2000:]
        successor = _wait_until(
            lambda: [r for r in _job_runs() if r.ok and _owner(r) != active_owner], 20
        )
        first_job_seconds = time.monotonic() - killed
        assert successor, (tmp_path / "scheduler-2.log").read_text()[-2000:]
        time.sleep(2)  # let the successor run a few jobs
        schedulers[1].send_signal(signal.SIGTERM)
        schedulers[1].wait(timeout=20)
        runs = _job_runs()
        owners = {_owner(r) for r in runs if r.ok}
        late = [r for r in runs if _owner(r) == active_owner and r.started_at > killed_at]
        early = [r for r in runs if _owner(r) != active_owner and r.started_at < killed_at]
        overlaps = 0
        for job in {r.job for r in runs}:
            mine = [r for r in runs if r.job == job]
            for earlier, later in itertools.pairwise(mine):
                if earlier.finished_at and later.started_at < earlier.finished_at:
                    overlaps += 1
        duplicates = len(late) + len(early) + overlaps
        figures["failover"] = {
            "lock_taken_s": round(lock_seconds, 1),
            "first_job_s": round(first_job_seconds, 1),
            "job_runs": len(runs),
            "duplicate_runs": duplicates,
        }
        assert len(owners) == 2
        assert all(r.ok for r in runs), [r.result for r in runs if not r.ok]
        assert duplicates == 0
        bound = (LEASE_SECONDS if dialect == "sqlite" else 0) + POLL_SECONDS + 3
        assert lock_seconds <= bound, figures

        # ---- Redis stopped: both instances keep serving; the limiter fails open
        if stop_redis is not None:
            stop_redis()
            outage = []
            for base in bases * 2:
                cookie, token = _csrf(base, "/auth/login", "")
                outage.append(
                    _post_form(
                        base,
                        "/auth/login",
                        cookie,
                        {"csrf_token": token, "phone": phones[0], "password": PASSWORD},
                    )[0]
                )
                outage.append(_request(base, "GET", "/events")[0])
            figures["redis_down"] = outage
            assert outage == [302, 200] * 4
            assert "rate-limit storage unavailable" in "".join(
                (tmp_path / f"gunicorn-{n}.log").read_text() for n in "ab"
            )
        else:
            figures["redis_down"] = "not tried (shared Redis)"
    finally:
        for proc in [*schedulers, *servers]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*schedulers, *servers]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()
        db.session.commit()
    print(f"two_instances: {figures}")
