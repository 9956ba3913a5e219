"""The benchmark suite: `make bench` (district scale) and `make bench-quick` (small data).

For each database (SQLite, then PostgreSQL when it answers): a fresh bench database, the
migrations, `flask seed scale` (timed), the bench fixtures, then every figure measured
against its own baseline in the same run:

  seed_seconds    the scale seed (target < 180 s on SQLite)
  tally_ratio     tallies.figures for the year ÷ raw GROUP BYs over the ledger (in-process)
  export_peak_mb  peak RSS of a process exporting 100,000 ledger rows to .xlsx, streamed
  checkin_ratio   check-in API req/s ÷ a bare insert-and-commit route (wrk, 32 connections)
  signup_storm    1,000 volunteers sign up at once for 50 places + a waitlist of 20
  signup_ratio    sustained sign-ups/s ÷ a bare conditional UPDATE + insert route
  roster_ratio    the 500-sign-up roster page ÷ the same rows in a bare Jinja template
  checkin_cpu_ms  CPU per check-in request, in-process (bench/inprocess.py), with its SQL
  signup_cpu_ms   statements per request, beside the framework floor's (bench/floor.py:
                  the same hooks, login and CSRF check, one insert and a commit)
  checkin_vs_floor, signup_vs_floor   the app's req/s (sign-ups/s) ÷ the floor's, over HTTP

The app runs under gunicorn (2 sync workers) in the production configuration, with a
generated SECRET_KEY and PII_ENCRYPTION_KEY, RATELIMIT_ENABLED=0 and a cheap Argon2
(ARGON2_TIME_COST=1, ARGON2_MEMORY_KIB=8192) so that logging in 1,000 volunteers is quick;
the baseline app (bench/baseline_app.py) runs under the same gunicorn settings on the same
database. Prints one `name[database]: value  target …  met|MISSED` line per figure, writes
bench/results/bench-<mode>.json, and the report: docs/performance.md for the full run,
bench/results/performance-quick.md for the quick one.

Exit status: 0 when the pipeline ran (the quick mode never fails on a missed target; the full
mode exits 1 when a target is missed), 2 when the pipeline itself broke."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import secrets
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from common import (
    BENCH_DIR,
    RESULTS,
    ROOT,
    VENV_BIN,
    Load,
    Server,
    ensure_wrk,
    http_request,
    log,
    login,
    run,
    run_json,
    write_datafile,
)


@dataclass(frozen=True)
class Profile:
    name: str
    volunteers: int
    records: int
    checkin_shifts: int  # × 500 volunteers each
    storm: int
    sustained_shifts: int
    seconds: float  # one measured wrk run (≤ 25 s: tokens live 30–60 s)
    warm_seconds: float
    roster_seconds: float
    export_rows: int
    tally_repeat: int
    baseline_repeat: int
    inprocess_warm: int
    inprocess_requests: int


PROFILES = {
    # Enough fresh check-ins and (volunteer, shift) pairs that neither runs out within a
    # measured run at the rates the app now reaches (a run that did would count the cheap
    # answers to repeats: already_in, already signed up).
    "full": Profile("full", 200_000, 2_000_000, 60, 1000, 30, 20, 3, 10, 100_000, 7, 1, 100, 500),
    "quick": Profile("quick", 10_000, 50_000, 12, 200, 20, 3, 0, 2, 10_000, 2, 1, 20, 100),
}
CONNECTIONS = 32
THREADS = 2
PER_SHIFT = 500
INPROCESS_SIGNUP_SHIFTS = 20
ROSTER_SIGNUPS = 500
ROSTER_WARM_PAGES = 10
TARGETS = {
    "seed_seconds": "< 180 s (SQLite)",
    "tally_ratio": "≤ 0.1 and < 100 ms warm",
    "export_peak_mb": "≤ 150 MB",
    "checkin_ratio": "≥ 0.35, p99 < 100 ms at 32 connections, no errors",
    "signup_storm": "confirmed 50, waitlisted 20, server errors 0",
    "signup_ratio": "≥ 0.35",
    "roster_ratio": "≤ 1.5",
    "checkin_cpu_ms": "≤ 4 ms CPU per request (in-process)",
    "signup_cpu_ms": "≤ 4 ms CPU per request (in-process)",
    "checkin_statements": "(informational; the floor's beside it)",
    "signup_statements": "(informational; the floor's beside it)",
    "checkin_vs_floor": "(informational: app req/s ÷ framework floor req/s)",
    "signup_vs_floor": "(informational: app sign-ups/s ÷ framework floor req/s)",
}
#: The measured stages after the seed and the fixtures (--only picks some of them).
STAGES = frozenset({"tally", "export", "inprocess", "checkin", "storm", "sustained", "roster"})


# ---------------------------------------------------------------- databases


def pg_admin_url() -> str:
    return os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_name() -> str:
    name = os.environ.get("BENCH_PG_DATABASE", "volunteer_bench")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or name in ("test", "postgres"):
        raise SystemExit(f"BENCH_PG_DATABASE={name!r}: use a database of the bench's own")
    return name


def pg_reachable() -> bool:
    import psycopg

    try:
        with psycopg.connect(pg_admin_url(), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def fresh_database(kind: str) -> str:
    """An empty database of the bench's own; its SQLAlchemy URL."""
    if kind == "sqlite":
        path = RESULTS / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    name = pg_name()
    with psycopg.connect(pg_admin_url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    admin = pg_admin_url().removeprefix("postgresql://").rsplit("/", 1)[0]
    return f"postgresql+psycopg://{admin}/{name}"


def server_env(url: str, keys: dict) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLASK_", "TEST_", "SQLALCHEMY_"))
        and k not in ("DATABASE_URL", "APP_CONFIG")
    }
    env.update(
        APP_CONFIG="production",
        SECRET_KEY=keys["SECRET_KEY"],
        PII_ENCRYPTION_KEY=keys["PII_ENCRYPTION_KEY"],
        DATABASE_URL=url,
        RATELIMIT_ENABLED="0",
        RATELIMIT_STORAGE_URI="memory://",
        SMS_ALLOW_LOG_IN_PRODUCTION="1",  # the bench sends no SMS
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_KIB="8192",
        INSTANCE_PATH=str(RESULTS / "instance"),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


class Db:
    """The bench's own read-only look at the database (counts after each run)."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine

        self.engine = create_engine(url)

    def rows(self, sql: str, **params) -> list:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())

    def scalar(self, sql: str, **params):
        return self.rows(sql, **params)[0][0]

    def close(self) -> None:
        self.engine.dispose()


# ---------------------------------------------------------------- one database


class Bench:
    def __init__(
        self, kind: str, profile: Profile, load: Load, keys: dict, only: frozenset[str] = STAGES
    ):
        self.kind = kind
        self.p = profile
        self.load = load
        self.keys = keys
        self.only = only
        self.out: dict = {"database": kind}

    def python(self, script: str, *args: str) -> list[str]:
        return [sys.executable, str(BENCH_DIR / script), *args]

    def flask(self, *args: str) -> list[str]:
        return [str(VENV_BIN / "flask"), "--app", "wsgi", *args]

    def run(self) -> dict:
        p = self.p
        log(f"[{self.kind}] fresh database, migrations")
        url = fresh_database(self.kind)
        self.env = server_env(url, self.keys)
        run(self.flask("db", "upgrade"), env=self.env, timeout=600)
        log(f"[{self.kind}] flask seed scale --volunteers {p.volunteers} --records {p.records}")
        started = time.perf_counter()
        seed_out = run(
            self.flask(
                "seed", "scale", "--volunteers", str(p.volunteers), "--records", str(p.records)
            ),
            env=self.env,
            timeout=3600,
        )
        wall = time.perf_counter() - started
        found = re.search(r"^seed_seconds: ([\d.]+)", seed_out, re.M)
        if not found:
            raise RuntimeError(f"flask seed scale printed no seed_seconds:\n{seed_out}")
        self.out["seed"] = {
            "seconds": float(found.group(1)),
            "wall_seconds": round(wall, 1),
            "phases": [line.strip() for line in seed_out.splitlines() if line.startswith("  ")],
        }
        log(f"[{self.kind}] seed_seconds: {found.group(1)}; bench fixtures")
        inprocess_n = p.inprocess_warm + p.inprocess_requests
        self.fx = run_json(
            self.python(
                "fixtures.py",
                "--checkin-shifts",
                str(p.checkin_shifts),
                "--checkin-per-shift",
                str(PER_SHIFT),
                "--roster",
                str(ROSTER_SIGNUPS),
                "--storm",
                str(p.storm),
                "--sustained-shifts",
                str(p.sustained_shifts),
                "--inprocess-checkin",
                str(inprocess_n),
                "--inprocess-signup-shifts",
                str(INPROCESS_SIGNUP_SHIFTS),
                "--inprocess-volunteers",
                str(-(-inprocess_n // INPROCESS_SIGNUP_SHIFTS)),
            ),
            env=self.env,
            timeout=600,
        )
        fixtures_file = RESULTS / f"fixtures-{self.kind}.json"
        fixtures_file.write_text(json.dumps(self.fx))
        self.db = Db(url)
        try:
            self.out["versions"] = self.versions()
            if "tally" in self.only:
                log(f"[{self.kind}] tallies (in-process)")
                self.out["tally"] = run_json(
                    self.python(
                        "tally.py",
                        "--repeat",
                        str(p.tally_repeat),
                        "--baseline-repeat",
                        str(p.baseline_repeat),
                    ),
                    env=self.env,
                    timeout=1800,
                )
            if "export" in self.only:
                log(f"[{self.kind}] export of {p.export_rows} rows")
                self.out["export"] = run_json(
                    self.python(
                        "export.py",
                        "--rows",
                        str(p.export_rows),
                        "--out",
                        str(RESULTS / f"export-{self.kind}.xlsx"),
                    ),
                    env=self.env,
                    timeout=1800,
                )
            if "inprocess" in self.only:
                log(f"[{self.kind}] CPU per request: check-in, sign-up, floor (in-process)")
                self.out["inprocess"] = run_json(
                    self.python(
                        "inprocess.py",
                        "--fixtures",
                        str(fixtures_file),
                        "--warm",
                        str(p.inprocess_warm),
                        "--requests",
                        str(p.inprocess_requests),
                    ),
                    env=self.env,
                    timeout=1800,
                )
            if self.only & {"checkin", "storm", "sustained", "roster"}:
                self.http()
        finally:
            self.db.close()
        return self.out

    def versions(self) -> dict:
        if self.kind == "sqlite":
            import sqlite3

            return {"SQLite": sqlite3.sqlite_version}
        return {"PostgreSQL": self.db.scalar("SHOW server_version")}

    # ------------------------------------------------------------ over HTTP

    def http(self) -> None:
        app = Server(f"app-{self.kind}", "wsgi:app", self.env)
        base = Server(
            f"baseline-{self.kind}", "baseline_app:app", self.env, pythonpath=str(BENCH_DIR)
        )
        floor = Server(f"floor-{self.kind}", "floor_app:app", self.env, pythonpath=str(BENCH_DIR))
        try:
            log(f"[{self.kind}] starting gunicorn (app, baseline and floor, 2 sync workers each)")
            app.start("/auth/login")
            base.start("/health")
            floor.start("/auth/login")
            if "checkin" in self.only:
                self.checkin(app, base, floor)
            if "storm" in self.only:
                self.storm(app)
            if "sustained" in self.only:
                self.sustained(app, base)
            if "roster" in self.only:
                self.roster(app, base)
        except Exception:
            for server in (app, base, floor):
                tail = server.log_tail()
                if tail:
                    log(f"[{self.kind}] {server.name} log tail:\n{tail}")
            raise
        finally:
            app.stop()
            base.stop()
            floor.stop()

    def phases(self, seconds: float) -> list[tuple[str, float]]:
        """A warm-up run (skipped when the profile's warm_seconds is 0), then the measured."""
        warm = [("warm", self.p.warm_seconds)] if self.p.warm_seconds else []
        return [*warm, ("measure", seconds)]

    def _wrk(self, script, server, datafile, *, seconds, connections=CONNECTIONS, threads=THREADS):
        return self.load.run(
            script,
            server.base,
            datafile,
            connections=connections,
            threads=threads,
            seconds=seconds,
        )

    def checkin(self, app: Server, base: Server, floor: Server) -> None:
        from flask import Flask

        from volunteer_app.services import qr
        from volunteer_app.timeutil import utcnow

        token_app = Flask("bench-tokens")
        token_app.config["SECRET_KEY"] = self.keys["SECRET_KEY"]
        def fresh_headers() -> dict:
            cookie, csrf = login(app.base, self.fx["lead_phone"])
            return {"Cookie": cookie, "X-CSRFToken": csrf}

        headers = fresh_headers()
        shifts = self.fx["checkin"]
        pairs = [(s["shift"], s["users"][i]) for i in range(PER_SHIFT) for s in shifts]
        half = len(pairs) // 2
        chunks = {"warm": pairs[:half], "measure": pairs[half:]}

        def datafiles(run_id: str, chunk: list, headers: dict) -> tuple[Path, Path, Path]:
            # Tokens made now, just before the run: valid for 30–60 s (this and next window).
            with token_app.app_context():
                now = utcnow()
                tokens = [(sid, qr.volunteer_token(uid, now)) for sid, uid in chunk]
            app_file = write_datafile(
                RESULTS / f"checkin-{self.kind}-{run_id}.tsv",
                threads=THREADS,
                run_id=run_id,
                headers=headers,
                items=[(f"/api/v1/shifts/{sid}/scans", tok) for sid, tok in tokens],
            )
            base_file = write_datafile(
                RESULTS / f"checkin-base-{self.kind}-{run_id}.tsv",
                threads=THREADS,
                run_id=run_id,
                headers={},
                items=[(f"/scans/{sid}", tok) for sid, tok in tokens],
            )
            # The framework floor: the lead's session and CSRF token, the same bodies.
            floor_file = write_datafile(
                RESULTS / f"checkin-floor-{self.kind}-{run_id}.tsv",
                threads=THREADS,
                run_id=f"floor{run_id}",  # nonces of its own in bench_scans
                headers=headers,
                items=[(f"/bench/floor/{sid}", tok) for sid, tok in tokens],
            )
            return app_file, base_file, floor_file

        # A probe first: one scan must be accepted, else the pipeline is broken.
        with token_app.app_context():
            sid, uid = chunks["warm"][0]
            token = qr.volunteer_token(uid, utcnow())
            probe = json.dumps({"scans": [{"nonce": f"probe-{self.kind}", "token": token}]})
        status, _h, body = http_request(
            app.base,
            "POST",
            f"/api/v1/shifts/{sid}/scans",
            headers={**headers, "Content-Type": "application/json"},
            body=probe,
        )
        answer = json.loads(body) if status == 200 else {}
        if status != 200 or not answer.get("results", [{}])[0].get("ok"):
            raise RuntimeError(f"check-in probe answered {status}: {body[:500]!r}")

        results = {}
        tag = secrets.token_hex(3)
        for phase, seconds in self.phases(self.p.seconds):
            run_id = f"{phase}{tag}"
            log(f"[{self.kind}] check-in {phase}: app, baseline, floor, {seconds:g} s each")
            # A session cookie as fresh for the floor as for the app: wrk sends the same
            # cookie throughout and never the one the app sets, so a session's idle-check
            # time (hooks.SEEN_RESOLUTION_SECONDS) would otherwise age past a minute during
            # the later runs only, and each of their requests sign a new cookie.
            app_file, base_file, _floor = datafiles(run_id, chunks[phase], fresh_headers())
            results[phase] = {
                "app": self._wrk("checkin.lua", app, app_file, seconds=seconds),
                "baseline": self._wrk("checkin.lua", base, base_file, seconds=seconds),
            }
            _app, _base, floor_file = datafiles(run_id, chunks[phase], fresh_headers())
            results[phase]["floor"] = self._wrk("checkin.lua", floor, floor_file, seconds=seconds)
        measured = results["measure"]
        run_id = f"measure{tag}"
        codes = dict(
            self.db.rows(
                "SELECT code, COUNT(*) FROM scan_logs WHERE nonce LIKE :p GROUP BY code",
                p=f"{run_id}-%",
            )
        )
        base_rows = self.db.scalar(
            "SELECT COUNT(*) FROM bench_scans WHERE nonce LIKE :p", p=f"{run_id}-%"
        )
        app_r, base_r, floor_r = measured["app"], measured["baseline"], measured["floor"]
        floor_rows = self.db.scalar(
            "SELECT COUNT(*) FROM bench_scans WHERE nonce LIKE :p", p=f"floor{run_id}-%"
        )
        refused = sum(n for code, n in codes.items() if code not in ("checked_in", "already_in"))
        self.out["checkin"] = {
            "app": app_r.as_dict(),
            "baseline": base_r.as_dict(),
            "warm": {k: v.as_dict() for k, v in results.get("warm", {}).items()},
            "scan_codes": codes,
            "scans_logged": sum(codes.values()),
            "baseline_rows": base_rows,
            "refused_scans": refused,
            "ratio": app_r.rps / base_r.rps if base_r.rps else None,
            "floor": {**floor_r.as_dict(), "rows": floor_rows},
            "vs_floor": app_r.rps / floor_r.rps if floor_r.rps else None,
        }

    def storm(self, app: Server) -> None:
        phones = RESULTS / f"storm-phones-{self.kind}.txt"
        phones.write_text("\n".join(self.fx["storm_phones"]) + "\n")
        self.sessions_file = RESULTS / f"sessions-{self.kind}.tsv"
        log(f"[{self.kind}] storm: {len(self.fx['storm_phones'])} logins, then all sign up at once")
        result = run_json(
            self.python(
                "storm.py",
                "--base",
                app.base,
                "--shift",
                str(self.fx["storm_shift"]),
                "--phones",
                str(phones),
                "--sessions-out",
                str(self.sessions_file),
                "--pool",
                "100",
            ),
            env=self.env,
            timeout=1800,
        )
        shift = self.fx["storm_shift"]
        by_status = dict(
            self.db.rows(
                "SELECT status, COUNT(*) FROM signups WHERE shift_id = :s GROUP BY status", s=shift
            )
        )
        taken, waitlisted = self.db.rows(
            "SELECT taken, waitlisted FROM shifts WHERE id = :s", s=shift
        )[0]
        result.update(
            confirmed=by_status.get("confirmed", 0),
            waitlisted=by_status.get("waitlisted", 0),
            signups_by_status=by_status,
            shift_counters={"taken": taken, "waitlisted": waitlisted},
        )
        self.out["storm"] = result

    def sustained(self, app: Server, base: Server) -> None:
        sessions = [
            line.split("\t") for line in self.sessions_file.read_text().splitlines() if line
        ]
        user_of = dict(zip(self.fx["storm_phones"], self.fx["storm_users"], strict=True))
        shifts, twins = self.fx["sustained_shifts"], self.fx["baseline_shifts"]
        count = len(sessions) * len(shifts)
        order = [(j % len(shifts), (j // len(shifts)) % len(sessions)) for j in range(count)]
        warm_n = count // 5
        app_items = [
            (f"/shifts/{shifts[s]}/signup", sessions[v][1], sessions[v][2]) for s, v in order
        ]
        base_items = [(f"/signup/{twins[s]}/{user_of[sessions[v][0]]}",) for s, v in order]
        ids = ", ".join(str(int(s)) for s in shifts)
        app_sql = f"SELECT COUNT(*) FROM signups WHERE shift_id IN ({ids})"  # noqa: S608
        base_sql = "SELECT COUNT(*) FROM bench_signups"
        results = {}
        slices = {"warm": slice(0, warm_n), "measure": slice(warm_n, None)}
        for phase, seconds in self.phases(self.p.seconds):
            items_slice = slices[phase]
            log(f"[{self.kind}] sustained sign-ups {phase}: app then baseline, {seconds:g} s each")
            got = {}
            for side, server, items, sql, script in (
                ("app", app, app_items, app_sql, "signup.lua"),
                ("baseline", base, base_items, base_sql, "signup.lua"),
            ):
                datafile = write_datafile(
                    RESULTS / f"signup-{side}-{self.kind}-{phase}.tsv",
                    threads=THREADS,
                    run_id=phase,
                    headers={},
                    items=items[items_slice],
                )
                before = self.db.scalar(sql)
                load = self._wrk(script, server, datafile, seconds=seconds)
                made = self.db.scalar(sql) - before
                got[side] = {
                    **load.as_dict(),
                    "signups": made,
                    "signups_per_s": round(made / load.duration, 1) if load.duration else 0,
                    "refused_or_failed": max(load.requests - made, 0),
                }
            results[phase] = got
        measured = results["measure"]
        app_rate = measured["app"]["signups_per_s"]
        base_rate = measured["baseline"]["signups_per_s"]
        floor_rate = self.out.get("checkin", {}).get("floor", {}).get("rps")
        self.out["sustained"] = {
            **measured,
            "warm": results.get("warm", {}),
            "pairs_available": count - warm_n,
            "ratio": app_rate / base_rate if base_rate else None,
            "floor_rps": floor_rate,
            "vs_floor": app_rate / floor_rate if floor_rate else None,
        }

    def roster(self, app: Server, base: Server) -> None:
        cookie, _csrf = login(app.base, self.fx["organiser_phone"])
        shift = self.fx["roster_shift"]
        checks = {}
        for side, server, path, headers in (
            ("app", app, f"/organise/shifts/{shift}/roster", {"Cookie": cookie}),
            ("baseline", base, f"/roster/{shift}", {}),
        ):
            status, _h, page = http_request(server.base, "GET", path, headers=headers)
            rows = page.count(b"data-signup=")
            if status != 200 or rows != ROSTER_SIGNUPS:
                raise RuntimeError(f"{side} roster answered {status} with {rows} rows")
            checks[side] = {"bytes": len(page), "rows": rows, "path": path, "headers": headers}
            # Each gunicorn worker compiles the templates on its first page (100+ ms): a few
            # pages first, so that a short measured run without a warm-up (quick mode) does
            # not count that once per worker.
            for _ in range(ROSTER_WARM_PAGES):
                http_request(server.base, "GET", path, headers=headers)
        results = {}
        for phase, seconds in self.phases(self.p.roster_seconds):
            log(f"[{self.kind}] roster {phase}: app then baseline, 1 connection, {seconds:g} s")
            for side, server in (("app", app), ("baseline", base)):
                datafile = write_datafile(
                    RESULTS / f"roster-{side}-{self.kind}.tsv",
                    threads=1,
                    run_id=phase,
                    headers=checks[side]["headers"],
                    items=[(checks[side]["path"],)],
                )
                results[(phase, side)] = self._wrk(
                    "get.lua", server, datafile, seconds=seconds, connections=1, threads=1
                )
        app_r, base_r = results[("measure", "app")], results[("measure", "baseline")]
        self.out["roster"] = {
            "app": {**app_r.as_dict(), "bytes": checks["app"]["bytes"]},
            "baseline": {**base_r.as_dict(), "bytes": checks["baseline"]["bytes"]},
            "rows": ROSTER_SIGNUPS,
            "ratio": app_r.lat_mean_ms / base_r.lat_mean_ms if base_r.lat_mean_ms else None,
        }


# ---------------------------------------------------------------- figures


def figures(result: dict) -> list[dict]:
    """Every figure of one database: name, value (text), met, details."""
    kind = result["database"]
    out = []

    def add(name: str, value: str, met: bool | None, detail: str) -> None:
        out.append({"name": name, "value": value, "met": met, "detail": detail})

    seed = result.get("seed")
    if seed:
        met = seed["seconds"] < 180 if kind == "sqlite" else None
        phases = [p for p in seed["phases"] if " in " in p]  # the totals, not the progress
        add("seed_seconds", f"{seed['seconds']:.1f}", met, "; ".join(phases))
    tally = result.get("tally")
    if tally:
        ok = tally["ratio"] is not None and tally["ratio"] <= 0.1 and tally["app_ms"] < 100
        add(
            "tally_ratio",
            f"{tally['ratio']:.4f} ({tally['app_ms']:.0f} ms)",
            ok and tally["agree"],
            f"figures() {tally['app_ms']:.1f} ms vs raw GROUP BY {tally['baseline_ms']:.1f} ms "
            f"(median, warm, in-process); registrations part "
            f"{tally['parts']['area_registrations_ms']:.1f} + "
            f"{tally['parts']['party_registrations_ms']:.1f} ms; answers "
            + ("agree" if tally["agree"] else "DIFFER: " + "; ".join(tally["differences"][:3])),
        )
    export = result.get("export")
    if export:
        add(
            "export_peak_mb",
            f"{export['peak_mb']:.1f}",
            export["peak_mb"] <= 150 and export["rows_in_file"] == export["rows"],
            f"{export['rows']} rows, {export['bytes'] / 1e6:.1f} MB file in {export['seconds']} s "
            f"by {export['writer']}; RSS before the export {export['rss_before_mb']} MB",
        )
    checkin = result.get("checkin")
    if checkin:
        a, b = checkin["app"], checkin["baseline"]
        errors = sum(a["errors"].values()) + checkin["refused_scans"]
        ok = checkin["ratio"] >= 0.35 and a["lat_p99_ms"] < 100 and errors == 0
        add(
            "checkin_ratio",
            f"{checkin['ratio']:.3f}",
            ok,
            f"app {a['rps']} req/s (p50 {a['lat_p50_ms']} ms, p99 {a['lat_p99_ms']} ms, "
            f"errors {sum(a['errors'].values())}, scans {checkin['scan_codes']}) vs baseline "
            f"{b['rps']} req/s (p99 {b['lat_p99_ms']} ms); {a['duration_s']} s each, "
            f"{CONNECTIONS} connections, {a['tool']}",
        )
    storm = result.get("storm")
    if storm:
        ok = (
            storm["confirmed"] == 50
            and storm["waitlisted"] == 20
            and storm["server_errors"] == 0
            and storm["connection_errors"] == 0
        )
        add(
            "signup_storm",
            f"confirmed {storm['confirmed']}, waitlisted {storm['waitlisted']}, "
            f"server errors {storm['server_errors']}",
            ok,
            f"{storm['volunteers']} volunteers, statuses {storm['statuses']}, storm "
            f"{storm['storm_seconds']} s (p50 {storm['p50_ms']} ms, max {storm['max_ms']} ms), "
            f"shift counters {storm['shift_counters']}; logins {storm['login_seconds']} s",
        )
    sustained = result.get("sustained")
    if sustained:
        a, b = sustained["app"], sustained["baseline"]
        add(
            "signup_ratio",
            f"{sustained['ratio']:.3f}",
            sustained["ratio"] >= 0.35,
            f"app {a['signups_per_s']} sign-ups/s ({a['signups']} in {a['duration_s']} s, "
            f"p99 {a['lat_p99_ms']} ms, refused/failed {a['refused_or_failed']}) vs baseline "
            f"{b['signups_per_s']}/s (p99 {b['lat_p99_ms']} ms); {CONNECTIONS} connections",
        )
    roster = result.get("roster")
    if roster:
        a, b = roster["app"], roster["baseline"]
        add(
            "roster_ratio",
            f"{roster['ratio']:.2f}",
            roster["ratio"] <= 1.5,
            f"app {a['lat_mean_ms']} ms/page ({a['bytes'] // 1024} KiB) vs bare Jinja "
            f"{b['lat_mean_ms']} ms/page ({b['bytes'] // 1024} KiB); 500 rows, 1 connection",
        )
    inproc = result.get("inprocess")
    if inproc:
        fl = inproc["floor"]
        for path in ("checkin", "signup"):
            r = inproc[path]
            add(
                f"{path}_cpu_ms",
                f"{r['cpu_ms']:.2f}",
                r["cpu_ms"] <= 4 and r["refused"] == 0,
                f"{r['cpu_ms']:.2f} ms CPU ({r['wall_ms']:.2f} ms wall) per request vs the "
                f"framework floor's {fl['cpu_ms']:.2f} ms ({r['cpu_ms'] / fl['cpu_ms']:.1f}×); "
                f"{r['requests']} requests after {inproc['warm']} warm, in-process "
                f"(test client), refused {r['refused']}",
            )
            add(
                f"{path}_statements",
                f"{r['statements']:g}",
                None,
                f"SQL statements per request (BEGIN and SAVEPOINTs included) vs the floor's "
                f"{fl['statements']:g}",
            )
    if checkin and checkin.get("floor"):
        f = checkin["floor"]
        add(
            "checkin_vs_floor",
            f"{checkin['vs_floor']:.3f}",
            None,
            f"app {checkin['app']['rps']} req/s vs the framework floor {f['rps']} req/s "
            f"(p99 {f['lat_p99_ms']} ms, rows {f['rows']}); the floor vs the baseline: "
            f"{f['rps'] / checkin['baseline']['rps']:.3f}",
        )
    if sustained and sustained.get("vs_floor") is not None:
        add(
            "signup_vs_floor",
            f"{sustained['vs_floor']:.3f}",
            None,
            f"app {sustained['app']['signups_per_s']} sign-ups/s vs the framework floor "
            f"{sustained['floor_rps']} req/s (measured in the check-in phase)",
        )
    return out


def machine() -> dict:
    info = {"nproc": os.cpu_count(), "platform": platform.platform()}
    try:
        meminfo = Path("/proc/meminfo").read_text()
        kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
        info["ram_gib"] = round(kib / 1024 / 1024, 1)
        cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        info["cpu"] = cpu.group(1).strip() if cpu else platform.processor()
    except (OSError, AttributeError):
        pass
    info["loadavg_start"] = os.getloadavg()[0]
    return info


def versions(load: Load) -> dict:
    import sqlite3
    from importlib.metadata import version

    out = {
        "Python": platform.python_version(),
        "SQLite (Python's)": sqlite3.sqlite_version,
        "gunicorn": version("gunicorn"),
        "Flask": version("flask"),
        "SQLAlchemy": version("sqlalchemy"),
        "psycopg": version("psycopg"),
        "openpyxl": version("openpyxl"),
    }
    if load.wrk:
        import subprocess

        head = subprocess.run(  # noqa: S603 - wrk -v
            [load.wrk, "-v"], capture_output=True, text=True, check=False
        )
        out["wrk"] = (head.stdout or head.stderr).split("[")[0].replace("wrk", "").strip()
    else:
        out["load generator"] = f"Python threads (wrk unavailable: {load.why})"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--report", type=Path, help="where to write the Markdown report")
    parser.add_argument(
        "--roster-seconds",
        type=float,
        help="the measured roster run's length (default: the mode's; the quick mode's 2 s "
        "give a few dozen pages)",
    )
    parser.add_argument(
        "--only",
        help=f"measure only these stages, comma-separated ({', '.join(sorted(STAGES))}); the "
        "seed and the fixtures always run",
    )
    parser.add_argument(
        "--render", type=Path, help="only write the report again from a run's JSON results"
    )
    args = parser.parse_args()
    if args.render:
        from report import write_report

        info = json.loads(args.render.read_text())
        for result in info["databases"].values():
            result["figures"] = figures(result)
        target = args.report or (
            ROOT / "docs" / "performance.md"
            if info["mode"] == "full"
            else RESULTS / "performance-quick.md"
        )
        write_report(info, target)
        print(f"bench: report {target} written from {args.render}")
        return 0
    profile = PROFILES[args.mode]
    if args.roster_seconds:
        profile = dataclasses.replace(profile, roster_seconds=args.roster_seconds)
    only = STAGES
    if args.only:
        only = frozenset(stage.strip() for stage in args.only.split(",") if stage.strip())
        if not only or only - STAGES:
            parser.error(f"--only: choose from {', '.join(sorted(STAGES))}")
        if "sustained" in only:
            only |= {"storm"}  # the sustained sign-ups use the storm's logged-in volunteers
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # A SIGTERM (a CI timeout) unwinds like Ctrl+C, so every server started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(
        f"bench ({profile.name}): gunicorn, 2 sync workers, APP_CONFIG=production with a "
        "generated SECRET_KEY and PII_ENCRYPTION_KEY, RATELIMIT_ENABLED=0, and a cheap Argon2 "
        "(ARGON2_TIME_COST=1 ARGON2_MEMORY_KIB=8192, seed included) so that the storm's "
        "volunteers can all log in; tallies and the export are measured in-process",
        flush=True,
    )

    wrk, why = ensure_wrk()
    load = Load(wrk, why)
    if wrk is None:
        print(
            f"bench: wrk is not available ({why}); the load generator is the Python fallback "
            "(threads in the bench's own process, apart from the servers); its figures are "
            "lower than wrk's",
            flush=True,
        )
    from cryptography.fernet import Fernet

    keys = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PII_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    run_info = {
        "mode": profile.name,
        "profile": profile.__dict__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "versions": versions(load),
        "pg_database": os.environ.get("BENCH_PG_DATABASE", "volunteer_bench"),
        "databases": {},
        "skipped": {},
        "broken": {},
    }
    broken = False
    for kind in [k.strip() for k in args.databases.split(",") if k.strip()]:
        if kind == "postgresql" and not pg_reachable():
            note = f"PostgreSQL does not answer at {pg_admin_url()}"
            print(f"bench: [postgresql] skipped: {note}", flush=True)
            run_info["skipped"][kind] = note
            continue
        try:
            run_info["databases"][kind] = Bench(kind, profile, load, keys, only).run()
        except Exception as failed:  # the pipeline broke: say where, go on, fail at the end
            broken = True
            traceback.print_exc()
            run_info["broken"][kind] = f"{type(failed).__name__}: {failed}"[:2000]
            print(f"bench: [{kind}] PIPELINE BROKEN: {failed}", flush=True)
    run_info["machine"]["loadavg_end"] = os.getloadavg()[0]
    run_info["seconds"] = round(time.perf_counter() - started, 1)

    missed = 0
    print(f"\n# bench ({profile.name}): {profile.volunteers} volunteers, {profile.records} records")
    for kind, result in run_info["databases"].items():
        result["figures"] = figures(result)
        for fig in result["figures"]:
            verdict = {True: "met", False: "MISSED", None: "informational"}[fig["met"]]
            target = TARGETS[fig["name"]]
            if fig["name"] == "seed_seconds" and kind != "sqlite":
                target = "(the target is for SQLite)"
            print(f"{fig['name']}[{kind}]: {fig['value']}  target {target}  {verdict}")
            print(f"    {fig['detail']}")
            missed += fig["met"] is False
    (RESULTS / f"bench-{profile.name}.json").write_text(
        json.dumps(run_info, indent=2, ensure_ascii=False, default=str)
    )
    from report import write_report

    report = args.report or (
        ROOT / "docs" / "performance.md"
        if profile.name == "full"
        else RESULTS / "performance-quick.md"
    )
    write_report(run_info, report)
    print(f"bench: {missed} target(s) missed; {run_info['seconds']} s; report {report}")
    if broken:
        print(f"bench: PIPELINE BROKEN on {', '.join(run_info['broken'])}", flush=True)
    if broken:
        return 2
    if missed and profile.name == "full":
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
