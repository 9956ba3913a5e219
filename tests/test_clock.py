"""The app's clock: movable for tests (VOLUNTEER_CLOCK), shared with every process it starts.

`make test` runs the tests marked `dated` again on six moved clocks (a Friday 23:30 in
Qingdao, a Friday 23:30 UTC — already Saturday morning in Qingdao —, a Saturday, a Sunday
evening, the last evening of a month and of the year); see the Makefile's DATES.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest

from volunteer_app import timeutil
from volunteer_app.services import listing

NOW = datetime(2026, 12, 5, 1, 0, tzinfo=UTC).timestamp()


def test_a_moved_clock_starts_at_the_instant_given_and_ticks():
    offset, anchored = timeutil.parse_clock("2026-12-04T23:30:00+08:00", real_now=NOW)
    assert datetime.fromtimestamp(NOW, UTC) + offset == datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
    # A child process reads the anchored form later, and stands where the parent stands.
    later, _ = timeutil.parse_clock(anchored, real_now=NOW + 30)
    assert later == offset


def test_a_clock_without_a_zone_is_qingdao_local_time():
    offset, _ = timeutil.parse_clock("2026-12-31T23:30", real_now=NOW)
    local = (datetime.fromtimestamp(NOW, UTC) + offset).astimezone(timeutil.LOCAL_TZ)
    assert (local.date(), local.hour, local.minute) == (date(2026, 12, 31), 23, 30)


def test_utcnow_and_local_today_follow_the_moved_clock(monkeypatch):
    target = datetime(2026, 12, 31, 15, 45, tzinfo=UTC)  # 23:45 on 31 December in Qingdao
    monkeypatch.setattr(timeutil, "OFFSET", target - datetime.now(UTC))
    assert abs(timeutil.utcnow() - target.replace(tzinfo=None)) < timedelta(seconds=5)
    assert timeutil.local_today() == date(2026, 12, 31)
    assert timeutil.clock_shifted()


def test_a_server_started_by_the_suite_shares_its_clock():
    """What the live-server and gunicorn fixtures rely on: the environment carries the
    anchored clock, so a process started later reads the same time."""
    env = {**os.environ, timeutil.CLOCK_ENV: "2027-02-28T23:59:00+08:00"}
    code = (
        "from volunteer_app import timeutil; import os;"
        "print(timeutil.local_now().strftime('%Y-%m-%dT%H:%M'));"
        "print(os.environ['VOLUNTEER_CLOCK'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    shown, anchored = out.stdout.split()
    assert shown in ("2027-02-28T23:59", "2027-03-01T00:00")
    env[timeutil.CLOCK_ENV] = anchored
    again = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert again.stdout.split()[1] == anchored


@pytest.mark.parametrize(
    ("today", "when", "first", "last"),
    [
        (date(2026, 12, 4), "week", date(2026, 12, 4), date(2026, 12, 6)),  # a Friday
        (date(2026, 12, 5), "week", date(2026, 12, 5), date(2026, 12, 6)),  # a Saturday
        (date(2026, 12, 6), "week", date(2026, 12, 6), date(2026, 12, 6)),  # a Sunday
        (date(2026, 12, 4), "weekend", date(2026, 12, 5), date(2026, 12, 6)),
        (date(2026, 12, 6), "weekend", date(2026, 12, 6), date(2026, 12, 6)),
        (date(2026, 12, 31), "today", date(2026, 12, 31), date(2026, 12, 31)),
    ],
)
def test_the_event_list_windows_end_on_sunday_whatever_the_day(today, when, first, last):
    start, end = listing._window(when, today)
    assert timeutil.to_local(start).date() == first
    assert timeutil.to_local(end - timedelta(seconds=1)).date() == last


def test_every_dated_test_named_still_exists():
    """tests/dated.py names tests by hand: a renamed test must not drop out of the
    moved-clock runs unnoticed."""
    import ast
    from pathlib import Path

    from tests.dated import DATED

    here = Path(__file__).parent
    for module, names in DATED.items():
        tree = ast.parse((here / f"{module}.py").read_text(encoding="utf-8"))
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        missing = [n for n in names if n != "*" and n not in defined]
        assert not missing, f"tests/dated.py names tests that {module}.py no longer has: {missing}"
