"""The one scheduler process (`flask --app wsgi scheduler run`): APScheduler 3 with a
database job store, guarded so that a second process started by mistake stands by instead
of running the jobs again — a PostgreSQL advisory lock, or a lock row with a heartbeat on
SQLite. Every job is idempotent as well."""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import OperationalError

from .extensions import db
from .models import JobRun, SchedulerLock
from .services.database import begin_write
from .timeutil import utcnow

log = logging.getLogger("volunteer_app.scheduler")

LOCK_NAME = "scheduler"
ADVISORY_KEY = 0x766F6C73  # "vols"
STALE_AFTER = timedelta(seconds=90)
HEARTBEAT_SECONDS = 20

_app: Flask | None = None


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# ---------------------------------------------------------------- the lock


def try_lock_sqlite(owner: str, now: datetime, stale_after: timedelta = STALE_AFTER) -> bool:
    """Take (or keep) the lock row if it is free, ours, or its holder stopped beating."""
    begin_write()
    row = db.session.get(SchedulerLock, LOCK_NAME)
    if row is None:
        db.session.add(SchedulerLock(name=LOCK_NAME, owner=owner, heartbeat_at=now))
    elif row.owner == owner or row.heartbeat_at < now - stale_after:
        row.owner, row.heartbeat_at = owner, now
    else:
        db.session.rollback()
        return False
    db.session.commit()
    return True


def still_ours_sqlite(owner: str, now: datetime) -> bool:
    """Refresh the heartbeat; false when another process has taken the lock."""
    begin_write()
    row = db.session.get(SchedulerLock, LOCK_NAME)
    if row is None or row.owner != owner:
        db.session.rollback()
        return False
    row.heartbeat_at = now
    db.session.commit()
    return True


def try_lock_postgres(connection: Connection) -> bool:
    """A session-level advisory lock, held for as long as the connection lives."""
    return bool(
        connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
    )


# ---------------------------------------------------------------- running jobs


def run_job(name: str) -> None:
    """Run one job in its own app context and transaction, and record the outcome."""
    from .jobs import JOBS

    assert _app is not None, "the scheduler sets the app before starting"
    with _app.app_context():
        started = utcnow()
        try:
            if db.engine.dialect.name == "sqlite":
                if not still_ours_sqlite(owner_id(), started):
                    log.error("lost the scheduler lock; stopping")
                    os._exit(3)
                begin_write()
            result = JOBS[name](started)
            db.session.add(
                JobRun(
                    job=name,
                    started_at=started,
                    finished_at=utcnow(),
                    ok=True,
                    result=f"{result} [{owner_id()}]",
                )
            )
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            log.exception("job %s failed", name)
            db.session.add(
                JobRun(
                    job=name,
                    started_at=started,
                    finished_at=utcnow(),
                    ok=False,
                    result=f"{type(error).__name__}: {error}"[:500],
                )
            )
            db.session.commit()
        finally:
            db.session.remove()


def heartbeat() -> None:
    assert _app is not None
    with _app.app_context():
        if not still_ours_sqlite(owner_id(), utcnow()):
            log.error("lost the scheduler lock; stopping")
            os._exit(3)
        db.session.remove()


def build(app: Flask, *, scale: float = 1.0) -> BlockingScheduler:
    """The scheduler with every job (intervals multiplied by `scale`, for tests)."""
    from .jobs import INTERVALS

    global _app
    _app = app
    with app.app_context():
        engine = db.engine
    scheduler = BlockingScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs"),
            "memory": MemoryJobStore(),  # this process's own timers, never shared
        },
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    first = datetime.now(UTC) + timedelta(seconds=2)
    for name, seconds in INTERVALS.items():
        scheduler.add_job(
            run_job,
            "interval",
            seconds=max(seconds * scale, 1),
            args=[name],
            id=name,
            name=name,
            replace_existing=True,
            next_run_time=first,
        )
    if engine.dialect.name == "sqlite":
        every = min(HEARTBEAT_SECONDS, max(_lease(app).total_seconds() / 4, 0.5))
        scheduler.add_job(
            heartbeat, "interval", seconds=every, id="heartbeat", replace_existing=True
        )
    return scheduler


def _ensure_job_table(engine: Engine, attempts: int = 5) -> None:
    """Create APScheduler's table before starting, retrying while another process (the
    standby scheduler, a migration) briefly holds SQLite's write lock."""
    store = SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")
    for attempt in range(attempts):
        try:
            store.jobs_t.create(engine, checkfirst=True)
            return
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(1 + attempt)


def _lease(app: Flask) -> timedelta:
    """How long a silent SQLite lock holder keeps the lock (SCHEDULER_LEASE_SECONDS)."""
    return timedelta(seconds=float(app.config.get("SCHEDULER_LEASE_SECONDS") or 90))


def run(
    app: Flask, *, max_seconds: float | None = None, scale: float = 1.0, poll_seconds: float = 10
) -> None:
    """Wait for the lock (standing by while another scheduler holds it), then run."""
    owner = owner_id()
    deadline = time.monotonic() + max_seconds if max_seconds else None
    with app.app_context():
        engine = db.engine
    pg_connection = engine.connect() if engine.dialect.name == "postgresql" else None
    try:
        while True:
            with app.app_context():
                if pg_connection is not None:
                    got = try_lock_postgres(pg_connection)
                    pg_connection.commit()
                else:
                    got = try_lock_sqlite(owner, utcnow(), _lease(app))
                db.session.remove()
            if got:
                break
            log.warning("another scheduler holds the lock; standing by")
            if deadline and time.monotonic() + poll_seconds > deadline:
                return
            time.sleep(poll_seconds)
        log.info("scheduler %s running", owner)
        _ensure_job_table(engine)
        scheduler = build(app, scale=scale)
        if deadline:
            remaining = max(deadline - time.monotonic(), 0.1)
            scheduler.add_job(
                scheduler.shutdown,
                "date",
                kwargs={"wait": False},
                run_date=datetime.now(UTC) + timedelta(seconds=remaining),
                id="stop",
                replace_existing=True,
                jobstore="memory",
            )
        scheduler.start()
    finally:
        if pg_connection is not None:
            pg_connection.close()
        elif engine.dialect.name == "sqlite":
            with app.app_context():
                begin_write()
                row = db.session.get(SchedulerLock, LOCK_NAME)
                if row is not None and row.owner == owner:
                    db.session.delete(row)
                db.session.commit()
                db.session.remove()


def status(app: Flask) -> list[dict]:
    """Each job's next run (from the job store) and its last result."""
    from .jobs import INTERVALS

    with app.app_context():
        store = SQLAlchemyJobStore(engine=db.engine, tablename="apscheduler_jobs")
        store.start(None, "default")  # type: ignore[arg-type]
        next_runs = {job.id: job.next_run_time for job in store.get_all_jobs()}
        rows = []
        for name in INTERVALS:
            last = db.session.scalar(
                select(JobRun).where(JobRun.job == name).order_by(JobRun.id.desc()).limit(1)
            )
            rows.append(
                {
                    "job": name,
                    "every_seconds": INTERVALS[name],
                    "next_run": next_runs.get(name),
                    "last_run": last.started_at if last else None,
                    "last_ok": last.ok if last else None,
                    "last_result": last.result if last else "",
                }
            )
        holder = db.session.get(SchedulerLock, LOCK_NAME)
        rows.append(
            {
                "job": "(lock)",
                "holder": holder.owner if holder else None,
                "heartbeat": holder.heartbeat_at if holder else None,
            }
        )
        return rows
