"""Faults, and nothing lost: a locked database answers 503 "try again" and writes nothing,
the same request succeeds once the lock is gone; a PostgreSQL restart (every connection of
the app killed) is survived by the next request; a scanner batch refused while the
database was locked is applied exactly once when it is sent again.

The lock is held from a connection of its own: on SQLite a `BEGIN IMMEDIATE` on the same
file (the app waits SQLITE_BUSY_TIMEOUT = 1 s, then gives up); on PostgreSQL an
`ACCESS EXCLUSIVE` table lock, with the app's connections given a 1 s lock_timeout.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, func, select, text

from tests.conftest import csrf_token
from volunteer_app.extensions import db
from volunteer_app.models import (
    Attendance,
    AuditLog,
    Role,
    ScanLog,
    ShiftLead,
    Signup,
    SignupStatus,
)
from volunteer_app.services import qr
from volunteer_app.timeutil import utcnow

#: The tables a sign-up or a scan writes; the lock on PostgreSQL covers them.
LOCKED_TABLES = ("signups", "shifts", "scan_logs", "attendances", "audit_logs")


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _on_connect(sql: str) -> None:
    """Run `sql` on every new connection of the app's engine (existing ones are closed)."""
    engine = db.engine
    engine.dispose()

    @event.listens_for(engine, "connect")
    def _set(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(sql)
        cursor.close()
        dbapi_connection.commit()  # a SET inside a rolled-back transaction would be undone


@contextmanager
def locked() -> Iterator[None]:
    """Hold the database's write lock from another connection while the block runs."""
    db.session.commit()
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(url.database, isolation_level=None, timeout=5)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    _on_connect("SET lock_timeout = '1s'")
    engine = create_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            connection.execute(
                text(f"LOCK TABLE {', '.join(LOCKED_TABLES)} IN ACCESS EXCLUSIVE MODE")
            )
            try:
                yield
            finally:
                connection.rollback()
    finally:
        engine.dispose()


def report(capsys, line: str) -> None:
    with capsys.disabled():
        print(f"\nfaults: {line}")


# ---------------------------------------------------------------- (a) a locked database


@pytest.mark.config(SQLITE_BUSY_TIMEOUT=1)
def test_a_form_post_while_the_database_is_locked_gets_the_503_page_and_writes_nothing(
    app, make_event, make_volunteer, capsys
):
    _event, shift = make_event()
    volunteer = make_volunteer()
    client = app.test_client()
    from tests.conftest import Auth

    assert Auth(client).login(volunteer.phone).status_code == 302
    token = csrf_token(client, "/")
    url = f"/shifts/{shift.id}/signup"
    before = (count(Signup), count(AuditLog))

    with locked():
        busy = client.post(url, data={"csrf_token": token})
    page = busy.get_data(as_text=True)
    assert busy.status_code == 503, page[:500]
    assert "系统繁忙" in page and "请稍后重试" in page  # the "try again" page, in Chinese
    assert (count(Signup), count(AuditLog)) == before, "a refused request wrote something"

    again = client.post(url, data={"csrf_token": token})
    assert again.status_code == 302
    rows = db.session.scalars(select(Signup).where(Signup.shift_id == shift.id)).all()
    assert [(s.user_id, s.status) for s in rows] == [(volunteer.id, SignupStatus.CONFIRMED)]
    report(capsys, "write lock during a form POST: 1 injected, 503 then 302; rows lost: 0")


# ---------------------------------------------------------------- (b) PostgreSQL restarted


def test_the_next_request_survives_a_postgresql_restart(app, make_event, make_volunteer, capsys):
    """Every connection the app holds is killed between two requests (pool_pre_ping)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server to restart")
    # Our own connections only: the database may be shared with other test runs.
    name = f"faults-{uuid.uuid4().hex[:12]}"
    _on_connect(f"SET application_name = '{name}'")
    _event, shift = make_event()
    volunteer = make_volunteer()
    client = app.test_client()
    from tests.conftest import Auth

    assert Auth(client).login(volunteer.phone).status_code == 302
    token = csrf_token(client, "/")
    page, signup = f"/events/{shift.event_id}", f"/shifts/{shift.id}/signup"
    shift_id, volunteer_id = shift.id, volunteer.id
    assert client.get(page).status_code == 200
    db.session.commit()

    killer = create_engine(
        db.engine.url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    try:
        with killer.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND application_name = :name"
                ),
                {"name": name},
            ).scalar()
        # Killed means gone: pg_terminate_backend only signals the backend.
        with killer.connect() as connection:
            for _ in range(100):
                left = connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND application_name = :name"
                    ),
                    {"name": name},
                ).scalar()
                if not left:
                    break
                time.sleep(0.05)
    finally:
        killer.dispose()
    assert killed >= 1, "the app held no connection to kill"

    assert client.get(page).status_code == 200
    assert client.post(signup, data={"csrf_token": token}).status_code == 302
    assert count(Signup, Signup.shift_id == shift_id, Signup.user_id == volunteer_id) == 1
    report(capsys, f"PostgreSQL backends killed: {killed}; next GET 200, POST 302; rows lost: 0")


# ---------------------------------------------------------------- (c) the scanner keeps scans


@pytest.mark.config(SQLITE_BUSY_TIMEOUT=1)
def test_a_scan_batch_refused_while_locked_is_applied_once_when_sent_again(
    app, tree, make_event, make_volunteer, login_as, capsys
):
    _event, shift = make_event(starts_in=timedelta(minutes=10))
    client, lead = login_as(Role.LEAD, tree.community_a1)
    shift.leads.append(ShiftLead(user_id=lead.id))
    volunteers = [make_volunteer() for _ in range(3)]
    for volunteer in volunteers:
        db.session.add(
            Signup(shift_id=shift.id, user_id=volunteer.id, status=SignupStatus.CONFIRMED)
        )
    shift.taken = len(volunteers)
    db.session.commit()
    token = csrf_token(client, "/")
    now_ms = int(utcnow().timestamp() * 1000)
    batch = [
        {
            "nonce": uuid.uuid4().hex,
            "token": qr.volunteer_token(v.id, utcnow()),
            "scanned_at": now_ms,
            "offline": True,
        }
        for v in volunteers
    ]
    nonces = [item["nonce"] for item in batch]
    url = f"/api/v1/shifts/{shift.id}/scans"

    def send():
        return client.post(url, json={"scans": batch}, headers={"X-CSRFToken": token})

    with locked():
        busy = send()
    assert busy.status_code == 503, busy.get_data(as_text=True)[:300]
    assert busy.is_json and busy.get_json()["error"]["code"] == 503
    assert count(ScanLog) == 0 and count(Attendance) == 0

    synced = send()
    assert synced.status_code == 200
    results = synced.get_json()["results"]
    assert [r["nonce"] for r in results] == nonces
    assert all(r["ok"] and r["action"] == "in" and not r["replayed"] for r in results)

    replayed = send()
    assert replayed.status_code == 200
    assert all(r["replayed"] and r["ok"] for r in replayed.get_json()["results"])
    assert count(Attendance, Attendance.shift_id == shift.id) == len(volunteers)
    assert count(ScanLog, ScanLog.nonce.in_(nonces)) == len(nonces)
    lost = len(volunteers) - count(Attendance, Attendance.shift_id == shift.id)
    report(
        capsys,
        f"write lock during a scan batch: 1 injected, 503 then 200 (then replayed); "
        f"scans {len(batch)}, applied once each; rows lost: {lost}",
    )
