"""Sign-up operations: sign up, cancel, promote from the waitlist, add by an organiser,
expire a waitlist, cancel a shift's sign-ups.

Every path that changes a shift's sign-ups takes the shift row first (a conditional UPDATE
or SELECT … FOR UPDATE), then the sign-up rows, so concurrent requests serialise per shift
on PostgreSQL and cannot deadlock; on SQLite the write transaction (BEGIN IMMEDIATE) already
serialises writers. Statuses and counters change only through `transitions.transition`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Shift, Signup, SignupStatus, User
from ..services import ServiceError, audit, notices
from ..services.database import insert_now, write_from_here
from .queries import (
    ACTIVE,
    LATEST_QUEUED_BEFORE,
    HoldPolicy,
    active_signup,
    queue_place,
    queue_time,
    refusal_reasons,
    standing,
    waitlist_position,
)
from .transitions import transition, transition_many


@dataclass
class SignupResult:
    signup: Signup
    position: int | None  # waitlist position, None when confirmed


def sign_up(
    user: User,
    shift: Shift,
    *,
    now: datetime,
    today: date,
    policy: HoldPolicy | None = None,
    ip: str | None = None,
) -> SignupResult:
    """Sign the volunteer up: a confirmed place if one is free, else the waitlist, else a
    refusal naming every reason."""
    policy = policy or HoldPolicy()
    known = standing(user, shift, now=now, policy=policy)
    reasons = refusal_reasons(user, shift, now=now, today=today, policy=policy, known=known)
    held = known.hold_until(now, policy) is not None
    if reasons:
        raise ServiceError(reasons)
    # The checks above read; the writes begin here (the place is claimed by a conditional
    # UPDATE, a second sign-up refused by the unique index, whatever the reads saw).
    write_from_here()
    signup = Signup(shift_id=shift.id, user_id=user.id, created_at=now)
    if not (
        (not held and transition(signup, SignupStatus.CONFIRMED, now=now, actor=user))
        or transition(signup, SignupStatus.WAITLISTED, now=now, actor=user)
    ):
        raise ServiceError(_l("This shift is full."))
    # From here on this request holds the shift row: its place in the queue is now, or
    # just after the latest (read by the INSERT itself; moved in the rare case a clock
    # read before the lock lags behind it).
    signup.queued_at = now
    try:
        inserted = insert_now(signup, returning=LATEST_QUEUED_BEFORE)
    except IntegrityError:
        # The same volunteer in two requests at once: the unique index keeps one. The
        # caller rolls back (it must: the failed flush leaves the transaction unusable),
        # which also returns the place this request claimed. No savepoint is needed for
        # that, since nothing of this transaction is to be kept.
        raise ServiceError(_l("You have already signed up for this shift.")) from None
    assert inserted is not None  # no ON CONFLICT: a failed insert raised above
    place = queue_place(inserted[1], now)
    if place != now:
        signup.queued_at = place  # written with the next flush
    # Counted under the shift's lock: every sign-up queued before this one has committed
    # (each held the lock until then) and a fresh statement sees it, even under READ
    # COMMITTED; none queued after it exists yet. So the number told is the final one.
    waiting = signup.status is SignupStatus.WAITLISTED
    position = waitlist_position(signup) if waiting else None
    notices.signed_up(signup, position, now=now)
    return SignupResult(signup, position)


def lock_shift(shift_id: int) -> Shift:
    """The shift row, held until the transaction ends (PostgreSQL: FOR UPDATE)."""
    shift = db.session.scalar(
        select(Shift)
        .where(Shift.id == shift_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if shift is None:
        raise ServiceError(_l("This shift no longer exists."))
    return shift


def promote(shift_id: int, *, now: datetime) -> list[Signup]:
    """Move waitlisted volunteers up, in order, into every free place; they are told.
    The caller holds the shift row (or calls this in its own write transaction)."""
    promoted: list[Signup] = []
    while True:
        first = db.session.scalar(
            select(Signup)
            .where(Signup.shift_id == shift_id, Signup.status == SignupStatus.WAITLISTED)
            .order_by(Signup.queued_at, Signup.id)
            .limit(1)
        )
        if first is None or not transition(first, SignupStatus.CONFIRMED, now=now):
            break
        db.session.flush()
        notices.promoted(first, now=now)
        promoted.append(first)
    return promoted


def cancel(
    signup: Signup,
    *,
    actor: User,
    now: datetime,
    reason: str | None = None,
    as_organiser: bool = False,
    ip: str | None = None,
) -> list[Signup]:
    """Cancel a sign-up; a freed place goes to the first on the waitlist at once. Returns
    the promoted sign-ups. Volunteers cancel themselves only before the deadline."""
    shift = lock_shift(signup.shift_id)
    db.session.refresh(signup)
    if signup.status not in ACTIVE:
        raise ServiceError(_l("This sign-up is not active any more."))
    deadline = shift.starts_at - timedelta(hours=shift.cancel_deadline_hours)
    if not as_organiser and now >= deadline:
        raise ServiceError(
            _l(
                "Cancelling yourself closed %(n)d hours before the start. Please contact the "
                "organiser.",
                n=shift.cancel_deadline_hours,
            )
        )
    was_confirmed = signup.status is SignupStatus.CONFIRMED
    transition(signup, SignupStatus.CANCELLED, now=now, actor=actor, reason=reason)
    db.session.flush()
    if as_organiser:
        audit.record(
            "signup.remove",
            actor=actor,
            ip=ip,
            obj=signup,
            reason=reason,
            shift=shift.id,
            user=signup.user_id,
        )
        notices.removed(signup, reason, now=now)
    promoted = promote(shift.id, now=now) if was_confirmed else []
    db.session.refresh(shift)
    return promoted


def organiser_add(
    actor: User, shift: Shift, user: User, *, now: datetime, reason: str, ip: str | None = None
) -> Signup:
    """An organiser puts a volunteer on a shift, past the capacity if need be (marked)."""
    shift = lock_shift(shift.id)
    if active_signup(user, shift) is not None:
        raise ServiceError(_l("This volunteer is already signed up for this shift."))
    if shift.cancelled:
        raise ServiceError(_l("This shift is not open for sign-up."))
    signup = Signup(shift_id=shift.id, user_id=user.id, created_at=now, source="organiser")
    over = not transition(signup, SignupStatus.CONFIRMED, now=now, actor=actor)
    if over:
        transition(signup, SignupStatus.CONFIRMED, now=now, actor=actor, force=True)
    signup.over_capacity = over
    signup.queued_at = queue_time(shift.id, now)
    db.session.add(signup)
    db.session.flush()
    audit.record(
        "signup.add",
        actor=actor,
        ip=ip,
        obj=signup,
        reason=reason,
        over_capacity=over,
        shift=shift.id,
        user=user.id,
    )
    db.session.refresh(shift)
    return signup


def active_signups(shift: Shift) -> list[Signup]:
    """The shift's confirmed and waitlisted sign-ups."""
    return list(
        db.session.scalars(
            select(Signup).where(Signup.shift_id == shift.id, Signup.status.in_(ACTIVE))
        )
    )


def cancel_all(
    shift: Shift, *, now: datetime, reason: str, template: str, actor: User | None = None
) -> int:
    """The shift or its event is cancelled: every active sign-up is cancelled and told."""
    signups = active_signups(shift)
    transition_many(signups, SignupStatus.CANCELLED, now=now, actor=actor, reason=reason)
    for signup in signups:
        notices.cancelled(signup, template, reason, now=now)
    return len(signups)


def expire_waitlists(now: datetime) -> int:
    """When a shift starts, whoever is still waiting is told the shift is full after all."""
    count = 0
    for shift in db.session.scalars(
        select(Shift).where(Shift.starts_at <= now, Shift.waitlisted > 0)
    ).all():
        rows = db.session.scalars(
            select(Signup).where(
                Signup.shift_id == shift.id, Signup.status == SignupStatus.WAITLISTED
            )
        ).all()
        transition_many(rows, SignupStatus.CANCELLED, now=now, reason="waitlist expired")
        for signup in rows:
            notices.waitlist_expired(signup, now=now)
        count += len(rows)
    db.session.flush()
    return count
