"""SQLite runs in WAL with a busy timeout; concurrent writers queue instead of failing."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from volunteer_app.extensions import db
from volunteer_app.models import LoginThrottle
from volunteer_app.services.database import _configure_sqlite, begin_write


def test_sqlite_uses_wal_busy_timeout_and_foreign_keys(app):
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_concurrent_read_then_write_transactions_all_succeed(app):
    """Each worker reads, then writes, in one transaction, 20 at once: on SQLite a
    deferred transaction would fail with "database is locked" on the upgrade; with
    begin_write every one waits its turn and the counter ends exact."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url)
    else:
        engine = create_engine(url, pool_size=25, max_overflow=0)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, busy_timeout=15)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO login_throttles (phone, failures) VALUES ('13700000009', 0)")
        )
    from sqlalchemy.orm import Session

    errors: list[Exception] = []
    barrier = threading.Barrier(20)

    def worker() -> None:
        try:
            with Session(engine) as session:
                barrier.wait()
                begin_write(session)
                row = session.get(LoginThrottle, "13700000009", with_for_update=True)
                row.failures = row.failures + 1
                session.commit()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as conn:
        total = conn.execute(
            text("SELECT failures FROM login_throttles WHERE phone = '13700000009'")
        ).scalar()
    engine.dispose()
    assert errors == []
    assert total == 20


def test_a_writer_waiting_past_the_fast_window_gets_the_lock_once_free_and_slows_its_tries(
    app, monkeypatch
):
    """SQLite: a writer whose lock is held longer than the first fast window (tries every
    0.05 ms) goes on waiting in longer pauses, and takes the lock once the holder commits,
    within the busy timeout; while it waits past the window its tries slow down instead of
    running at twenty thousand a second."""
    if db.engine.dialect.name != "sqlite":
        return
    import time

    from volunteer_app.services import database

    engine = create_engine(db.engine.url)
    _configure_sqlite(engine, busy_timeout=15)
    holder = engine.raw_connection()
    holder.driver_connection.isolation_level = None
    holder.driver_connection.execute("BEGIN IMMEDIATE")
    sleeps: list[float] = []
    real_sleep = time.sleep

    def counting_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(database.time, "sleep", counting_sleep)
    # The holder lets go after ten fast windows, counted in the waiter's own pauses (no
    # wall-clock assertion: a slow machine only makes the wait longer).
    released = threading.Event()

    def release_later() -> None:
        while sum(sleeps) < database.WRITE_LOCK_FAST_WINDOW * 10:
            real_sleep(0.001)
        holder.driver_connection.execute("COMMIT")
        released.set()

    releaser = threading.Thread(target=release_later)
    releaser.start()
    try:
        from sqlalchemy.orm import Session

        with Session(engine) as session:
            begin_write(session)
            assert released.is_set()
            session.execute(
                text("INSERT INTO login_throttles (phone, failures) VALUES ('13700000010', 1)")
            )
            session.commit()
    finally:
        releaser.join()
        holder.close()
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT failures FROM login_throttles WHERE phone = '13700000010'")
            ).scalar()
            == 1
        )
    engine.dispose()
    assert sleeps[0] == database.WRITE_LOCK_SHORT
    assert max(sleeps) == database.WRITE_LOCK_LONGEST
    # Past the window the pauses are the longest: far fewer tries than 0.05 ms apart.
    assert len(sleeps) < (database.WRITE_LOCK_FAST_WINDOW * 10) / database.WRITE_LOCK_SHORT / 2


def test_insert_now_stores_the_row_with_its_defaults_and_keeps_the_object_loaded(
    app, make_event, make_volunteer
):
    """One INSERT … RETURNING, the column defaults applied as a flush would, and the object
    persistent with every column loaded (reading it sends nothing); a second active sign-up
    of the same volunteer is refused by the unique index as a flush would refuse it."""
    import pytest
    from sqlalchemy import event, func, inspect, literal, select
    from sqlalchemy.exc import IntegrityError

    from volunteer_app.models import Signup, SignupStatus
    from volunteer_app.services.database import insert_now
    from volunteer_app.timeutil import utcnow

    _event, shift = make_event()
    volunteer, other = make_volunteer(), make_volunteer()
    db.session.commit()
    now = utcnow()
    shift_id, volunteer_id, other_id = shift.id, volunteer.id, other.id  # loaded again
    sent: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        signup = Signup(
            shift_id=shift_id, user_id=volunteer_id, status=SignupStatus.CONFIRMED, queued_at=now
        )
        insert_now(signup)
        assert inspect(signup).persistent and signup.id is not None
        assert (signup.over_capacity, signup.source, signup.promoted_at) == (False, "self", None)
        assert signup.created_at is not None and signup.queued_at == now
        assert signup.shift is shift  # from the identity map
        statements = [s for s in sent if not s.startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]
        assert len(statements) == 1 and statements[0].startswith("INSERT INTO signups")
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    db.session.commit()
    stored = db.session.execute(
        select(Signup.source, Signup.over_capacity, Signup.status).where(Signup.id == signup.id)
    ).one()
    assert tuple(stored) == ("self", False, SignupStatus.CONFIRMED)
    # With a unique column named: a row holding its value already means nothing written.
    from volunteer_app.models import Attendance, ScanMethod

    def attendance() -> Attendance:
        return Attendance(
            signup_id=signup.id,
            shift_id=shift_id,
            user_id=volunteer_id,
            checked_in_at=now,
            in_method=ScanMethod.SCANNER,
        )

    first, second = attendance(), attendance()
    assert tuple(insert_now(first, unless_taken="signup_id")) == (first.id,)
    assert first.auto_closed is False and first.checked_out_at is None
    assert insert_now(second, unless_taken="signup_id") is None
    assert inspect(second).transient
    db.session.commit()
    count = db.session.scalar(
        select(func.count()).select_from(Attendance).where(Attendance.signup_id == signup.id)
    )
    assert count == 1
    # Values read by the same statement come after the id (RETURNING).
    third = Signup(shift_id=shift_id, user_id=other_id, status=SignupStatus.WAITLISTED)
    row = insert_now(third, returning=(Signup.__table__.c.queued_at, literal(7)))
    assert tuple(row) == (third.id, third.queued_at, 7)
    twin = Signup(shift_id=shift_id, user_id=volunteer_id, status=SignupStatus.CONFIRMED)
    with pytest.raises(IntegrityError):
        insert_now(twin)
    db.session.rollback()


def test_write_from_here_changes_nothing_outside_a_view_marked_locks_late(app, make_event):
    """A job, a test or a view locked from its start: `write_from_here` leaves its
    transaction as it is (objects, pending changes, the lock it holds or not)."""
    from volunteer_app.services.database import write_from_here

    _event, shift = make_event()
    shift.post = "changed, not committed"
    write_from_here()
    db.session.rollback()
    db.session.refresh(shift)
    assert shift.post != "changed, not committed"
    with app.test_request_context("/", method="POST"):
        shift.post = "changed in a request, not committed"
        write_from_here()  # the request's view is not marked: nothing is committed
        db.session.rollback()
        db.session.refresh(shift)
        assert shift.post != "changed in a request, not committed"


def test_write_from_here_ends_the_read_snapshot_and_takes_the_write_lock_keeping_objects(
    app, make_event
):
    """A view marked locks_late on SQLite: its reads ran in a read transaction; where its
    writes begin, that snapshot ends (a row another writer committed meanwhile is seen),
    the write lock is held (another writer must wait) and the objects read stay loaded."""
    if db.engine.dialect.name != "sqlite":
        return
    from flask import g
    from sqlalchemy import inspect

    from volunteer_app.services.database import write_from_here

    _event, shift = make_event()
    db.session.commit()
    other = create_engine(db.engine.url)
    _configure_sqlite(other, busy_timeout=0)
    try:
        with app.test_request_context("/", method="POST"):
            g.write_lock_deferred = True
            before = db.session.scalar(text("SELECT count(*) FROM login_throttles"))
            assert db.session().in_transaction()
            with other.begin() as conn:  # committed after this request's snapshot began
                conn.execute(
                    text(
                        "INSERT INTO login_throttles (phone, failures) "
                        "VALUES ('13700000031', 0)"
                    )
                )
            loaded = db.session.get(type(shift), shift.id)
            write_from_here()
            assert not inspect(loaded).expired
            assert db.session.scalar(text("SELECT count(*) FROM login_throttles")) == before + 1
            with pytest.raises(OperationalError), other.connect() as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # the lock is this request's
            db.session.execute(
                text("INSERT INTO login_throttles (phone, failures) VALUES ('13700000032', 0)")
            )
            db.session.commit()
        with other.connect() as conn:
            phones = conn.execute(
                text("SELECT phone FROM login_throttles WHERE phone LIKE '1370000003_'")
            ).scalars().all()
        assert sorted(phones) == ["13700000031", "13700000032"]
    finally:
        other.dispose()


def test_a_quiet_pooled_postgresql_connection_is_not_pinged_and_an_ended_one_is(app):
    """pool_pre_ping sends its SELECT 1 only when the server has said something on an idle
    connection (it ended it): a quiet one is handed out at once, an ended one is found and
    replaced before any request uses it."""
    if db.engine.dialect.name != "postgresql":
        return
    engine = create_engine(db.engine.url, pool_size=1, max_overflow=0, pool_pre_ping=True)
    from volunteer_app.services.database import _quiet_ping

    _quiet_ping(engine)
    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        cursors: list[int] = []
        real_cursor = raw.cursor

        def counted_cursor(*args, **kwargs):
            cursors.append(1)
            return real_cursor(*args, **kwargs)

        raw.cursor = counted_cursor
        with engine.connect() as conn:
            assert conn.connection.dbapi_connection is raw
            assert conn.execute(text("SELECT 1")).scalar() == 1
        assert len(cursors) == 1, "a quiet connection was pinged"

        killer = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
        try:
            with killer.connect() as conn:
                assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
                for _ in range(100):
                    if not conn.execute(
                        text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
                    ).scalar():
                        break
                    time.sleep(0.05)
        finally:
            killer.dispose()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
            assert conn.connection.dbapi_connection is not raw
        assert len(cursors) == 2, "the ended connection was not pinged"
    finally:
        engine.dispose()
