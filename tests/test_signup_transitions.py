"""The sign-up state machine: one table of moves, one function that makes them, and a check
(`flask shifts verify`) that finds a counter that no longer matches its rows."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from volunteer_app import checkin, signups
from volunteer_app.extensions import db
from volunteer_app.models import Shift, Signup, SignupStatus
from volunteer_app.services import ServiceError
from volunteer_app.signups import TRANSITIONS, InvalidTransition, transition, verify_counters
from volunteer_app.timeutil import local_today, utcnow

pytestmark = pytest.mark.config(FOUR_EYES_APPROVAL=False)

S = SignupStatus
ROOT = Path(__file__).resolve().parent.parent / "volunteer_app"


def _signup_in(shift: Shift, user, status: SignupStatus) -> Signup:
    """A sign-up already in `status`, with the shift's counters kept right."""
    now = utcnow()
    signup = Signup(shift_id=shift.id, user_id=user.id, created_at=now, queued_at=now)
    if status in (S.CONFIRMED, S.WAITLISTED):
        assert transition(signup, status, now=now)
    else:
        assert transition(signup, S.CONFIRMED, now=now)
        transition(signup, status, now=now)
    db.session.add(signup)
    db.session.flush()
    return signup


@pytest.mark.parametrize(
    "move", sorted(TRANSITIONS, key=str), ids=lambda m: f"{m[0] and m[0].value}-{m[1].value}"
)
def test_every_allowed_move_changes_the_counters_as_the_table_says(
    app, make_event, make_volunteer, move
):
    current, to = move
    _event, shift = make_event(capacity=3, waitlist=3)
    user = make_volunteer()
    if current is None:
        signup = Signup(shift_id=shift.id, user_id=user.id, created_at=utcnow())
        signup.queued_at = utcnow()
    else:
        signup = _signup_in(shift, user, current)
    db.session.refresh(shift)
    before = (shift.taken, shift.waitlisted)
    assert transition(signup, to, now=utcnow())
    if current is None:
        db.session.add(signup)
    db.session.flush()
    db.session.refresh(shift)
    expected = TRANSITIONS[move]
    assert signup.status is to
    assert (shift.taken - before[0], shift.waitlisted - before[1]) == (
        expected.taken,
        expected.waitlisted,
    )
    assert verify_counters([shift.id]) == []


def test_a_move_that_is_not_in_the_table_is_refused_and_changes_nothing(
    app, make_event, make_volunteer
):
    _event, shift = make_event()
    signup = _signup_in(shift, make_volunteer(), S.CONFIRMED)
    transition(signup, S.ATTENDED, now=utcnow())
    with pytest.raises(InvalidTransition):
        transition(signup, S.CONFIRMED, now=utcnow())
    assert signup.status is S.ATTENDED
    assert verify_counters([shift.id]) == []


def test_a_claim_finds_no_room_and_changes_nothing(app, make_event, make_volunteer):
    _event, shift = make_event(capacity=1, waitlist=0)
    _signup_in(shift, make_volunteer(), S.CONFIRMED)
    late = Signup(shift_id=shift.id, user_id=make_volunteer().id, created_at=utcnow())
    assert transition(late, S.CONFIRMED, now=utcnow()) is False
    assert transition(late, S.WAITLISTED, now=utcnow()) is False
    assert late.status is None
    db.session.refresh(shift)
    assert (shift.taken, shift.waitlisted) == (1, 0)
    # An organiser may force a place past the capacity.
    assert transition(late, S.CONFIRMED, now=utcnow(), force=True)
    db.session.add(late)
    db.session.flush()
    assert verify_counters([shift.id]) == []


def test_shifts_verify_finds_a_corrupted_counter_and_repair_sets_it_right(
    app, runner, make_event, make_volunteer
):
    _event, shift = make_event(capacity=5, waitlist=2)
    for _ in range(3):
        signups.sign_up(make_volunteer(), shift, now=utcnow(), today=local_today())
    db.session.commit()
    result = runner.invoke(args=["shifts", "verify"])
    assert result.exit_code == 0, result.output
    assert "match" in result.output

    db.session.execute(update(Shift).where(Shift.id == shift.id).values(taken=7, waitlisted=1))
    db.session.commit()
    result = runner.invoke(args=["shifts", "verify"])
    assert result.exit_code == 1
    assert f"shift {shift.id}: taken is 7, the sign-ups count 3" in result.output
    assert f"shift {shift.id}: waitlisted is 1, the sign-ups count 0" in result.output

    result = runner.invoke(args=["shifts", "verify", "--repair"])
    assert result.exit_code == 0, result.output
    assert "2 counters repaired" in result.output
    db.session.expire_all()
    assert (db.session.get(Shift, shift.id).taken, db.session.get(Shift, shift.id).waitlisted) == (
        3,
        0,
    )
    assert runner.invoke(args=["shifts", "verify"]).exit_code == 0


# Writes of a sign-up's status or of a shift's counters outside the state machine. The seed
# builders (demo data, the scale seed) write whole consistent rows and are checked by
# `shifts verify` in their own tests.
_WRITES = re.compile(
    r"\.status\s*=\s*SignupStatus\.|values\([^)]*\b(taken|waitlisted)\s*=|"
    r"\.(taken|waitlisted)\s*[+-]?=[^=]"
)
_ALLOWED = {"signups/transitions.py", "demo.py", "scale.py"}


def test_only_the_state_machine_changes_a_signup_status_or_a_shift_counter():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative in _ALLOWED or relative.startswith("models/"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _WRITES.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize("seed", [1, 7, 2026])
def test_random_sequences_of_every_operation_keep_the_counters_equal_to_the_rows(
    app, make_event, make_user, make_volunteer, seed
):
    """Sign up, cancel, add past capacity, check in, mark no-shows, expire the waitlist, in
    a random order (fixed seeds: each sequence replays), the counters checked after each."""
    from volunteer_app.models import Role, ShiftLead

    rng = random.Random(seed)
    _event, shift = make_event(capacity=3, waitlist=2, starts_in=timedelta(hours=30))
    lead = make_user(Role.LEAD, shift.event.host)
    shift.leads.append(ShiftLead(user_id=lead.id))
    db.session.commit()
    people = [make_volunteer() for _ in range(8)]
    now = utcnow()
    for _ in range(40):
        action = rng.choice(["sign_up", "sign_up", "cancel", "add", "check_in", "no_show"])
        person = rng.choice(people)
        mine = signups.active_signup(person, shift)
        try:
            if action == "sign_up":
                signups.sign_up(person, shift, now=now, today=local_today())
            elif action == "cancel" and mine is not None and mine.status in signups.ACTIVE:
                signups.cancel(mine, actor=person, now=now, as_organiser=True, reason="test")
            elif action == "add":
                signups.organiser_add(lead, shift, person, now=now, reason="test")
            elif action == "check_in" and mine is not None:
                moment = shift.starts_at + timedelta(minutes=5)
                checkin.scan(lead, now=moment, signup_id=mine.id, shift=shift)
            elif action == "no_show":
                checkin.mark_no_shows(shift, now=shift.ends_at + timedelta(hours=1))
        except ServiceError:
            db.session.rollback()
        else:
            db.session.commit()
        assert verify_counters([shift.id]) == [], (seed, action)
    signups.expire_waitlists(shift.starts_at)
    db.session.commit()
    assert verify_counters([shift.id]) == []
