"""Shared helpers of the benchmark suite: paths, the environment of the servers under test,
a small HTTP client with manual cookies, gunicorn servers, and the load generator (wrk, or a
Python fallback with threads when wrk cannot be installed).

Nothing here is imported by the product; the product is only ever driven over HTTP or
in a subprocess of its own."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
VENV_BIN = Path(sys.executable).parent
PASSWORD = "Volunteer2026"  # noqa: S105 - the demo password; the scale seed gives it to every volunteer


_STARTED = time.monotonic()


def log(message: str) -> None:
    """Progress on stderr, with the seconds since the bench started."""
    print(f"bench [{time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes


def run(cmd: list[str], *, env: dict, timeout: float = 3600, capture: bool = True) -> str:
    """Run a command to completion; its stdout, or an error naming the command."""
    done = subprocess.run(  # noqa: S603 - our own commands
        cmd,
        env=env,
        cwd=ROOT,
        capture_output=capture,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr or "")[-3000:] if capture else ""
        raise RuntimeError(f"{' '.join(cmd[:4])} … exited {done.returncode}\n{tail}")
    return done.stdout if capture else ""


def run_json(cmd: list[str], *, env: dict, timeout: float = 3600) -> dict:
    """Run a bench script whose last stdout line is a JSON object."""
    out = run(cmd, env=env, timeout=timeout)
    lines = [line for line in out.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"{' '.join(cmd[:3])} printed nothing")
    return json.loads(lines[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A gunicorn with 2 sync workers on loopback, started and stopped by the bench."""

    name: str
    app: str  # module:variable
    env: dict
    pythonpath: str | None = None
    port: int = 0
    process: subprocess.Popen | None = None
    logfile: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str) -> Server:
        self.port = free_port()
        self.logfile = RESULTS / f"gunicorn-{self.name}.log"
        cmd = [
            str(VENV_BIN / "gunicorn"),
            "--workers",
            "2",
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--error-logfile",
            str(self.logfile),
            "--log-level",
            "warning",
        ]
        if self.pythonpath:
            cmd += ["--pythonpath", self.pythonpath]
        cmd.append(self.app)
        self.process = subprocess.Popen(  # noqa: S603 - our own command
            cmd, env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn {self.name} exited {self.process.returncode}: see {self.logfile}\n"
                    + self.log_tail()
                )
            try:
                status, _h, _b = http_request(self.base, "GET", ready_path, timeout=5)
                if status < 500:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn {self.name} did not answer within 60 s")

    def log_tail(self) -> str:
        if self.logfile and self.logfile.exists():
            return self.logfile.read_text(errors="replace")[-3000:]
        return ""

    def stop(self) -> None:
        """SIGTERM to the master we started (it stops its workers), then wait."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


# ---------------------------------------------------------------- HTTP with manual cookies
# The production configuration marks the session cookie Secure; over plain loopback HTTP a
# browser-like cookie jar would not send it back, so the bench carries it by hand.

_SESSION_RE = re.compile(r"(?:^|,\s*)session=([^;]*)")
_CSRF_RE = re.compile(
    r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"'
)


def http_request(
    base: str,
    method: str,
    path: str,
    *,
    headers: dict | None = None,
    body: bytes | str | None = None,
    timeout: float = 60,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def session_cookie(headers: http.client.HTTPMessage) -> str | None:
    for value in headers.get_all("Set-Cookie") or []:
        found = _SESSION_RE.search(value)
        if found:
            return found.group(1)
    return None


def login(base: str, phone: str, password: str = PASSWORD) -> tuple[str, str]:
    """Log in through the real form; returns (Cookie header value, CSRF token)."""
    status, headers, page = http_request(base, "GET", "/auth/login")
    cookie = session_cookie(headers)
    found = _CSRF_RE.search(page.decode("utf-8", "replace"))
    if status != 200 or cookie is None or found is None:
        raise RuntimeError(f"GET /auth/login answered {status} without a session or CSRF token")
    csrf = found.group(1) or found.group(2)
    form = urlencode({"phone": phone, "password": password, "csrf_token": csrf})
    status, headers, _page = http_request(
        base,
        "POST",
        "/auth/login",
        headers={
            "Cookie": f"session={cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        body=form,
    )
    cookie = session_cookie(headers)
    if status != 302 or cookie is None:
        raise RuntimeError(f"login of {phone} answered {status} (expected a redirect)")
    return f"session={cookie}", csrf


# ---------------------------------------------------------------- load generation
# A load run reads a data file that both generators understand (one `key<TAB>value…` per
# line): `threads`, `run` (a prefix for nonces), `header` lines and `item` lines that the
# Lua script of the scenario turns into requests.


@dataclass
class LoadResult:
    tool: str
    requests: int
    duration: float
    errors: dict
    lat_mean_ms: float
    lat_p50_ms: float
    lat_p90_ms: float
    lat_p99_ms: float
    lat_max_ms: float
    extra: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.duration if self.duration else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict:
        return {
            "tool": self.tool,
            "requests": self.requests,
            "duration_s": round(self.duration, 3),
            "rps": round(self.rps, 1),
            "errors": self.errors,
            "lat_mean_ms": round(self.lat_mean_ms, 2),
            "lat_p50_ms": round(self.lat_p50_ms, 2),
            "lat_p90_ms": round(self.lat_p90_ms, 2),
            "lat_p99_ms": round(self.lat_p99_ms, 2),
            "lat_max_ms": round(self.lat_max_ms, 2),
        }


def ensure_wrk() -> tuple[str | None, str]:
    """wrk's path, installing Debian's package when missing; (None, why) when it cannot."""
    if os.environ.get("BENCH_NO_WRK") == "1":
        return None, "BENCH_NO_WRK=1"
    found = shutil.which("wrk")
    if found:
        return found, "wrk was installed"
    apt = shutil.which("apt-get")
    if apt is None:
        return None, "apt-get is not available"
    log("wrk is missing: apt-get install -y wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        for cmd in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "wrk"]):
            subprocess.run(  # noqa: S603 - fixed command
                cmd, env=env, check=True, capture_output=True, timeout=600
            )
    except (subprocess.SubprocessError, OSError) as failed:
        return None, f"apt-get install wrk failed ({type(failed).__name__})"
    found = shutil.which("wrk")
    return (found, "installed by the bench with apt-get") if found else (None, "not on PATH")


def write_datafile(path: Path, *, threads: int, run_id: str, headers: dict, items: list) -> Path:
    lines = [f"threads\t{threads}", f"run\t{run_id}"]
    lines += [f"header\t{k}\t{v}" for k, v in headers.items()]
    lines += ["item\t" + "\t".join(str(x) for x in item) for item in items]
    path.write_text("\n".join(lines) + "\n")
    return path


class Load:
    """Runs one scenario (a Lua script of bench/, with its data file) against a base URL."""

    def __init__(self, wrk: str | None, why: str):
        self.wrk = wrk
        self.why = why

    @property
    def tool(self) -> str:
        return "wrk" if self.wrk else "python-threads"

    def run(
        self,
        script: str,
        base: str,
        datafile: Path,
        *,
        connections: int,
        threads: int,
        seconds: float,
    ) -> LoadResult:
        if self.wrk:
            return self._wrk(script, base, datafile, connections, threads, seconds)
        return python_load(script, base, datafile, connections, seconds)

    def _wrk(self, script, base, datafile, connections, threads, seconds) -> LoadResult:
        cmd = [
            self.wrk,
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{max(round(seconds), 1)}s",
            "--timeout",
            "10s",
            "-s",
            str(BENCH_DIR / script),
            base,
            "--",
            str(datafile),
        ]
        env = {**os.environ, "BENCH_LUA_DIR": str(BENCH_DIR)}
        done = subprocess.run(  # noqa: S603 - our own command
            cmd, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False
        )
        found = re.search(r"^WRKJSON (\{.*\})$", done.stdout, re.M)
        if done.returncode != 0 or not found:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
        data = json.loads(found.group(1))
        return LoadResult(
            tool="wrk",
            requests=data["requests"],
            duration=data["duration_us"] / 1e6,
            errors={k: data[k] for k in ("connect", "read", "write", "status", "timeout")},
            lat_mean_ms=data["lat_mean_us"] / 1000,
            lat_p50_ms=data["lat_p50_us"] / 1000,
            lat_p90_ms=data["lat_p90_us"] / 1000,
            lat_p99_ms=data["lat_p99_us"] / 1000,
            lat_max_ms=data["lat_max_us"] / 1000,
        )


def _read_datafile(path: Path) -> tuple[int, str, dict, list[list[str]]]:
    threads, run_id, headers, items = 1, "run", {}, []
    for line in path.read_text().splitlines():
        parts = line.split("\t")
        if parts[0] == "threads":
            threads = int(parts[1])
        elif parts[0] == "run":
            run_id = parts[1]
        elif parts[0] == "header":
            headers[parts[1]] = parts[2]
        elif parts[0] == "item":
            items.append(parts[1:])
    return threads, run_id, headers, items


def build_request(script: str, j: int, run_id: str, headers: dict, items: list[list[str]]):
    """The request number j of a scenario: what the Lua script of the same name sends."""
    item = items[j % len(items)]
    if script == "checkin.lua":  # item: path, token
        body = json.dumps(
            {
                "scans": [
                    {
                        "nonce": f"{run_id}-{j}",
                        "token": item[1],
                        "scanned_at": int(time.time()) * 1000,
                    }
                ]
            }
        )
        return "POST", item[0], {**headers, "Content-Type": "application/json"}, body
    if script == "signup.lua":  # item: path [, cookie, csrf]
        extra = {"Cookie": item[1], "X-CSRFToken": item[2]} if len(item) > 2 and item[1] else {}
        form = {**headers, **extra, "Content-Type": "application/x-www-form-urlencoded"}
        return "POST", item[0], form, ""
    if script == "get.lua":  # item: path
        return "GET", item[0], headers, None
    raise ValueError(script)


def python_load(script: str, base: str, datafile: Path, connections: int, seconds: float):
    """The fallback load generator: one thread per connection, a new connection per request
    (gunicorn's sync workers close it anyway), latencies recorded per request."""
    _threads, run_id, headers, items = _read_datafile(datafile)
    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    lock = threading.Lock()
    counter = iter(range(10**12))
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        while time.monotonic() < stop_at:
            with lock:
                j = next(counter)
            method, path, hdrs, body = build_request(script, j, run_id, headers, items)
            started = time.perf_counter()
            try:
                status, _h, _b = http_request(base, method, path, headers=hdrs, body=body)
            except TimeoutError:
                with lock:
                    errors["timeout"] += 1
                continue
            except OSError:
                with lock:
                    errors["read"] += 1
                continue
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if status >= 400:
                    errors["status"] += 1

    started = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    duration = time.monotonic() - started
    ordered = sorted(latencies) or [0.0]

    def pct(p: float) -> float:
        return ordered[min(int(len(ordered) * p / 100), len(ordered) - 1)] * 1000

    return LoadResult(
        tool="python-threads",
        requests=len(latencies),
        duration=duration,
        errors=errors,
        lat_mean_ms=statistics.fmean(ordered) * 1000,
        lat_p50_ms=pct(50),
        lat_p90_ms=pct(90),
        lat_p99_ms=pct(99),
        lat_max_ms=ordered[-1] * 1000,
    )
