"""Sign-up rules: capacity under concurrency, waitlist order and promotion, every refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from concurrency import run_concurrently as _concurrently
from sqlalchemy import func, select

from volunteer_app import signups
from volunteer_app.extensions import db
from volunteer_app.models import (
    AuditLog,
    Channel,
    Notification,
    OrgLevel,
    Role,
    Shift,
    Signup,
    SignupStatus,
    TeamMembership,
)
from volunteer_app.models.volunteers import MembershipStatus
from volunteer_app.services import ServiceError, orgs
from volunteer_app.timeutil import local_today, utcnow


def count(shift_id: int, status: SignupStatus) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Signup)
        .where(Signup.shift_id == shift_id, Signup.status == status)
    )


def sign_up(user, shift, now=None):
    return signups.sign_up(user, shift, now=now or utcnow(), today=local_today())


def assert_counters_match(shift_id: int) -> None:
    shift = db.session.get(Shift, shift_id)
    db.session.refresh(shift)
    confirmed = count(shift_id, SignupStatus.CONFIRMED) + count(shift_id, SignupStatus.ATTENDED)
    assert shift.taken == confirmed
    assert shift.waitlisted == count(shift_id, SignupStatus.WAITLISTED)


# ---------------------------------------------------------------- concurrency


def test_sixty_concurrent_signups_never_overbook_a_ten_place_shift(app, make_event, make_volunteer):
    _event, shift = make_event(capacity=10, waitlist=5)
    users = [make_volunteer(commit=False) for _ in range(60)]
    db.session.commit()
    shift_id, user_ids = shift.id, [u.id for u in users]

    def job_for(user_id):
        def job():
            from volunteer_app.models import User

            result = signups.sign_up(
                db.session.get(User, user_id),
                db.session.get(Shift, shift_id),
                now=utcnow(),
                today=local_today(),
            )
            return result.signup.status.value

        return job

    results, errors = _concurrently(app, [job_for(uid) for uid in user_ids])
    assert errors == []
    outcomes = [r if isinstance(r, str) else r[0] for r in results]
    assert outcomes.count("confirmed") == 10
    assert outcomes.count("waitlisted") == 5
    assert outcomes.count("refused") == 45
    assert all("此班次已满" in " ".join(r[1]) for r in results if not isinstance(r, str))
    assert count(shift_id, SignupStatus.CONFIRMED) == 10
    assert count(shift_id, SignupStatus.WAITLISTED) == 5
    assert_counters_match(shift_id)


def test_one_volunteer_double_submitting_gets_one_signup(app, make_event, make_volunteer):
    _event, shift = make_event(capacity=10, waitlist=5)
    user = make_volunteer()
    shift_id, user_id = shift.id, user.id

    def job():
        from volunteer_app.models import User

        signups.sign_up(
            db.session.get(User, user_id),
            db.session.get(Shift, shift_id),
            now=utcnow(),
            today=local_today(),
        )
        return "ok"

    results, errors = _concurrently(app, [job] * 8)
    assert errors == []
    assert results.count("ok") == 1
    assert count(shift_id, SignupStatus.CONFIRMED) == 1
    assert_counters_match(shift_id)


def test_concurrent_cancellations_and_signups_keep_capacity_and_waitlist_order(
    app, make_event, make_volunteer
):
    _event, shift = make_event(capacity=10, waitlist=5)
    start = utcnow() - timedelta(minutes=5)  # all before the newcomers queue
    confirmed = [make_volunteer(commit=False) for _ in range(10)]
    waiting = [make_volunteer(commit=False) for _ in range(5)]
    newcomers = [make_volunteer(commit=False) for _ in range(10)]
    db.session.commit()
    for i, user in enumerate(confirmed + waiting):
        sign_up(user, shift, now=start + timedelta(seconds=i))
        db.session.commit()
    waiting_order = [
        s.id
        for s in db.session.scalars(
            select(Signup)
            .where(Signup.status == SignupStatus.WAITLISTED)
            .order_by(Signup.queued_at, Signup.id)
        )
    ]
    cancel_ids = [
        db.session.scalar(select(Signup.id).where(Signup.user_id == u.id)) for u in confirmed[:5]
    ]
    shift_id = shift.id

    def cancel_job(signup_id):
        def job():
            signup = db.session.get(Signup, signup_id)
            signups.cancel(signup, actor=signup.user, now=utcnow())
            return "cancelled"

        return job

    def signup_job(user_id):
        def job():
            from volunteer_app.models import User

            result = signups.sign_up(
                db.session.get(User, user_id),
                db.session.get(Shift, shift_id),
                now=utcnow(),
                today=local_today(),
            )
            return result.signup.status.value

        return job

    jobs = [cancel_job(i) for i in cancel_ids] + [signup_job(u.id) for u in newcomers]
    results, errors = _concurrently(app, jobs)
    assert errors == []
    assert results.count("cancelled") == 5
    assert count(shift_id, SignupStatus.CONFIRMED) == 10  # never more than the capacity
    assert_counters_match(shift_id)
    # The five who waited first are the five promoted, whatever the interleaving.
    promoted = set(
        db.session.scalars(
            select(Signup.id).where(
                Signup.id.in_(waiting_order), Signup.status == SignupStatus.CONFIRMED
            )
        )
    )
    assert promoted == set(waiting_order)


# ---------------------------------------------------------------- waitlist


def test_a_full_shift_puts_the_signup_on_the_waitlist_with_its_position(make_event, make_volunteer):
    _event, shift = make_event(capacity=1, waitlist=3)
    sign_up(make_volunteer(), shift)
    second = sign_up(make_volunteer(), shift)
    third = sign_up(make_volunteer(), shift)
    assert second.signup.status is SignupStatus.WAITLISTED and second.position == 1
    assert third.position == 2


def test_the_queue_order_is_the_order_the_shift_lock_was_had(make_event, make_volunteer):
    """A request that read its clock before an earlier one got the shift (it waited for
    the lock) still queues after it, and is told the number it keeps."""
    _event, shift = make_event(capacity=1, waitlist=3)
    sign_up(make_volunteer(), shift)
    now = utcnow()
    first = sign_up(make_volunteer(), shift, now=now)
    late_clock = sign_up(make_volunteer(), shift, now=now - timedelta(milliseconds=135))
    assert (first.position, late_clock.position) == (1, 2)
    assert late_clock.signup.queued_at > first.signup.queued_at
    db.session.commit()
    assert [signups.waitlist_position(r.signup) for r in (first, late_clock)] == [1, 2]


def test_a_cancellation_promotes_the_first_waitlisted_and_tells_them(make_event, make_volunteer):
    _event, shift = make_event(capacity=1, waitlist=3)
    first = sign_up(make_volunteer(), shift).signup
    second = sign_up(make_volunteer(), shift).signup
    third = sign_up(make_volunteer(), shift).signup
    db.session.commit()
    promoted = signups.cancel(first, actor=first.user, now=utcnow())
    db.session.commit()
    assert [p.id for p in promoted] == [second.id]
    assert second.status is SignupStatus.CONFIRMED
    assert signups.waitlist_position(third) == 1
    message = db.session.scalar(
        select(Notification).where(
            Notification.user_id == second.user_id,
            Notification.template == "signup_promoted",
            Notification.channel == Channel.IN_APP,
        )
    )
    assert "您已确认参加" in message.body
    assert_counters_match(shift.id)


def test_a_cancelled_waitlist_entry_moves_the_others_up(make_event, make_volunteer):
    _event, shift = make_event(capacity=1, waitlist=3)
    sign_up(make_volunteer(), shift)
    second = sign_up(make_volunteer(), shift).signup
    third = sign_up(make_volunteer(), shift).signup
    signups.cancel(second, actor=second.user, now=utcnow())
    assert signups.waitlist_position(third) == 1
    assert_counters_match(shift.id)


def test_a_full_shift_without_waitlist_refuses_as_full(make_event, make_volunteer):
    _event, shift = make_event(capacity=1, waitlist=0)
    sign_up(make_volunteer(), shift)
    with pytest.raises(ServiceError) as refused:
        sign_up(make_volunteer(), shift)
    assert refused.value.messages == ["此班次已满。"]


# ---------------------------------------------------------------- refusal reasons


def test_already_signed_up(make_event, make_volunteer):
    _event, shift = make_event()
    user = make_volunteer()
    sign_up(user, shift)
    with pytest.raises(ServiceError, match="已报名"):
        sign_up(user, shift)


def test_overlap_with_another_event_is_refused(make_event, make_volunteer):
    _a, first = make_event(title="交通岗", starts_in=timedelta(days=2), hours=3)
    _b, second = make_event(title="小区清洁", starts_in=timedelta(days=2, hours=2), hours=2)
    _c, later = make_event(title="晚间巡查", starts_in=timedelta(days=2, hours=3), hours=1)
    user = make_volunteer()
    sign_up(user, first)
    with pytest.raises(ServiceError, match="时间冲突"):
        sign_up(user, second)
    sign_up(user, later)  # starts when the first ends: no overlap


def test_sign_up_not_open_yet(make_event, make_volunteer):
    _event, shift = make_event(starts_in=timedelta(days=10), opens_days=7)
    with pytest.raises(ServiceError, match="报名将于"):
        sign_up(make_volunteer(), shift)


def test_shift_started_or_ended(make_event, make_volunteer):
    _e, shift = make_event(starts_in=timedelta(hours=-1), hours=3)
    with pytest.raises(ServiceError, match="已经开始"):
        sign_up(make_volunteer(), shift)
    _e2, ended = make_event(starts_in=timedelta(hours=-5), hours=3)
    with pytest.raises(ServiceError, match="已经结束"):
        sign_up(make_volunteer(), ended)


def test_profile_incomplete(make_event, make_user):
    _event, shift = make_event()
    with pytest.raises(ServiceError, match="资料尚未填写完整"):
        sign_up(make_user(), shift)


def test_under_age_and_adults_only(make_event, make_volunteer):
    # Fifteen and a half today, so fifteen on any shift day soon (not 1 January: on
    # 31 December the shift is next year and the volunteer sixteen by then).
    minor = make_volunteer(birth=local_today() - timedelta(days=15 * 365 + 180))
    _a, adults = make_event(adults_only=True)
    with pytest.raises(ServiceError, match="仅限 18 周岁"):
        sign_up(minor, adults)
    _b, dangerous = make_event(title="高空广告清理", dangerous=True)
    with pytest.raises(ServiceError, match="仅限 18 周岁"):
        sign_up(minor, dangerous)
    _c, sixteen = make_event(title="文明劝导", min_age=16)
    with pytest.raises(ServiceError, match="最低年龄为 16"):
        sign_up(minor, sixteen)
    _d, open_to_all = make_event(title="社区宣传")
    assert sign_up(minor, open_to_all).signup.status is SignupStatus.CONFIRMED


def test_party_members_only(make_event, make_volunteer):
    _event, shift = make_event(party_only=True)
    with pytest.raises(ServiceError, match="仅限党员"):
        sign_up(make_volunteer(), shift)
    assert sign_up(make_volunteer(party=True), shift).signup.status is SignupStatus.CONFIRMED


def test_team_members_only(tree, make_event, make_volunteer):
    team = orgs.create_node("青年突击队", OrgLevel.TEAM, tree.youth_league)
    db.session.commit()
    _event, shift = make_event(team_only=True, host=tree.youth_league)
    outsider, member = make_volunteer(), make_volunteer()
    db.session.add(
        TeamMembership(user_id=member.id, team_id=team.id, status=MembershipStatus.APPROVED)
    )
    db.session.commit()
    with pytest.raises(ServiceError, match="仅限"):
        sign_up(outsider, shift)
    assert sign_up(member, shift).signup.status is SignupStatus.CONFIRMED


def test_every_reason_is_named_at_once(make_event, make_user):
    _event, shift = make_event(capacity=1, waitlist=0, party_only=True, adults_only=True)
    _other_event, _ = make_event(title="另一个")
    db.session.commit()
    user = make_user()  # no profile at all
    with pytest.raises(ServiceError) as refused:
        signups.sign_up(user, shift, now=shift.ends_at + timedelta(minutes=1), today=local_today())
    text = " ".join(refused.value.messages)
    assert "资料尚未填写完整" in text and "已经结束" in text and "仅限党员" in text


# ---------------------------------------------------------------- cancellation and holds


def test_self_cancel_closes_at_the_deadline_but_the_organiser_can(
    make_event, make_volunteer, make_user, tree
):
    _event, shift = make_event(starts_in=timedelta(hours=1))
    signup = sign_up(make_volunteer(), shift).signup
    with pytest.raises(ServiceError, match="请联系组织者"):
        signups.cancel(signup, actor=signup.user, now=utcnow())
    organiser = make_user(Role.ORGANISER, tree.town_a)
    signups.cancel(signup, actor=organiser, now=utcnow(), reason="生病", as_organiser=True)
    assert signup.status is SignupStatus.CANCELLED
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "signup.remove"))


def test_repeated_no_shows_hold_the_volunteer_to_the_waitlist(make_event, make_volunteer):
    user = make_volunteer()
    for i in range(3):
        _e, past = make_event(title=f"过去{i}", starts_in=timedelta(days=-10 - i), opens_days=None)
        db.session.add(Signup(shift_id=past.id, user_id=user.id, status=SignupStatus.NO_SHOW))
    db.session.commit()
    _event, shift = make_event(capacity=5, waitlist=5)
    result = sign_up(user, shift)
    assert result.signup.status is SignupStatus.WAITLISTED
    assert signups.no_show_hold_until(user, utcnow(), signups.HoldPolicy()) is not None


def test_organiser_adds_past_capacity_marked_as_such(make_event, make_volunteer, make_user, tree):
    _event, shift = make_event(capacity=1, waitlist=0)
    sign_up(make_volunteer(), shift)
    organiser = make_user(Role.ORGANISER, tree.town_a)
    added = signups.organiser_add(
        organiser, shift, make_volunteer(), now=utcnow(), reason="路口增援"
    )
    assert added.over_capacity
    assert shift.taken == 2
    with pytest.raises(ServiceError, match="已满"):
        sign_up(make_volunteer(), shift)
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "signup.add"))
