"""Scheduled jobs on fixed clocks, idempotency, and one scheduler at a time."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import func, select

from tests.conftest import ROOT
from volunteer_app import jobs, signups
from volunteer_app.extensions import db
from volunteer_app.models import (
    Attendance,
    AuditLog,
    Notification,
    ScanMethod,
    Signup,
    SignupStatus,
    User,
)
from volunteer_app.timeutil import local_today, utcnow


def notifications(template: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.template == template)
    )


def test_two_hour_reminder_for_a_shift_starting_in_90_minutes_runs_once(make_event, make_volunteer):
    _event, shift = make_event(starts_in=timedelta(minutes=90))
    volunteer = make_volunteer()
    signups.sign_up(volunteer, shift, now=utcnow(), today=local_today())
    db.session.commit()
    now = utcnow()
    assert jobs.send_reminders(now) >= 1
    assert jobs.send_reminders(now + timedelta(minutes=1)) == 0  # idempotent
    db.session.commit()
    assert notifications("reminder_soon") >= 1
    row = db.session.scalar(
        select(Notification).where(
            Notification.template == "reminder_soon", Notification.channel == "in_app"
        )
    )
    assert row.user_id == volunteer.id and "开始" in row.body


def test_day_before_reminder_in_the_20_to_28_hour_window(make_event, make_volunteer):
    _event, shift = make_event(starts_in=timedelta(hours=24))
    volunteer = make_volunteer()
    signups.sign_up(volunteer, shift, now=utcnow(), today=local_today())
    db.session.commit()
    jobs.send_reminders(utcnow() - timedelta(hours=6))  # 30 h before: too early
    assert notifications("reminder_day") == 0
    jobs.send_reminders(utcnow())
    assert notifications("reminder_day") >= 1


def test_thanks_after_the_shift_with_credited_time(make_event, make_volunteer):
    _event, shift = make_event(starts_in=timedelta(hours=-4), hours=3, opens_days=None)
    volunteer = make_volunteer()
    signup = Signup(shift_id=shift.id, user_id=volunteer.id, status=SignupStatus.ATTENDED)
    db.session.add(signup)
    db.session.flush()
    db.session.add(
        Attendance(
            signup_id=signup.id,
            shift_id=shift.id,
            user_id=volunteer.id,
            checked_in_at=shift.starts_at,
            checked_out_at=shift.ends_at,
            in_method=ScanMethod.MANUAL,
        )
    )
    db.session.commit()
    jobs.send_reminders(utcnow())
    jobs.send_reminders(utcnow())
    db.session.commit()
    row = db.session.scalar(
        select(Notification).where(
            Notification.template == "thanks", Notification.channel == "in_app"
        )
    )
    assert "180" in row.body
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.template == "thanks", Notification.channel == "in_app")
        )
        == 1
    )


def test_no_shows_are_marked_once_check_in_has_closed(make_event, make_volunteer):
    _event, shift = make_event(starts_in=timedelta(hours=-5), hours=3, opens_days=None)
    volunteer = make_volunteer()
    db.session.add(Signup(shift_id=shift.id, user_id=volunteer.id, status=SignupStatus.CONFIRMED))
    shift.taken = 1
    db.session.commit()
    assert jobs.mark_no_shows(utcnow()) == 1
    assert jobs.mark_no_shows(utcnow()) == 0
    assert db.session.scalar(select(Signup)).status is SignupStatus.NO_SHOW


def test_waitlists_expire_when_the_shift_starts(make_event, make_volunteer):
    _event, shift = make_event(capacity=1, waitlist=3, starts_in=timedelta(minutes=30))
    for _ in range(3):
        signups.sign_up(make_volunteer(), shift, now=utcnow(), today=local_today())
    db.session.commit()
    assert jobs.expire_waitlists(utcnow()) == 0
    assert jobs.expire_waitlists(shift.starts_at + timedelta(minutes=1)) == 2
    assert jobs.expire_waitlists(shift.starts_at + timedelta(minutes=2)) == 0
    db.session.refresh(shift)
    assert shift.waitlisted == 0


def test_the_outbox_retries_failures_with_growing_back_off(app, make_user, monkeypatch):
    from volunteer_app.models import Channel
    from volunteer_app.services import notify

    user = make_user()
    row = notify.enqueue(
        "team_answer",
        channel=Channel.SMS,
        user=user,
        address=user.phone,
        payload={"team": "队", "approved": True},
    )
    db.session.commit()

    def broken(_row):
        raise OSError("gateway down")

    monkeypatch.setitem(notify.ADAPTERS, Channel.SMS, broken)
    now = utcnow()
    assert jobs.deliver_outbox(now) == 0
    db.session.refresh(row)
    first_retry = row.not_before
    assert row.attempts == 1 and row.last_error == "gateway down" and first_retry > now
    assert jobs.deliver_outbox(now) == 0  # not due yet: nothing tried
    db.session.refresh(row)
    assert row.attempts == 1
    jobs.deliver_outbox(first_retry)
    db.session.refresh(row)
    assert row.attempts == 2 and row.not_before - first_retry > first_retry - now
    monkeypatch.undo()
    assert jobs.deliver_outbox(row.not_before) == 1
    db.session.refresh(row)
    assert row.sent_at is not None


def test_audit_rows_younger_than_180_days_are_never_purged(app):
    now = utcnow()
    app.config["AUDIT_RETENTION_DAYS"] = 30  # asking for less is not honoured
    db.session.add_all(
        [
            AuditLog(action="old", at=now - timedelta(days=400)),
            AuditLog(action="young", at=now - timedelta(days=170)),
        ]
    )
    db.session.commit()
    assert jobs.purge_audit(now) == 1
    assert [a.action for a in db.session.scalars(select(AuditLog))] == ["young"]


def test_unclosed_attendance_is_closed_by_the_job(make_event, make_volunteer):
    _event, shift = make_event(starts_in=timedelta(hours=-5), hours=3, opens_days=None)
    volunteer = make_volunteer()
    signup = Signup(shift_id=shift.id, user_id=volunteer.id, status=SignupStatus.ATTENDED)
    db.session.add(signup)
    db.session.flush()
    db.session.add(
        Attendance(
            signup_id=signup.id,
            shift_id=shift.id,
            user_id=volunteer.id,
            checked_in_at=shift.starts_at,
            in_method=ScanMethod.MANUAL,
        )
    )
    db.session.commit()
    assert jobs.close_attendance(utcnow()) == 1
    assert jobs.close_attendance(utcnow()) == 0


def test_two_schedulers_started_together_run_the_jobs_once(app, database_url, tmp_path):
    """Two real `flask scheduler run` processes on the same database: one runs the jobs,
    the other stands by; every job-run row names the same process."""
    env = {
        **os.environ,
        "APP_CONFIG": "development",
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path),
        "DEV_TOOLS": "0",
    }
    command = [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "wsgi",
        "scheduler",
        "run",
        "--max-seconds",
        "8",
        "--scale",
        "0.02",
    ]
    db.session.commit()
    procs = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    from volunteer_app.models import JobRun

    db.session.commit()
    runs = db.session.scalars(select(JobRun)).all()
    assert runs, outputs
    owners = {r.result.rsplit("[", 1)[-1] for r in runs}
    assert len(owners) == 1, owners
    assert sum("standing by" in out for out in outputs) == 1
    assert all(r.ok for r in runs), [r.result for r in runs if not r.ok]
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
