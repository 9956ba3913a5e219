"""Duplicate accounts left by older code: listed by `flask people duplicates`, merged by
`flask people merge` (history moved, the other closed, audited, tallies still agreeing)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests.test_tallies import approved
from volunteer_app.extensions import db
from volunteer_app.models import (
    Attendance,
    AuditLog,
    RecordKind,
    Role,
    RoleGrant,
    ScanMethod,
    ServiceRecord,
    Shift,
    Signup,
    SignupStatus,
    User,
    VolunteerProfile,
)
from volunteer_app.services import ServiceError, account_merge, pii, volunteers
from volunteer_app.tallies import verify_tallies
from volunteer_app.timeutil import local_today

#: Tests here confirm and approve as one organiser; four eyes is tested in test_national_record.
pytestmark = pytest.mark.config(FOUR_EYES_APPROVAL=False)

NUMBER = "370215199805188988"
OLD_SPELLING = "37021５199805188988"


def stored_by_old_code(user: User, spelling: str) -> None:
    """What the old code wrote for a number typed with a full-width digit."""
    profile = db.session.get(VolunteerProfile, user.id)
    profile.id_number_encrypted = pii.encrypt(spelling)
    profile.id_hash = pii.keyed_hash(f"resident:{spelling}")
    db.session.commit()


@pytest.fixture
def pair(tree, make_volunteer, make_user):
    """Two complete accounts of one person (the second stored in the old spelling) and an
    administrator."""
    first = make_volunteer()
    second = make_volunteer(tree.community_a2)
    stored_by_old_code(first, NUMBER)
    stored_by_old_code(second, OLD_SPELLING)
    admin = make_user(Role.ADMIN, tree.district, phone="13600000001")
    return first, second, admin


def merge(runner, keep: User, close: User, *extra: str):
    return runner.invoke(
        args=[
            "people",
            "merge",
            "--keep",
            str(keep.id),
            "--close",
            str(close.id),
            "--by",
            "136 0000 0001",
            *extra,
        ]
    )


def test_duplicates_lists_accounts_whose_normalised_id_numbers_collide(runner, pair):
    first, second, _admin = pair
    result = runner.invoke(args=["people", "duplicates"])
    assert result.exit_code == 0, result.output
    assert "370215********8988: 2 accounts" in result.output
    assert f"account {first.id:>8}" in result.output
    assert f"account {second.id:>8}" in result.output
    assert "old spelling" in result.output
    assert "1 groups" in result.output


def test_no_duplicates_says_so(runner, make_volunteer):
    make_volunteer()
    make_volunteer()
    assert "No duplicate accounts." in runner.invoke(args=["people", "duplicates"]).output


def test_merge_moves_signups_attendance_ledger_consent_and_audit_and_tallies_still_agree(
    runner, tree, pair, make_event
):
    first, second, _admin = pair
    _event, shift = make_event(starts_in=timedelta(days=-2))
    signup = Signup(shift_id=shift.id, user_id=second.id, status=SignupStatus.ATTENDED)
    db.session.add(signup)
    db.session.flush()
    db.session.add(
        Attendance(
            signup_id=signup.id,
            shift_id=shift.id,
            user_id=second.id,
            checked_in_at=shift.starts_at,
            checked_out_at=shift.ends_at,
            in_method=ScanMethod.LEAD_SCAN,
        )
    )
    # Both served in the same month and community, and one of them elsewhere too.
    day = date(2026, 3, 5)
    approved(first, community=tree.community_a1, host=tree.town_a, day=day, minutes=120)
    approved(second, community=tree.community_a1, host=tree.town_a, day=day, minutes=90)
    approved(second, community=tree.community_a2, host=tree.town_a, day=day, minutes=30)
    # Only the closed account gave consent (the survivor's step is still open).
    db.session.get(VolunteerProfile, first.id).consented_at = None
    db.session.commit()
    assert verify_tallies() == []
    audit_before = db.session.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.actor_id == second.id)
    )
    volunteers.set_details(  # something the closed account did, in the audit log or not
        second,
        skills=["first_aid"],
        categories=["traffic_order"],
        availability=[],
        emergency_name="家人",
        emergency_phone="13700009999",
    )
    db.session.commit()

    result = merge(runner, first, second)
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Signup, signup.id).user_id == first.id
    assert (
        db.session.scalar(select(Attendance.user_id).where(Attendance.signup_id == signup.id))
        == first.id
    )
    assert set(
        db.session.scalars(
            select(ServiceRecord.user_id).where(ServiceRecord.kind == RecordKind.MANUAL)
        )
    ) == {first.id}
    survivor = db.session.get(VolunteerProfile, first.id)
    assert survivor.consented_at is not None
    assert survivor.approved_minutes == 240
    assert "first_aid" in survivor.skills
    assert survivor.id_hash == pii.keyed_hash(f"resident:{NUMBER}")
    closed = db.session.get(User, second.id)
    assert closed.deleted_at is not None and not closed.active
    assert closed.merged_into_id == first.id
    assert db.session.get(VolunteerProfile, second.id).id_hash is None
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.actor_id == second.id)
        )
        == 0
    )
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == account_merge.AUDIT_ACTION))
    assert entry.object_id == str(first.id) and entry.detail["closed"] == second.id
    assert entry.detail["moved"]["service_records.user_id"] == 2
    assert len(entry.detail["audit_rows"]) >= audit_before
    assert verify_tallies() == []
    verified = runner.invoke(args=["tallies", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "No duplicate accounts." in runner.invoke(args=["people", "duplicates"]).output


def test_a_merge_of_two_people_is_refused(runner, make_volunteer, make_user, tree):
    one, other = make_volunteer(), make_volunteer()
    make_user(Role.ADMIN, tree.district, phone="13600000001")
    result = merge(runner, one, other)
    assert result.exit_code != 0
    assert "不合并" in result.output or "not merged" in result.output
    assert db.session.get(User, other.id).deleted_at is None


def test_a_merge_needs_an_administrator(runner, pair):
    first, second, admin = pair
    db.session.execute(RoleGrant.__table__.delete().where(RoleGrant.user_id == admin.id))
    db.session.commit()
    result = merge(runner, first, second)
    assert result.exit_code != 0 and "administrator" in result.output


def test_both_signed_up_for_one_shift_is_refused_until_the_weaker_is_cancelled(
    runner, pair, make_event
):
    first, second, _admin = pair
    _event, shift = make_event(capacity=1, waitlist=5)
    db.session.add_all(
        [
            Signup(shift_id=shift.id, user_id=first.id, status=SignupStatus.WAITLISTED),
            Signup(shift_id=shift.id, user_id=second.id, status=SignupStatus.CONFIRMED),
        ]
    )
    shift.taken, shift.waitlisted = 1, 1
    db.session.commit()
    refused = merge(runner, first, second)
    assert refused.exit_code != 0
    assert "--cancel-clashes" in refused.output
    assert db.session.get(User, second.id).deleted_at is None

    result = merge(runner, first, second, "--cancel-clashes")
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    kept = db.session.scalars(
        select(Signup).where(Signup.shift_id == shift.id, Signup.status != SignupStatus.CANCELLED)
    ).all()
    assert [(s.user_id, s.status) for s in kept] == [(first.id, SignupStatus.CONFIRMED)]
    shift = db.session.get(Shift, shift.id)
    assert (shift.taken, shift.waitlisted) == (1, 0)


def test_both_attended_one_shift_is_always_refused(runner, pair, make_event):
    first, second, _admin = pair
    _event, shift = make_event()
    for user in (first, second):
        db.session.add(Signup(shift_id=shift.id, user_id=user.id, status=SignupStatus.ATTENDED))
    db.session.commit()
    result = merge(runner, first, second, "--cancel-clashes")
    assert result.exit_code != 0
    assert db.session.get(User, second.id).deleted_at is None


def test_every_column_pointing_at_an_account_is_moved_by_a_merge():
    """A new table with a user column is covered by the merge, or this test names it."""
    handled = {f"{table.name}.{column}" for table, column in account_merge._user_columns()}
    assert "service_records.user_id" in handled and "audit_logs.actor_id" in handled
    assert "volunteer_profiles.user_id" not in handled


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def test_normalise_rewrites_old_spellings_unless_the_number_is_taken(
    runner, make_volunteer, make_user
):
    lone = make_volunteer()
    # Its own region code in full-width digits (the region varies with the factory's serial).
    own = volunteers.id_number_of(lone.profile)
    stored_by_old_code(lone, own[:6].translate(FULL_WIDTH) + own[6:])
    result = runner.invoke(args=["people", "normalise"])
    assert result.exit_code == 0, result.output
    assert "1 ID numbers rewritten" in result.output
    db.session.expire_all()
    number = volunteers.id_number_of(db.session.get(VolunteerProfile, lone.id))
    assert number.isascii()
    with pytest.raises(ServiceError, match=r"已被其他账号登记|already registered"):
        volunteers.set_identity(
            make_user(), "某人", volunteers.IdType.RESIDENT, number, today=local_today()
        )
    db.session.rollback()
