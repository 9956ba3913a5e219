"""CPU per request of the two hot paths and of the framework floor, in-process (no HTTP).

The app is built as gunicorn builds it (`create_app()`, then `gc.freeze()` and the
collector's threshold, as wsgi.py sets them) in the production configuration of the bench,
with the bench-only floor route added (bench/floor.py), on the bench's database after the
fixtures. Each path gets `--warm` untimed requests, then `--requests` timed ones through
Flask's test client, with the session cookie and X-CSRFToken of a real login (sent as wrk
sends them: the same cookie every time):

  checkin  POST /api/v1/shifts/<id>/scans, one scan, a unique nonce, a fresh volunteer token
           (made before the timed loop), each a real check-in of a confirmed volunteer
  signup   POST /shifts/<id>/signup, each a new (volunteer, shift) pair with room
  floor    POST /bench/floor/<id>, the check-in's request shape: login, CSRF, the app's
           hooks, one insert, commit

Measured per path: CPU time (time.process_time, this process only: on PostgreSQL the
server's work is not in it, on SQLite the library's is), wall time, and SQL statements
(every cursor execution on the engine, BEGIN and SAVEPOINTs included) per request. Every
answer is checked (a check-in must answer checked_in, a sign-up must add a row), so a
refused request cannot pass for a fast one.

Prints one JSON object. `--profile checkin` (or signup, floor) writes a cProfile of that
path's timed loop to `--profile-out`, timed in CPU (time.process_time: on PostgreSQL the
waits for the server are left out, as they are from cpu_ms); `--sql checkin` prints the
statements of one request of that path to stderr."""

from __future__ import annotations

import argparse
import gc
import json
import re
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from common import PASSWORD
from floor import register as register_floor
from sqlalchemy import event, text

from volunteer_app import create_app
from volunteer_app.extensions import db
from volunteer_app.services import qr
from volunteer_app.timeutil import utcnow

_SESSION_RE = re.compile(r"(?:^|,\s*)session=([^;]*)")
_CSRF_RE = re.compile(
    r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"'
)


class Statements:
    """Counts every statement the engine sends (and keeps them while `keep` is on)."""

    def __init__(self, engine) -> None:
        self.count = 0
        self.keep = False
        self.kept: list[str] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, _params, _context, _many) -> None:
        self.count += 1
        if self.keep:
            self.kept.append(" ".join(statement.split())[:300])


def _cookie(response) -> str | None:
    for value in response.headers.getlist("Set-Cookie"):
        found = _SESSION_RE.search(value)
        if found:
            return found.group(1)
    return None


def login(client, phone: str) -> dict:
    """Log in through the real form; the headers wrk would send (Cookie, X-CSRFToken)."""
    page = client.get("/auth/login")
    cookie = _cookie(page)
    found = _CSRF_RE.search(page.get_data(as_text=True))
    if page.status_code != 200 or cookie is None or found is None:
        raise RuntimeError(f"GET /auth/login answered {page.status_code}")
    csrf = found.group(1) or found.group(2)
    answer = client.post(
        "/auth/login",
        data={"phone": phone, "password": PASSWORD, "csrf_token": csrf},
        headers={"Cookie": f"session={cookie}"},
    )
    cookie = _cookie(answer)
    if answer.status_code != 302 or cookie is None:
        raise RuntimeError(f"login of {phone} answered {answer.status_code}")
    return {"Cookie": f"session={cookie}", "X-CSRFToken": csrf}


def scan_body(nonce: str, token: str) -> str:
    return json.dumps(
        {"scans": [{"nonce": nonce, "token": token, "scanned_at": int(time.time()) * 1000}]}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fixtures", type=Path, required=True, help="fixtures.py's JSON")
    parser.add_argument("--warm", type=int, default=30)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--paths", default="floor,checkin,signup")
    parser.add_argument("--profile", choices=("floor", "checkin", "signup"))
    parser.add_argument("--profile-out", type=Path, default=Path("inprocess.prof"))
    parser.add_argument("--sql", choices=("floor", "checkin", "signup"))
    args = parser.parse_args()
    fx = json.loads(args.fixtures.read_text())
    ip = fx["inprocess"]
    tag = secrets.token_hex(3)

    app = register_floor(create_app())
    with app.app_context():
        statements = Statements(db.engine)
    gc.collect()
    gc.freeze()  # as wsgi.py does
    gc.set_threshold(20_000, *gc.get_threshold()[1:])  # as wsgi.py does
    client = app.test_client(use_cookies=False)
    lead = login(client, fx["lead_phone"])
    n = args.warm + args.requests

    def requests_for(path: str) -> list[tuple[str, dict, str | None]]:
        """(url, headers, body) of every request of the path, warm-up first."""
        if path == "floor":
            headers = {**lead, "Content-Type": "application/json"}
            return [
                (f"/bench/floor/{ip['checkin_shift']}", headers, scan_body(f"ipf{tag}-{j}", "x"))
                for j in range(n)
            ]
        if path == "checkin":
            users = ip["checkin_users"]
            if len(users) < n:
                raise SystemExit(
                    f"{n} check-ins need {n} volunteers; the fixtures have {len(users)}"
                )
            headers = {**lead, "Content-Type": "application/json"}
            with app.app_context():
                now = utcnow()
                tokens = [qr.volunteer_token(uid, now) for uid in users[:n]]
            url = f"/api/v1/shifts/{ip['checkin_shift']}/scans"
            return [(url, headers, scan_body(f"ipc{tag}-{j}", tok)) for j, tok in enumerate(tokens)]
        shifts, phones = ip["signup_shifts"], ip["signup_phones"]
        if len(shifts) * len(phones) < n:
            raise SystemExit(f"{n} sign-ups need {n} (volunteer, shift) pairs")
        sessions = [login(client, phone) for phone in phones]
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        return [
            (
                f"/shifts/{shifts[j % len(shifts)]}/signup",
                {**sessions[(j // len(shifts)) % len(sessions)], **form},
                "",
            )
            for j in range(n)
        ]

    def check(path: str, response) -> bool:
        if path == "signup":
            return response.status_code == 302
        if response.status_code != 200:
            return False
        if path == "checkin":
            return response.get_json()["results"][0]["code"] == "checked_in"
        return True

    def signups_now() -> int:
        with app.app_context():
            ids = ", ".join(str(int(s)) for s in ip["signup_shifts"]) or "0"
            return db.session.scalar(
                text(f"SELECT COUNT(*) FROM signups WHERE shift_id IN ({ids})")  # noqa: S608
            )

    out: dict = {"warm": args.warm, "requests": args.requests, "database": None}
    with app.app_context():
        out["database"] = db.engine.dialect.name
    for path in [p.strip() for p in args.paths.split(",") if p.strip()]:
        todo = requests_for(path)
        warm, timed = todo[: args.warm], todo[args.warm :]
        bad = 0
        for url, headers, body in warm:
            bad += not check(path, client.post(url, headers=headers, data=body))
        if args.sql == path and timed:
            url, headers, body = timed.pop()
            statements.keep = True
            client.post(url, headers=headers, data=body)
            statements.keep = False
            print(f"--- statements of one {path} request:", file=sys.stderr)
            for line in statements.kept:
                print("   ", line, file=sys.stderr)
        before_rows = signups_now() if path == "signup" else 0
        profiler = None
        if args.profile == path:
            import cProfile

            profiler = cProfile.Profile(time.process_time)  # CPU, not waits
        first_statement = statements.count
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        responses = [client.post(url, headers=headers, data=body) for url, headers, body in timed]
        if profiler:
            profiler.disable()
        cpu = time.process_time() - started_cpu
        wall = time.perf_counter() - started_wall
        made = statements.count - first_statement
        if profiler:
            profiler.dump_stats(str(args.profile_out))
        bad += sum(not check(path, r) for r in responses)
        done = len(timed)
        result = {
            "cpu_ms": round(cpu / done * 1000, 3),
            "wall_ms": round(wall / done * 1000, 3),
            "statements": round(made / done, 2),
            "requests": done,
            "refused": bad,
        }
        if path == "signup":
            result["signups_made"] = signups_now() - before_rows
            result["refused"] = bad + done - result["signups_made"]
        out[path] = result
        print(f"inprocess {path}: {result}", file=sys.stderr, flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
