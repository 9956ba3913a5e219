"""SQLite runs in WAL with a busy timeout; concurrent writers queue instead of failing."""

from __future__ import annotations

import threading

from sqlalchemy import create_engine, text

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
