"""Check-in rules: signed tokens, idempotency (nonce and one attendance per sign-up, also
under concurrency), check-out, credited time, scope, auto-close and no-shows."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from volunteer_app import checkin, signups
from volunteer_app.extensions import db
from volunteer_app.models import (
    Attendance,
    Role,
    ScanLog,
    ScanMethod,
    ShiftLead,
    Signup,
    SignupStatus,
    User,
    VolunteerCard,
)
from volunteer_app.services import qr
from volunteer_app.services.database import begin_write
from volunteer_app.timeutil import local_today, utcnow


@pytest.fixture
def site(make_event, make_volunteer, make_user, tree):
    """An open shift (starting in 10 minutes) with a lead and three signed-up volunteers."""
    _event, shift = make_event(capacity=5, waitlist=2, starts_in=timedelta(minutes=10))
    lead = make_user(Role.LEAD, tree.community_a1)
    shift.leads.append(ShiftLead(user_id=lead.id))
    volunteers = [make_volunteer() for _ in range(3)]
    for v in volunteers:
        signups.sign_up(v, shift, now=utcnow(), today=local_today())
    db.session.commit()
    return shift, lead, volunteers


def attendances(shift_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Attendance).where(Attendance.shift_id == shift_id)
    )


# ---------------------------------------------------------------- tokens


def test_a_volunteer_token_is_accepted_in_its_window_and_the_previous_one(app):
    now = datetime(2026, 11, 27, 8, 0, 10)
    token = qr.volunteer_token(42, now)
    assert qr.decode(token, now) == qr.Decoded("volunteer", 42)
    assert qr.decode(token, now + timedelta(seconds=qr.ROTATE)).problem == ""
    assert qr.decode(token, now + timedelta(seconds=2 * qr.ROTATE + 1)).problem == "expired"


def test_a_tampered_token_is_refused(app):
    now = utcnow()
    token = qr.volunteer_token(42, now)
    body, sig = token.rsplit(".", 1)
    other = qr.volunteer_token(43, now)
    assert qr.decode(other.rsplit(".", 1)[0] + "." + sig, now).problem == "tampered"
    assert qr.decode(body + ".AAAAAAAAAAAAAAAA", now).problem == "tampered"
    assert qr.decode("not a token", now).problem == "malformed"
    assert qr.decode("", now).problem == "malformed"


def test_an_old_screenshot_does_not_check_in(site):
    shift, lead, (volunteer, *_) = site
    stale = qr.volunteer_token(volunteer.id, utcnow() - timedelta(minutes=5))
    result = checkin.scan(lead, token=stale, now=utcnow())
    assert (result.ok, result.code) == (False, "expired")
    assert attendances(shift.id) == 0


def test_a_revoked_card_stops_working_at_once(site):
    _shift, lead, (volunteer, *_) = site
    card = VolunteerCard(user_id=volunteer.id)
    db.session.add(card)
    db.session.commit()
    token = qr.card_token(card.id)
    card.revoked_at = utcnow()
    db.session.commit()
    result = checkin.scan(lead, token=token, now=utcnow())
    assert result.code == "revoked"
    new_card = VolunteerCard(user_id=volunteer.id)
    db.session.add(new_card)
    db.session.commit()
    assert checkin.scan(lead, token=qr.card_token(new_card.id), now=utcnow()).code == "checked_in"


def test_every_scan_is_logged_with_its_reason(site):
    _shift, lead, (volunteer, *_) = site
    checkin.scan(lead, token="v1.bad.sig", now=utcnow())
    checkin.scan(lead, token=qr.volunteer_token(volunteer.id, utcnow()), now=utcnow())
    db.session.commit()
    codes = [(row.ok, row.code) for row in db.session.scalars(select(ScanLog).order_by(ScanLog.id))]
    assert codes == [(False, "tampered"), (True, "checked_in")]


# ---------------------------------------------------------------- in and out


def test_scan_checks_in_then_a_later_scan_checks_out(site):
    shift, lead, (volunteer, *_) = site
    now = utcnow()
    first = checkin.scan(lead, token=qr.volunteer_token(volunteer.id, now), now=now)
    assert (first.action, first.shift.id) == ("in", shift.id)
    soon = now + timedelta(minutes=5)
    again = checkin.scan(lead, token=qr.volunteer_token(volunteer.id, soon), now=soon)
    assert (again.ok, again.code, again.action) == (True, "already_in", "")
    later = now + timedelta(minutes=40)
    out = checkin.scan(lead, token=qr.volunteer_token(volunteer.id, later), now=later)
    assert out.action == "out" and out.attendance.checked_out_at == later
    final = checkin.scan(lead, token=qr.volunteer_token(volunteer.id, later), now=later)
    assert final.code == "already_out"
    signup = db.session.scalar(select(Signup).where(Signup.user_id == volunteer.id))
    assert signup.status is SignupStatus.ATTENDED
    assert attendances(shift.id) == 1


def test_a_volunteer_not_signed_up_is_refused(site, make_volunteer):
    _shift, lead, _v = site
    stranger = make_volunteer()
    result = checkin.scan(lead, token=qr.volunteer_token(stranger.id, utcnow()), now=utcnow())
    assert (result.ok, result.code) == (False, "not_signed_up")


def test_a_lead_cannot_check_in_to_a_shift_they_do_not_lead(site, make_user, tree):
    shift, _lead, (volunteer, *_) = site
    other_lead = make_user(Role.LEAD, tree.community_b1)
    token = qr.volunteer_token(volunteer.id, utcnow())
    assert checkin.scan(other_lead, token=token, shift=shift, now=utcnow()).code == "not_lead"
    assert checkin.scan(other_lead, token=token, now=utcnow()).code == "no_open_shift"
    assert attendances(shift.id) == 0


def test_check_in_is_refused_outside_the_window(site):
    shift, lead, (volunteer, *_) = site
    early = shift.starts_at - timedelta(hours=2)
    result = checkin.scan(
        lead, token=qr.volunteer_token(volunteer.id, early), shift=shift, now=early
    )
    assert result.code == "window_closed"


def test_self_check_in_with_the_site_code(site):
    shift, _lead, (volunteer, *_) = site
    now = utcnow()
    result = checkin.self_scan(volunteer, qr.site_token(shift.id, now), now=now)
    assert result.action == "in"
    printed = checkin.self_scan(
        volunteer, qr.printed_site_token(shift.id), now=now + timedelta(minutes=31)
    )
    assert printed.action == "out"


# ---------------------------------------------------------------- idempotency


def test_the_same_nonce_twice_gives_one_attendance_and_the_same_answer(site):
    shift, lead, (volunteer, *_) = site
    now = utcnow()
    token = qr.volunteer_token(volunteer.id, now)
    first = checkin.scan(lead, token=token, shift=shift, now=now, nonce="n-1")
    db.session.commit()
    later = now + timedelta(minutes=45)  # would be a check-out if it were a new scan
    second = checkin.scan(lead, token=token, shift=shift, now=later, nonce="n-1")
    assert second.replayed and second.code == first.code == "checked_in"
    assert db.session.scalar(select(Attendance)).checked_out_at is None


def test_the_same_batch_synced_twice_applies_each_scan_once(site):
    shift, lead, volunteers = site
    now = utcnow()
    batch = [
        {
            "nonce": f"q-{v.id}",
            "token": qr.volunteer_token(v.id, now),
            "scanned_at": int(now.timestamp() * 1000),
            "offline": True,
        }
        for v in volunteers
    ]
    first = checkin.sync(lead, shift, batch, now=now).answers
    db.session.commit()
    second = checkin.sync(lead, shift, batch, now=now + timedelta(minutes=50)).answers
    db.session.commit()
    assert [a["action"] for a in first] == ["in"] * 3
    assert all(a["replayed"] for a in second)
    assert attendances(shift.id) == 3


def test_an_offline_scan_keeps_its_own_time_within_limits(site):
    shift, lead, (volunteer, *_) = site
    now = shift.starts_at + timedelta(minutes=20)
    scanned = shift.starts_at + timedelta(minutes=1)
    result = checkin.scan(
        lead,
        token=qr.volunteer_token(volunteer.id, scanned),
        shift=shift,
        now=now,
        scanned_at=scanned,
        method=ScanMethod.OFFLINE,
    )
    # The code is judged at the time it was scanned offline (it was fresh then), and the
    # attendance keeps that time, not the time of the sync.
    assert result.code == "checked_in"
    assert result.attendance.checked_in_at == scanned
    # A scan time too far back (or in the future) is not believed: the server's time is used.
    assert checkin.effective_time(now, now - timedelta(days=3)) == now
    assert checkin.effective_time(now, now + timedelta(hours=1)) == now


def _run_concurrently(app, jobs):
    db.session.commit()
    barrier = threading.Barrier(len(jobs))
    errors, results = [], []

    def run(job):
        with app.app_context():
            try:
                barrier.wait()
                begin_write()
                results.append(job())
                db.session.commit()
            except Exception as error:
                db.session.rollback()
                errors.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    db.session.commit()
    return results, errors


@pytest.mark.parametrize("alone", [False, True], ids=["in_a_batch", "alone"])
def test_concurrent_duplicate_scans_make_one_attendance(app, site, alone):
    """Alone: each scan is its transaction's only write (the scanner API's one-scan request),
    logged by INSERT … ON CONFLICT DO NOTHING without a savepoint around it."""
    shift, lead, (volunteer, *_) = site
    shift_id, lead_id, volunteer_id = shift.id, lead.id, volunteer.id

    def job(nonce):
        def scan():
            from volunteer_app.models import Shift

            now = utcnow()
            result = checkin.scan(
                db.session.get(User, lead_id),
                token=qr.volunteer_token(volunteer_id, now),
                shift=db.session.get(Shift, shift_id),
                now=now,
                nonce=nonce,
                alone=alone,
            )
            return result.code, result.replayed

        return scan

    # Six devices scanning the same volunteer, two of them retrying the same request.
    results, errors = _run_concurrently(app, [job(n) for n in ["a", "a", "b", "c", "d", "e"]])
    assert errors == []
    fresh = [code for code, replayed in results if not replayed]
    assert fresh.count("checked_in") == 1
    assert set(fresh) <= {"checked_in", "already_in"}
    assert attendances(shift_id) == 1
    assert db.session.scalar(select(func.count()).select_from(ScanLog)) == 5  # "a" once


def test_a_lone_scan_with_a_logged_nonce_answers_the_first_and_writes_nothing(site):
    """A scanner request of one scan finds a repeated nonce by its log row, not by a read
    before the scan: the scan is judged as if new, then the transaction is rolled back
    and the first answer given. Here the same nonce comes with another volunteer's code
    (a forged twin): nothing of it may stay."""
    shift, lead, (volunteer, other, *_) = site
    now = shift.starts_at + timedelta(minutes=5)
    answers = []
    for person in (volunteer, other):
        answers.append(
            checkin.scan(
                lead,
                token=qr.volunteer_token(person.id, now),
                shift=shift,
                now=now,
                nonce="n1",
                alone=True,
            )
        )
        db.session.commit()
    first, second = answers
    assert first.code == "checked_in" and not first.replayed
    assert second.replayed and second.code == "checked_in"
    assert second.volunteer.id == volunteer.id
    assert second.counts is None
    assert attendances(shift.id) == 1
    assert db.session.scalar(select(func.count()).select_from(ScanLog)) == 1


def test_a_lone_scan_answers_the_live_counts_read_with_its_log_row(site):
    """The counts a scanner request of one scan shows are those the counts' own
    statement reads after it, check-in and check-out alike."""
    shift, lead, (volunteer, other, *_) = site
    now = shift.starts_at + timedelta(minutes=5)
    seen = []
    for n, (person, moment) in enumerate(
        [(volunteer, now), (other, now), (volunteer, now + timedelta(minutes=40))]
    ):
        result = checkin.scan(
            lead,
            token=qr.volunteer_token(person.id, moment),
            shift=shift,
            now=moment,
            nonce=f"c{n}",
            alone=True,
        )
        seen.append((result.code, result.counts))
        assert result.counts == checkin.counts(shift)
        db.session.commit()
    assert [code for code, _ in seen] == ["checked_in", "checked_in", "checked_out"]
    assert [(c["in"], c["out"]) for _, c in seen] == [(1, 0), (2, 0), (1, 1)]


def test_the_live_counts_read_the_shifts_attendances_from_their_index_alone(site):
    """In and out are each one range of the index on (shift_id, checked_out_at), counted
    without reading the attendance rows: a scan on a shift of thousands stays cheap."""
    from sqlalchemy import text

    from volunteer_app.checkin.queries import _COUNTS

    shift, _lead, _people = site
    statement = _COUNTS.params(shift_id=shift.id).compile(
        db.engine, compile_kwargs={"literal_binds": True}
    )
    if db.engine.dialect.name == "sqlite":
        plan = db.session.execute(text(f"EXPLAIN QUERY PLAN {statement}")).all()
        reads = [row[-1] for row in plan if "attendances" in row[-1]]
        assert len(reads) == 2
        assert all("USING COVERING INDEX ix_attendances_shift_out" in r for r in reads), reads
        # Each a range of its own (no check-out yet; checked out), not the whole shift twice.
        assert all("checked_out_at" in r for r in reads), reads
    else:
        # A test's few rows would be read whole by any planner: rule that out, then see
        # that the index alone can answer.
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        db.session.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = "\n".join(r[0] for r in db.session.execute(text(f"EXPLAIN {statement}")).all())
        assert plan.count("Index Only Scan using ix_attendances_shift_out") == 2, plan
        assert "checked_out_at IS NULL" in plan and "checked_out_at IS NOT NULL" in plan, plan
    db.session.rollback()


# ---------------------------------------------------------------- credited time


def test_credited_time_is_the_overlap_with_the_shift():
    start, end = datetime(2026, 5, 1, 8), datetime(2026, 5, 1, 11)
    cm = checkin.credited_minutes
    assert cm(start - timedelta(minutes=40), end + timedelta(hours=1), start, end) == 180
    assert cm(start + timedelta(minutes=30), end - timedelta(minutes=30), start, end) == 120
    assert cm(start - timedelta(minutes=40), end, start, end, grace_minutes=10) == 190
    assert cm(end + timedelta(minutes=5), end + timedelta(minutes=50), start, end) == 0
    assert cm(start, None, start, end) == 0


moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 1, 3))


@settings(max_examples=300, deadline=None)
@given(
    moments,
    moments,
    moments,
    st.integers(min_value=1, max_value=600),
    st.integers(min_value=0, max_value=60),
)
def test_credited_time_is_never_negative_nor_longer_than_the_shift(a, b, start, minutes, grace):
    checked_in, checked_out = min(a, b), max(a, b)
    end = start + timedelta(minutes=minutes)
    credited = checkin.credited_minutes(checked_in, checked_out, start, end, grace)
    assert 0 <= credited <= minutes + 2 * grace
    assert credited <= (checked_out - checked_in).total_seconds() // 60


# ---------------------------------------------------------------- after the shift


def test_an_unclosed_attendance_is_closed_at_the_shift_end_and_flagged(site):
    shift, lead, (volunteer, *_) = site
    now = utcnow()
    checkin.scan(lead, token=qr.volunteer_token(volunteer.id, now), shift=shift, now=now)
    db.session.commit()
    assert checkin.close_unclosed(shift.ends_at + timedelta(minutes=10)) == 0  # window open
    later = shift.ends_at + timedelta(hours=2)
    assert checkin.close_unclosed(later) == 1
    assert checkin.close_unclosed(later) == 0  # idempotent
    attendance = db.session.scalar(select(Attendance))
    assert attendance.checked_out_at == shift.ends_at and attendance.auto_closed


def test_no_shows_are_marked_after_the_shift_and_release_their_place(site):
    shift, lead, (present, _absent1, _absent2) = site
    now = utcnow()
    checkin.scan(lead, token=qr.volunteer_token(present.id, now), shift=shift, now=now)
    with pytest.raises(Exception):  # noqa: B017 - before the end: refused
        checkin.mark_no_shows(shift, now=now)
    after = shift.ends_at + timedelta(minutes=1)
    assert checkin.mark_no_shows(shift, now=after) == 2
    assert checkin.mark_no_shows(shift, now=after) == 0
    db.session.refresh(shift)
    assert shift.taken == 1


def _counted_from_the_rows(shift_id: int) -> dict[str, int]:
    """The live counts by their definition: the sign-ups holding a place (confirmed or
    attended), and of their attendances those still in and those out."""
    held = select(Signup.id).where(
        Signup.shift_id == shift_id,
        Signup.status.in_([SignupStatus.CONFIRMED, SignupStatus.ATTENDED]),
    )
    expected = db.session.scalar(select(func.count()).select_from(held.subquery()))
    rows = db.session.scalars(select(Attendance).where(Attendance.signup_id.in_(held))).all()
    out = sum(1 for a in rows if a.checked_out_at is not None)
    return {
        "expected": expected,
        "in": len(rows) - out,
        "out": out,
        "missing": expected - len(rows),
    }


def test_the_live_counts_follow_the_rows_through_every_kind_of_change(site, make_volunteer):
    """The scanner's live counts (expected, in, out, missing) read the shift's place
    counter and its attendances: after check-ins, a check-out, a walk-in, a cancellation,
    no-shows and paper times they are what the sign-ups and attendances say."""
    from volunteer_app.organise.paper import enter_paper_times

    shift, lead, (first, second, third) = site
    late = make_volunteer()
    signups.sign_up(late, shift, now=utcnow(), today=local_today())
    db.session.commit()

    def agree() -> dict[str, int]:
        db.session.commit()
        counted = checkin.counts(db.session.get(type(shift), shift.id))
        assert counted == _counted_from_the_rows(shift.id)
        return counted

    assert agree() == {"expected": 4, "in": 0, "out": 0, "missing": 4}
    now = utcnow()
    for volunteer in (first, second):
        checkin.scan(lead, token=qr.volunteer_token(volunteer.id, now), shift=shift, now=now)
    assert agree()["in"] == 2
    later = now + timedelta(minutes=40)
    checkin.scan(lead, token=qr.volunteer_token(first.id, later), shift=shift, now=later)
    assert agree() == {"expected": 4, "in": 1, "out": 1, "missing": 2}
    checkin.walk_in(lead, shift, make_volunteer(), now=later)
    assert agree() == {"expected": 5, "in": 2, "out": 1, "missing": 2}
    gone = db.session.scalar(select(Signup).where(Signup.user_id == third.id))
    signups.cancel(gone, actor=lead, now=later, reason="临时有事", as_organiser=True)
    assert agree() == {"expected": 4, "in": 2, "out": 1, "missing": 1}
    after = shift.ends_at + timedelta(minutes=1)
    assert checkin.mark_no_shows(shift, now=after) == 1
    assert agree() == {"expected": 3, "in": 2, "out": 1, "missing": 0}
    absent = db.session.scalar(select(Signup).where(Signup.user_id == late.id))
    enter_paper_times(lead, absent, shift.starts_at, shift.ends_at, now=after)
    assert agree() == {"expected": 4, "in": 2, "out": 2, "missing": 0}


def test_a_lead_corrects_times_with_a_reason_that_is_audited(site):
    from volunteer_app.models import AuditLog
    from volunteer_app.services import ServiceError

    shift, lead, (volunteer, *_) = site
    now = utcnow()
    result = checkin.scan(lead, token=qr.volunteer_token(volunteer.id, now), shift=shift, now=now)
    with pytest.raises(ServiceError):
        checkin.correct(lead, result.attendance, shift.starts_at, shift.ends_at, "")
    checkin.correct(lead, result.attendance, shift.starts_at, shift.ends_at, "纸质签到表")
    assert result.attendance.corrected
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "attendance.correct"))


def test_a_walk_in_is_added_past_capacity_and_checked_in(site, make_volunteer):
    shift, lead, _v = site
    shift.capacity = 3
    db.session.commit()
    walker = make_volunteer()
    result = checkin.walk_in(lead, shift, walker, now=utcnow())
    assert result.action == "in"
    signup = db.session.scalar(select(Signup).where(Signup.user_id == walker.id))
    assert signup.over_capacity and signup.source == "walk_in"
