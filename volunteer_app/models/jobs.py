"""Scheduler bookkeeping: the lock that keeps one scheduler running, and job results."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow


class SchedulerLock(db.Model):
    """On SQLite, the scheduler that holds this row (and keeps its heartbeat fresh) runs the
    jobs; on PostgreSQL an advisory lock does the same and this row is informational."""

    __tablename__ = "scheduler_locks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobRun(db.Model):
    """The outcome of each job run, for `flask scheduler status` and the admin."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(60), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    ok: Mapped[bool] = mapped_column(default=False)
    result: Mapped[str] = mapped_column(String(500), default="")
