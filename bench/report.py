"""The Markdown report of a bench run (docs/performance.md for `make bench`). The analysis
— what was changed and what it gave, what is recommended — is kept by hand in
bench/findings.md and copied in below the generated tables."""

from __future__ import annotations

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
ORDER = [
    "checkin_ratio",
    "signup_storm",
    "signup_ratio",
    "tally_ratio",
    "roster_ratio",
    "export_peak_mb",
    "seed_seconds",
    "checkin_cpu_ms",
    "checkin_statements",
    "checkin_vs_floor",
    "signup_cpu_ms",
    "signup_statements",
    "signup_vs_floor",
]
TARGETS = {
    "seed_seconds": "< 180 (SQLite)",
    "tally_ratio": "≤ 0.1 and < 100 ms warm",
    "export_peak_mb": "≤ 150",
    "checkin_ratio": "≥ 0.35; p99 < 100 ms at 32 conn.; no errors",
    "signup_storm": "50 confirmed, 20 waitlisted, 0 server errors",
    "signup_ratio": "≥ 0.35",
    "roster_ratio": "≤ 1.5",
    "checkin_cpu_ms": "≤ 4",
    "signup_cpu_ms": "≤ 4",
    "checkin_statements": "— (floor beside it)",
    "signup_statements": "— (floor beside it)",
    "checkin_vs_floor": "—",
    "signup_vs_floor": "—",
}
VERDICT = {True: "met", False: "**missed**", None: "—"}


def _cell(fig: dict | None) -> str:
    if fig is None:
        return "not run"
    return f"{fig['value']} ({VERDICT[fig['met']]})"


def write_report(info: dict, path: Path) -> None:
    dbs = info["databases"]
    kinds = [k for k in ("sqlite", "postgresql") if k in dbs]
    p = info["profile"]
    m = info["machine"]
    lines = [
        "# Performance",
        "",
        f"Written by `{'make bench' if info['mode'] == 'full' else 'make bench-quick'}` "
        f"(bench/run.py, mode *{info['mode']}*) on {info['date']}; the whole run took "
        f"{info['seconds']:.0f} s. Scale data: `flask seed scale --volunteers {p['volunteers']} "
        f"--records {p['records']}`. Every figure is a ratio to a baseline measured in the same "
        "run on the same machine and database, so it says how close the app comes to what the "
        "machine can do, not how fast this machine is.",
        "",
        "## Figures",
        "",
        "| figure | target | " + " | ".join(NAMES[k] for k in kinds) + " |",
        "|---|---|" + "---|" * len(kinds),
    ]
    by_kind = {k: {f["name"]: f for f in dbs[k].get("figures", [])} for k in kinds}
    for name in ORDER:
        cells = [_cell(by_kind[k].get(name)) for k in kinds]
        lines.append(f"| `{name}` | {TARGETS[name]} | " + " | ".join(cells) + " |")
    for kind, why in {**info.get("skipped", {}), **info.get("broken", {})}.items():
        lines += ["", f"*{NAMES.get(kind, kind)}: not measured — {why}*"]
    lines += ["", "### What each figure is made of", ""]
    for kind in kinds:
        lines += [f"**{NAMES[kind]}**", ""]
        for name in ORDER:
            fig = by_kind[kind].get(name)
            if fig:
                lines.append(f"- `{name}` = {fig['value']}: {fig['detail']}")
        lines.append("")
    lines += [
        "## Machine, versions, database",
        "",
        "| | |",
        "|---|---|",
        f"| date | {info['date']} |",
        f"| nproc | {m.get('nproc')} |",
        f"| RAM | {m.get('ram_gib')} GiB |",
        f"| CPU model | {m.get('cpu')} |",
        f"| load average (1 min) at start / end | {m.get('loadavg_start'):.2f} / "
        f"{m.get('loadavg_end', 0):.2f} |",
        f"| platform | {m.get('platform')} |",
    ]
    for name, value in info["versions"].items():
        lines.append(f"| {name} | {value} |")
    for kind in kinds:
        for name, value in dbs[kind].get("versions", {}).items():
            lines.append(f"| {name} (bench database) | {value} |")
    lines += [
        "| databases | "
        + "; ".join(
            {
                "sqlite": "SQLite file (WAL, synchronous NORMAL), bench/results/bench.db",
                "postgresql": "PostgreSQL 127.0.0.1:5432, database "
                f"{info.get('pg_database', 'volunteer_bench')} (dropped and created by the bench)",
            }[k]
            for k in kinds
        )
        + " |",
        "",
        "## How it is measured",
        "",
        "- **Servers.** The app under gunicorn, 2 sync workers, on loopback, in the production "
        "configuration (`APP_CONFIG=production`, a generated `SECRET_KEY` and "
        "`PII_ENCRYPTION_KEY`, `RATELIMIT_ENABLED=0`), with a cheap Argon2 "
        "(`ARGON2_TIME_COST=1 ARGON2_MEMORY_KIB=8192`, set for the seed too, since a hash keeps "
        "its own cost) so that 1,000 volunteers can log in within seconds. The baseline app "
        "(`bench/baseline_app.py`, bench-only) runs under the same gunicorn settings on the same "
        "database with the product's SQLite settings (WAL, busy timeout, BEGIN IMMEDIATE for "
        "writes).",
        f"- **Load.** {'wrk' if info['versions'].get('wrk') else 'the Python fallback'} in a "
        "separate process, 2 threads, 32 connections; each measured run "
        f"{p['seconds']:g} s after a {p['warm_seconds']:g} s warm-up (app, then baseline).",
        "- **checkin_ratio**: `POST /api/v1/shifts/<id>/scans` with one scan per request, the "
        "session cookie and `X-CSRFToken` of the demo lead (logged in afresh just before the "
        "app's run and again before the floor's, as wrk never sends back the cookie the app "
        "sets), a unique nonce per request and a "
        f"fresh volunteer token, over {p['checkin_shifts']} open shifts of 500 confirmed "
        "volunteers each (tokens are made just before each run; each run uses volunteers not "
        "scanned before, so nearly every scan is a real check-in). Baseline: a route that "
        "inserts one row and commits. Errors = wrk's socket and HTTP errors plus scans the "
        "app refused (codes other than checked_in/already_in, read from scan_logs).",
        f"- **signup_storm**: {p['storm']} volunteers with complete profiles log in once each "
        "through the login form, then all POST `/shifts/<id>/signup` for one shift (50 places, "
        "waitlist 20) from a pool of 100 threads released together (bench/storm.py, its own "
        "process); confirmed and waitlisted are counted in the database.",
        "- **signup_ratio**: the same volunteers sign up, one request per (volunteer, shift) "  # noqa: S608
        f"pair, over {p['sustained_shifts']} open shifts; sign-ups/s = new rows in `signups` "
        "÷ the run's duration. Baseline: one conditional `UPDATE shifts SET taken = taken + 1 "
        "WHERE id = … AND taken < capacity` plus one insert, on twin shifts.",
        "- **tally_ratio** (in-process, no HTTP): `tallies.figures` for all towns + the "
        "district (area) and all Party committees + the Party root (party) over this year, "
        "against raw GROUP BYs over the ledger (and the profiles, for the registered counts) "
        "with the ordinary indexes, joined to the org paths with `LIKE ancestor.path || '%'`. "
        f"Warm, median of {p['tally_repeat']} (baseline {p['baseline_repeat']}); the two answers "
        "are compared. PostgreSQL gets an `ANALYZE` after the fixtures (what autovacuum does "
        "soon after a bulk load; without it the plans depend on whether it has run yet); SQLite "
        "gets none, as the app never runs one.",
        "- **roster_ratio**: mean time of `GET /organise/shifts/<id>/roster` (500 sign-ups, "
        "logged-in town organiser) ÷ the same rows queried and rendered in a bare Jinja "
        "template by the baseline app, both over HTTP through gunicorn, one connection.",
        f"- **export_peak_mb**: ru_maxrss of a subprocess that loads the app and exports "
        f"{p['export_rows']:,} ledger rows to .xlsx, streamed from the database (yield_per) "
        "through `services.exports.to_xlsx` (openpyxl write-only); the whole process is "
        "counted, the interpreter and the app included.",
        "- **seed_seconds**: as printed by `flask seed scale`.",
        "- **checkin_cpu_ms, signup_cpu_ms, …_statements** (in-process, bench/inprocess.py): "
        "the app built as gunicorn builds it, in the same configuration, on the bench "
        f"database; {p.get('inprocess_warm', 0)} warm-up requests, then "
        f"{p.get('inprocess_requests', 0)} timed ones through Flask's test client with the "
        "session cookie and CSRF token of a real login: CPU time of the process "
        "(`time.process_time`; on PostgreSQL the server's work is outside it) and SQL "
        "statements counted on the engine (BEGIN and SAVEPOINTs included), per request. "
        "Each check-in is a real one (a confirmed volunteer, a fresh code), each sign-up a "
        "new (volunteer, shift) pair with room. Beside them the **framework floor** "
        "(bench/floor.py, a bench-only route the bench adds to its own copy of the app): the "
        "same request hooks, user loading, CSRF check and session, one insert and a commit.",
        "- **checkin_vs_floor, signup_vs_floor**: the app's check-ins/s (sign-ups/s) over "
        "HTTP ÷ the floor's req/s, measured in the check-in phase under the same gunicorn "
        "settings and wrk load with the lead's session (bench/floor_app.py: `wsgi:app` plus "
        "the floor route).",
        "",
    ]
    findings = BENCH_DIR / "findings.md"
    if findings.exists():
        lines.append(findings.read_text().rstrip())
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
