"""The sign-up storm, in a process of its own: log in every volunteer once (a session
each), then fire one sign-up POST per volunteer for the same shift at once from a pool of
`--pool` threads, all released together. Prints a JSON object (HTTP statuses, timings) and
writes the sessions (phone, Cookie, CSRF token) for the sustained sign-up run.

The count of confirmed and waitlisted sign-ups is checked by the caller in the database."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import http_request, login


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--shift", type=int, required=True)
    parser.add_argument("--phones", type=Path, required=True, help="one phone a line")
    parser.add_argument("--sessions-out", type=Path, required=True)
    parser.add_argument("--pool", type=int, default=100)
    parser.add_argument("--login-threads", type=int, default=8)
    args = parser.parse_args()
    phones = [p for p in args.phones.read_text().split() if p]

    started = time.perf_counter()
    with ThreadPoolExecutor(args.login_threads) as pool:
        sessions = list(pool.map(lambda phone: (phone, *login(args.base, phone)), phones))
    login_s = time.perf_counter() - started
    args.sessions_out.write_text("".join(f"{p}\t{c}\t{t}\n" for p, c, t in sessions))

    gate = threading.Barrier(min(args.pool, len(sessions)))
    statuses: Counter = Counter()
    latencies: list[float] = []
    lock = threading.Lock()

    def fire(session: tuple[str, str, str]) -> None:
        _phone, cookie, csrf = session
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait(timeout=60)  # a last, smaller round goes when the wait runs out
        began = time.perf_counter()
        try:
            status, _h, _b = http_request(
                args.base,
                "POST",
                f"/shifts/{args.shift}/signup",
                headers={
                    "Cookie": cookie,
                    "X-CSRFToken": csrf,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                body="",
                timeout=120,
            )
            key = str(status)
        except OSError as failed:
            key = f"connection error ({type(failed).__name__})"
        with lock:
            statuses[key] += 1
            latencies.append(time.perf_counter() - began)

    started = time.perf_counter()
    with ThreadPoolExecutor(args.pool) as pool:
        list(pool.map(fire, sessions))
    storm_s = time.perf_counter() - started
    latencies.sort()
    print(
        json.dumps(
            {
                "volunteers": len(sessions),
                "login_seconds": round(login_s, 2),
                "storm_seconds": round(storm_s, 2),
                "statuses": dict(statuses),
                "server_errors": sum(n for k, n in statuses.items() if k.startswith("5")),
                "connection_errors": sum(
                    n for k, n in statuses.items() if k.startswith("connection")
                ),
                "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
                "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
            }
        )
    )


if __name__ == "__main__":
    main()
