"""Sign-up rules: eligibility, the atomic capacity claim, the waitlist, cancellation.

Every path that changes a shift's sign-ups takes the shift row first (a conditional UPDATE
or SELECT … FOR UPDATE), then the sign-up rows, so concurrent requests serialise per shift
on PostgreSQL and cannot deadlock; on SQLite the write transaction (BEGIN IMMEDIATE) already
serialises writers. The counters `taken` and `waitlisted` are only ever changed by a
conditional UPDATE, so the database itself refuses to overbook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import (
    Event,
    EventStatus,
    OrgLevel,
    OrgUnit,
    Shift,
    Signup,
    SignupStatus,
    User,
    Visibility,
    VolunteerProfile,
)
from ..timeutil import to_local
from . import ServiceError, audit, notices, teams, volunteers

ACTIVE = (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED)


@dataclass(frozen=True)
class HoldPolicy:
    """Repeated no-shows hold a volunteer to the waitlist for a while."""

    no_shows: int = 3  # this many no-shows …
    within_days: int = 90  # … within this many days …
    hold_days: int = 30  # … allow only waitlisting for this long after the last one


@dataclass
class SignupResult:
    signup: Signup
    position: int | None  # waitlist position, None when confirmed


def no_show_hold_until(user: User, now: datetime, policy: HoldPolicy) -> datetime | None:
    """When the volunteer's no-show hold ends, or None if there is none now."""
    rows = db.session.scalars(
        select(Shift.ends_at)
        .join(Signup, Signup.shift_id == Shift.id)
        .where(
            Signup.user_id == user.id,
            Signup.status == SignupStatus.NO_SHOW,
            Shift.ends_at > now - timedelta(days=policy.within_days),
        )
        .order_by(Shift.ends_at.desc())
    ).all()
    if len(rows) < policy.no_shows:
        return None
    until = rows[0] + timedelta(days=policy.hold_days)
    return until if until > now else None


def team_ids_for(event: Event) -> list[int]:
    """The teams whose members count as "members" of the event's host."""
    if event.host.level is OrgLevel.TEAM:
        return [event.host_id]
    return list(
        db.session.scalars(
            select(OrgUnit.id).where(
                OrgUnit.level == OrgLevel.TEAM,
                OrgUnit.path.startswith(event.host.path, autoescape=True),
            )
        )
    )


def can_see(user: User | None, event: Event) -> bool:
    """Members-only events are shown to the host's team members (and its organisers)."""
    if event.status is EventStatus.DRAFT:
        return False
    if event.visibility is Visibility.PUBLIC:
        return True
    return user is not None and user.is_authenticated and teams.is_member(user, team_ids_for(event))


def overlapping(user: User, shift: Shift) -> list[Shift]:
    """The volunteer's other active shifts whose time overlaps this one."""
    return list(
        db.session.scalars(
            select(Shift)
            .join(Signup, Signup.shift_id == Shift.id)
            .where(
                Signup.user_id == user.id,
                Signup.status.in_(ACTIVE),
                Shift.id != shift.id,
                Shift.cancelled.is_(False),
                Shift.starts_at < shift.ends_at,
                Shift.ends_at > shift.starts_at,
            )
        )
    )


def active_signup(user: User, shift: Shift) -> Signup | None:
    return db.session.scalar(
        select(Signup).where(
            Signup.user_id == user.id,
            Signup.shift_id == shift.id,
            Signup.status != SignupStatus.CANCELLED,
        )
    )


def refusal_reasons(
    user: User, shift: Shift, *, now: datetime, today: date, policy: HoldPolicy
) -> list[str]:
    """Every reason the volunteer cannot sign up for the shift now (empty: they can)."""
    event = shift.event
    reasons: list[str] = []
    profile = db.session.get(VolunteerProfile, user.id)
    if not volunteers.is_complete(profile, today):
        reasons.append(str(_l("Your volunteer profile is not complete yet.")))
    if event.status is not EventStatus.PUBLISHED or shift.cancelled:
        reasons.append(str(_l("This shift is not open for sign-up.")))
    if shift.signup_opens_at and now < shift.signup_opens_at:
        opens = to_local(shift.signup_opens_at).strftime("%Y-%m-%d %H:%M")
        reasons.append(str(_l("Sign-up opens at %(time)s.", time=opens)))
    if now >= shift.ends_at:
        reasons.append(str(_l("This shift has ended.")))
    elif now >= shift.starts_at:
        reasons.append(str(_l("This shift has already started.")))
    if active_signup(user, shift) is not None:
        reasons.append(str(_l("You have already signed up for this shift.")))
    clashes = overlapping(user, shift)
    if clashes:
        other = clashes[0]
        reasons.append(
            str(
                _l(
                    "It overlaps your shift %(post)s of %(event)s at %(time)s.",
                    post=other.post,
                    event=other.event.title,
                    time=to_local(other.starts_at).strftime("%m-%d %H:%M"),
                )
            )
        )
    if profile is not None and profile.birth_date is not None:
        age = profile.age_on(to_local(shift.starts_at).date())
        assert age is not None
        if (event.adults_only or event.dangerous) and age < 18:
            reasons.append(str(_l("This event is for adults (18 and over) only.")))
        elif event.min_age and age < event.min_age:
            reasons.append(str(_l("The minimum age for this event is %(n)d.", n=event.min_age)))
    if event.party_only and not (
        profile and profile.political_status and profile.political_status.is_party_member
    ):
        reasons.append(str(_l("This event is for Party members only.")))
    if (event.team_only or event.visibility is Visibility.MEMBERS) and not teams.is_member(
        user, team_ids_for(event)
    ):
        reasons.append(str(_l("This event is for members of the host's volunteer teams only.")))
    full = shift.taken >= shift.capacity and (
        not shift.waitlist_enabled or shift.waitlisted >= shift.waitlist_limit
    )
    if full:
        reasons.append(str(_l("This shift is full.")))
    return reasons


def _claim_place(shift_id: int) -> bool:
    """Take one place if one is free: true when this request got it."""
    result = db.session.execute(
        update(Shift)
        .where(Shift.id == shift_id, Shift.taken < Shift.capacity, Shift.cancelled.is_(False))
        .values(taken=Shift.taken + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _claim_waitlist(shift_id: int) -> bool:
    result = db.session.execute(
        update(Shift)
        .where(
            Shift.id == shift_id,
            Shift.waitlist_enabled.is_(True),
            Shift.waitlisted < Shift.waitlist_limit,
            Shift.cancelled.is_(False),
        )
        .values(waitlisted=Shift.waitlisted + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


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
    reasons = refusal_reasons(user, shift, now=now, today=today, policy=policy)
    held = no_show_hold_until(user, now, policy) is not None
    if reasons:
        raise ServiceError(reasons)
    status = None
    if not held and _claim_place(shift.id):
        status = SignupStatus.CONFIRMED
    elif _claim_waitlist(shift.id):
        status = SignupStatus.WAITLISTED
    if status is None:
        raise ServiceError(_l("This shift is full."))
    # From here on this request holds the shift row: its place in the queue is now.
    signup = Signup(
        shift_id=shift.id,
        user_id=user.id,
        status=status,
        queued_at=queue_time(shift.id, now),
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(signup)
            db.session.flush()
    except IntegrityError:
        # The same volunteer in two requests at once: the unique index keeps one. The
        # caller rolls back, which also returns the place this request claimed.
        raise ServiceError(_l("You have already signed up for this shift.")) from None
    # Counted under the shift's lock: every sign-up queued before this one has committed
    # (each held the lock until then) and a fresh statement sees it, even under READ
    # COMMITTED; none queued after it exists yet. So the number told is the final one.
    position = waitlist_position(signup) if status is SignupStatus.WAITLISTED else None
    notices.signed_up(signup, position, now=now)
    return SignupResult(signup, position)


def queue_time(shift_id: int, now: datetime) -> datetime:
    """The sign-up's place in the shift's queue, taken while the shift row is held: `now`,
    or just after the latest one queued if a clock read before the lock lags behind it,
    so that the queue's order (queued_at, id) is the order in which the lock was had."""
    latest = db.session.scalar(
        select(func.max(Signup.queued_at)).where(Signup.shift_id == shift_id)
    )
    if latest is not None and latest >= now:
        return latest + timedelta(microseconds=1)
    return now


def waitlist_position(signup: Signup) -> int | None:
    """1 for the first in line; None when the sign-up is not on the waitlist."""
    if signup.status is not SignupStatus.WAITLISTED:
        return None
    ahead = db.session.scalar(
        select(func.count())
        .select_from(Signup)
        .where(
            Signup.shift_id == signup.shift_id,
            Signup.status == SignupStatus.WAITLISTED,
            (Signup.queued_at < signup.queued_at)
            | and_(Signup.queued_at == signup.queued_at, Signup.id < signup.id),
        )
    )
    return int(ahead) + 1


def _lock_shift(shift_id: int) -> Shift:
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
        if first is None:
            break
        moved = db.session.execute(
            update(Shift)
            .where(Shift.id == shift_id, Shift.taken < Shift.capacity, Shift.waitlisted > 0)
            .values(taken=Shift.taken + 1, waitlisted=Shift.waitlisted - 1)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:
            break
        first.status = SignupStatus.CONFIRMED
        first.promoted_at = now
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
    shift = _lock_shift(signup.shift_id)
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
    changed = db.session.execute(
        update(Signup)
        .where(Signup.id == signup.id, Signup.status == signup.status)
        .values(
            status=SignupStatus.CANCELLED,
            cancelled_at=now,
            cancel_reason=(reason or "")[:200] or None,
            cancelled_by_id=actor.id,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise ServiceError(_l("This sign-up is not active any more."))
    counter = Shift.taken if was_confirmed else Shift.waitlisted
    db.session.execute(
        update(Shift)
        .where(Shift.id == shift.id)
        .values({counter.key: counter - 1})
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    db.session.refresh(signup)
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
    shift = _lock_shift(shift.id)
    if active_signup(user, shift) is not None:
        raise ServiceError(_l("This volunteer is already signed up for this shift."))
    if shift.cancelled:
        raise ServiceError(_l("This shift is not open for sign-up."))
    over = not _claim_place(shift.id)
    if over:
        db.session.execute(
            update(Shift)
            .where(Shift.id == shift.id)
            .values(taken=Shift.taken + 1)
            .execution_options(synchronize_session=False)
        )
    signup = Signup(
        shift_id=shift.id,
        user_id=user.id,
        status=SignupStatus.CONFIRMED,
        queued_at=queue_time(shift.id, now),
        created_at=now,
        over_capacity=over,
        source="organiser",
    )
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
