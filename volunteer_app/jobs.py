"""Scheduled jobs. Each takes the current time and is idempotent: running it twice (or
two schedulers by mistake) changes nothing more than running it once."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, select

from . import checkin, signups
from .extensions import db
from .models import (
    Attendance,
    AuditLog,
    DeliveryStatus,
    Notification,
    ScanLog,
    Shift,
    Signup,
    SignupStatus,
)
from .services import channels, notify
from .timeutil import to_local

#: Job name -> seconds between runs (the scheduler's intervals; tests call the functions).
INTERVALS = {
    "send_reminders": 60,
    "deliver_outbox": 30,
    "close_attendance": 300,
    "mark_no_shows": 600,
    "expire_waitlists": 300,
    "purge_audit": 24 * 3600,
    "backup_sqlite": 24 * 3600,
}


# ---------------------------------------------------------------- reminders
# Their texts are in services/notify_templates.py.


def _fmt(moment: datetime) -> str:
    return to_local(moment).strftime("%m-%d %H:%M")


def _send(
    template: str, signup: Signup, payload: dict, key: str, now: datetime, urgent: bool = False
) -> int:
    """In-app, plus SMS / e-mail by the volunteer's preferences; once per key."""
    rows = notify.fan_out(template, signup.user, payload, dedupe_key=key, now=now, urgent=urgent)
    return len(rows)


def send_reminders(now: datetime) -> int:
    """The day before (20–28 hours ahead), two hours before, and after the shift; links
    are absolute (PUBLIC_BASE_URL)."""
    sent = 0
    upcoming = db.session.execute(
        select(Signup, Shift)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(
            Signup.status == SignupStatus.CONFIRMED,
            Shift.cancelled.is_(False),
            Shift.starts_at > now,
            Shift.starts_at <= now + timedelta(hours=28),
        )
    ).all()
    for signup, shift in upcoming:
        payload = {
            "event": shift.event.title,
            "post": shift.post,
            "time": _fmt(shift.starts_at),
            "place": shift.event.address,
            "url": notify.link("/my/shifts"),
        }
        if shift.starts_at <= now + timedelta(hours=2):
            sent += _send(
                "reminder_soon", signup, payload, f"reminder-soon:{signup.id}", now, urgent=True
            )
        elif shift.starts_at > now + timedelta(hours=20):
            sent += _send("reminder_day", signup, payload, f"reminder-day:{signup.id}", now)
    finished = db.session.execute(
        select(Signup, Shift, Attendance)
        .join(Shift, Shift.id == Signup.shift_id)
        .join(Attendance, Attendance.signup_id == Signup.id)
        .where(
            Signup.status == SignupStatus.ATTENDED,
            Shift.ends_at <= now,
            Shift.ends_at > now - timedelta(hours=24),
            Attendance.checked_out_at.is_not(None),
        )
    ).all()
    grace = current_app.config.get("CREDIT_GRACE_MINUTES", 0)
    for signup, shift, attendance in finished:
        minutes = checkin.credited_minutes(
            attendance.checked_in_at,
            attendance.checked_out_at,
            shift.starts_at,
            shift.ends_at,
            grace,
        )
        payload = {"event": shift.event.title, "minutes": minutes, "url": notify.link("/my/hours")}
        sent += _send("thanks", signup, payload, f"thanks:{signup.id}", now)
    return sent


# ---------------------------------------------------------------- sites and sign-ups


def close_attendance(now: datetime) -> int:
    """Close attendances nobody closed, at the shift end, flagged for the lead."""
    return checkin.close_unclosed(now)


def mark_no_shows(now: datetime) -> int:
    """Sign-ups never checked in become no-shows once check-in has closed."""
    count = 0
    for shift in db.session.scalars(
        select(Shift).where(
            Shift.cancelled.is_(False),
            Shift.ends_at < now,
            Shift.ends_at > now - timedelta(days=7),
        )
    ):
        if checkin.window(shift)[1] < now:
            count += checkin.mark_no_shows(shift, now=now)
    return count


def expire_waitlists(now: datetime) -> int:
    """When a shift starts, whoever is still waiting is told the shift is full after all."""
    return signups.expire_waitlists(now)


# ---------------------------------------------------------------- outbox and housekeeping


def deliver_outbox(now: datetime, *, batch: int = 200) -> int:
    """Send what is due; a failure is retried later with growing back-off (the channels'
    policy), up to MAX_ATTEMPTS tries, after which the row is marked failed with its last
    error (notify.deliver keeps each row's status)."""
    ids = list(
        db.session.scalars(
            select(Notification.id)
            .where(
                Notification.sent_at.is_(None),
                Notification.status.in_((DeliveryStatus.QUEUED, DeliveryStatus.RETRYING)),
                Notification.not_before <= now,
                Notification.attempts < channels.MAX_ATTEMPTS,
            )
            .order_by(Notification.not_before, Notification.id)
            .limit(batch)
        )
    )
    if not ids:
        return 0
    sent = notify.deliver(ids, now=now)
    db.session.commit()  # what went out is kept even if recording the run fails
    return sent


def purge_audit(now: datetime) -> int:
    """Delete audit rows older than the retention, which is never under 180 days."""
    days = max(int(current_app.config.get("AUDIT_RETENTION_DAYS", 365)), 180)
    cutoff = now - timedelta(days=days)
    result = db.session.execute(delete(AuditLog).where(AuditLog.at < cutoff))
    scans = db.session.execute(delete(ScanLog).where(ScanLog.at < cutoff))
    return (result.rowcount or 0) + (scans.rowcount or 0)


def backup_sqlite(now: datetime) -> int:
    """A nightly copy of the SQLite database into instance/backups (kept 14 days)."""
    engine = db.engine
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return 0
    folder = Path(current_app.instance_path) / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"volunteer-{to_local(now):%Y%m%d}.db"
    if target.exists():
        return 0
    source = sqlite3.connect(engine.url.database)
    copy = sqlite3.connect(str(target) + ".part")
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    Path(str(target) + ".part").chmod(0o600)  # it holds personal data
    Path(str(target) + ".part").rename(target)
    for old in sorted(folder.glob("volunteer-*.db"))[:-14]:
        old.unlink()
    return 1


JOBS = {
    "send_reminders": send_reminders,
    "deliver_outbox": deliver_outbox,
    "close_attendance": close_attendance,
    "mark_no_shows": mark_no_shows,
    "expire_waitlists": expire_waitlists,
    "purge_audit": purge_audit,
    "backup_sqlite": backup_sqlite,
}
