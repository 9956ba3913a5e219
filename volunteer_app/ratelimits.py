"""Rate limits shared by every worker and host (Redis), failing open when Redis is down.

The login, registration and SMS-code forms are limited twice: per client address, with
limits generous enough for a registration drive behind one community hall's NAT, and per
phone number (where the request names one), tight enough that nobody can hammer one
account or one number. When the limiter's storage does not answer, Flask-Limiter falls back
to per-process memory limits (`RATELIMIT_IN_MEMORY_FALLBACK_ENABLED`) and, for any other
storage error, lets the request through (`RATELIMIT_SWALLOW_ERRORS`); every such event is
logged here and counted (`storage_failures()`), and the app keeps serving.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
import threading
from collections.abc import Mapping

from flask import Flask, current_app, request, session

log = logging.getLogger("volunteer_app.ratelimits")

_lock = threading.Lock()
_failures = 0


def storage_failures() -> int:
    """How many times this process found the limiter's storage unusable (and failed open)."""
    return _failures


class _FailureCounter(logging.Handler):
    """Counts Flask-Limiter's own reports of an unreachable storage or a swallowed error."""

    def emit(self, record: logging.LogRecord) -> None:
        global _failures
        if record.levelno < logging.WARNING:
            return
        message = record.getMessage()
        if "unreachable" not in message and "Swallowing" not in message:
            return
        with _lock:
            _failures += 1
            count = _failures
        log.warning(
            "rate-limit storage unavailable (%s); serving without the shared limits "
            "(failures in this process: %d)",
            message,
            count,
        )


_counter = _FailureCounter()


def configure(app: Flask) -> None:
    """Before `limiter.init_app`: short Redis timeouts, so a dead Redis costs milliseconds,
    and the failure counter on Flask-Limiter's logger."""
    uri = app.config.get("RATELIMIT_STORAGE_URI") or ""
    if uri.startswith(("redis://", "rediss://", "redis+")):
        timeout = float(app.config.get("RATELIMIT_REDIS_TIMEOUT", 0.5))
        options = dict(app.config.get("RATELIMIT_STORAGE_OPTIONS") or {})
        options.setdefault("socket_connect_timeout", timeout)
        options.setdefault("socket_timeout", timeout)
        app.config["RATELIMIT_STORAGE_OPTIONS"] = options
    limiter_log = logging.getLogger("flask-limiter")
    if _counter not in limiter_log.handlers:
        limiter_log.addHandler(_counter)


# ---------------------------------------------------------------- keys and limits


def client_key() -> str:
    """The client address (after ProxyFix, the address the proxy saw)."""
    return f"ip:{request.remote_addr or '-'}"


def _phone_or_client(phone: str | None) -> str:
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())[-11:]
    # Without a phone the limit falls back to the address, so it is never skipped.
    return f"phone:{digits}" if len(digits) == 11 else f"phone-less:{client_key()}"


def form_phone_key() -> str:
    """The phone number the form names (login, asking for a code)."""
    return _phone_or_client(request.form.get("phone"))


def session_phone_key(name: str):
    """A key function reading the phone kept in the session by step one (code checks)."""

    def key() -> str:
        return _phone_or_client(session.get(name))

    return key


def limit(name: str):
    """The configured limit string named `name` (read per request, so tests may change it)."""
    return lambda: current_app.config[name]


# ---------------------------------------------------------------- production guard


def _gunicorn_workers(argv: list[str], environ: Mapping[str, str]) -> int:
    """Workers asked of gunicorn on its command line or in GUNICORN_CMD_ARGS (0: unknown)."""
    args = shlex.split(environ.get("GUNICORN_CMD_ARGS", ""))
    if argv and "gunicorn" in os.path.basename(argv[0]):
        args += argv[1:]
    elif len(argv) > 2 and argv[1:3] == ["-m", "gunicorn"]:
        args += argv[3:]
    workers = 0
    for index, arg in enumerate(args):
        value = None
        if arg in ("-w", "--workers") and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("--workers="):
            value = arg.split("=", 1)[1]
        elif arg.startswith("-w") and arg[2:].isdigit():
            value = arg[2:]
        if value and value.isdigit():
            workers = int(value)
    return workers


def declared_workers(config: Mapping, argv: list[str] | None = None, environ=None) -> int:
    """The number of processes serving the app, as far as this process can tell: the
    explicit WEB_CONCURRENCY setting, or gunicorn's --workers."""
    environ = os.environ if environ is None else environ
    argv = sys.argv if argv is None else argv
    explicit = int(config.get("WEB_CONCURRENCY") or 0)
    return max(explicit, _gunicorn_workers(argv, environ), 1)


def production_problems(config: Mapping, argv: list[str] | None = None, environ=None) -> list[str]:
    """Why these limiter settings are unsafe for production (empty: they are fine)."""
    if not config.get("RATELIMIT_ENABLED"):
        return []
    uri = (config.get("RATELIMIT_STORAGE_URI") or "memory://").strip()
    if not uri.startswith("memory://") or config.get("RATELIMIT_ALLOW_MEMORY"):
        return []
    workers = declared_workers(config, argv, environ)
    if workers <= 1:
        return []
    return [
        f"RATELIMIT_STORAGE_URI is memory:// with {workers} workers: each worker would keep "
        "its own counts, so every limit is multiplied by the number of workers; set "
        "RATELIMIT_STORAGE_URI=redis://host:6379/0 (or RATELIMIT_ALLOW_MEMORY=1 to accept it)"
    ]
