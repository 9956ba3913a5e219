"""Time helpers: the database stores naive UTC; people see Asia/Shanghai.

Every "now" and "today" in the app comes from here, so the whole app (and every process it
starts: gunicorn workers, the scheduler, the test suite's servers) can be run as if it were
another moment: `VOLUNTEER_CLOCK=2026-12-04T23:30:00+08:00` starts the clock at that instant and
lets it tick. The suite uses it to prove that no rule depends on the weekday, the month
boundary or the local/UTC date (tests/test_clock.py, `make test`). Production refuses it.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
CLOCK_ENV = "VOLUNTEER_CLOCK"


def parse_clock(value: str, *, real_now: float) -> tuple[timedelta, str]:
    """`INSTANT` or `INSTANT@EPOCH` → the offset to add to the real time, and the anchored form.

    The anchored form (the real epoch second at which the clock stood at INSTANT) is what
    child processes inherit, so that a server started later shares the parent's clock."""
    instant_text, _, anchor_text = value.partition("@")
    instant = datetime.fromisoformat(instant_text.strip())
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=LOCAL_TZ)
    anchor = float(anchor_text) if anchor_text else real_now
    offset = instant - datetime.fromtimestamp(anchor, UTC)
    return offset, f"{instant.isoformat()}@{anchor:.3f}"


def _offset_from_environment() -> timedelta:
    value = os.environ.get(CLOCK_ENV, "").strip()
    if not value:
        return timedelta(0)
    offset, anchored = parse_clock(value, real_now=time.time())
    os.environ[CLOCK_ENV] = anchored  # children keep the same clock
    return offset


#: How far the app's clock stands from the real one (zero unless VOLUNTEER_CLOCK is set).
OFFSET = _offset_from_environment()


def clock_shifted() -> bool:
    """Whether VOLUNTEER_CLOCK moved the clock (production refuses to start then)."""
    return bool(OFFSET)


def utcnow() -> datetime:
    """The current time as naive UTC, the form every column stores."""
    return (datetime.now(UTC) + OFFSET).replace(tzinfo=None)


def to_local(value: datetime) -> datetime:
    """A stored naive-UTC time as an aware Asia/Shanghai time."""
    return value.replace(tzinfo=UTC).astimezone(LOCAL_TZ)


def from_local(value: datetime) -> datetime:
    """A naive local (Asia/Shanghai) time, as typed by a person, to naive UTC."""
    return value.replace(tzinfo=LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)


def local_now() -> datetime:
    """The current time in Asia/Shanghai, aware."""
    return (datetime.now(UTC) + OFFSET).astimezone(LOCAL_TZ)


def local_today() -> date:
    """Today's date in Asia/Shanghai."""
    return local_now().date()
