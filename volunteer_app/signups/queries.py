"""Sign-up reads: who may see an event, why a volunteer cannot sign up, waitlist positions.

Plain reads with explicit arguments; nothing here changes a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, func, literal_column, or_, select

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
from ..services import teams, volunteers
from ..timeutil import to_local

#: Sign-ups a volunteer can still cancel: a place or a waitlist slot.
ACTIVE = (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED)


@dataclass(frozen=True)
class HoldPolicy:
    """Repeated no-shows hold a volunteer to the waitlist for a while."""

    no_shows: int = 3  # this many no-shows …
    within_days: int = 90  # … within this many days …
    hold_days: int = 30  # … allow only waitlisting for this long after the last one


# The reads of every sign-up, built once (each is a plain statement with bound parameters,
# so a request pays neither for building it nor for its cache key).
_NO_SHOWS = (
    select(Shift.ends_at)
    .join(Signup, Signup.shift_id == Shift.id)
    .where(
        Signup.user_id == bindparam("user_id"),
        Signup.status == SignupStatus.NO_SHOW,
        Shift.ends_at > bindparam("since"),
    )
    .order_by(Shift.ends_at.desc())
)


def no_show_hold_until(user: User, now: datetime, policy: HoldPolicy) -> datetime | None:
    """When the volunteer's no-show hold ends, or None if there is none now."""
    rows = db.session.scalars(
        _NO_SHOWS, {"user_id": user.id, "since": now - timedelta(days=policy.within_days)}
    ).all()
    return _hold_until(rows, now, policy)


def _hold_until(no_show_ends: list[datetime], now: datetime, policy: HoldPolicy) -> datetime | None:
    """The hold's end from the ends of the no-show shifts within the window, newest first."""
    if len(no_show_ends) < policy.no_shows:
        return None
    until = no_show_ends[0] + timedelta(days=policy.hold_days)
    return until if until > now else None


@dataclass(frozen=True)
class Standing:
    """The volunteer's sign-ups that bear on signing up for one shift, read in one
    statement: a sign-up of this shift already, active sign-ups whose time overlaps it
    (earliest first), and the ends of no-show shifts within the hold window (newest first)."""

    already: bool
    clashes: list[int]
    no_show_ends: list[datetime]

    def hold_until(self, now: datetime, policy: HoldPolicy) -> datetime | None:
        return _hold_until(self.no_show_ends, now, policy)


# The three reads a sign-up needs (its active sign-up, overlapping ones, recent no-shows) in one:
# each row is then sorted into the parts of `Standing` by the same conditions in Python.
def _standing_statement():
    """On the tables (a plain statement: no ORM work per request)."""
    signup, shift = Signup.__table__.c, Shift.__table__.c
    return (
        select(signup.shift_id, signup.status, shift.starts_at, shift.ends_at, shift.cancelled)
        .select_from(Signup.__table__.join(Shift.__table__, shift.id == signup.shift_id))
        .where(
            signup.user_id == bindparam("user_id"),
            or_(
                and_(
                    signup.shift_id == bindparam("shift_id"),
                    signup.status != SignupStatus.CANCELLED,
                ),
                and_(
                    signup.status.in_(ACTIVE),
                    shift.cancelled.is_(False),
                    shift.starts_at < bindparam("ends_at"),
                    shift.ends_at > bindparam("starts_at"),
                ),
                and_(signup.status == SignupStatus.NO_SHOW, shift.ends_at > bindparam("since")),
            ),
        )
    )


_STANDING = _standing_statement()


def standing(user: User, shift: Shift, *, now: datetime, policy: HoldPolicy) -> Standing:
    since = now - timedelta(days=policy.within_days)
    rows = db.session.execute(
        _STANDING,
        {
            "user_id": user.id,
            "shift_id": shift.id,
            "starts_at": shift.starts_at,
            "ends_at": shift.ends_at,
            "since": since,
        },
    ).all()
    already = False
    clashes: list[tuple[datetime, int]] = []
    no_show_ends: list[datetime] = []
    for shift_id, status, starts_at, ends_at, cancelled in rows:
        if shift_id == shift.id:
            already = already or status is not SignupStatus.CANCELLED
        elif (
            status in ACTIVE
            and not cancelled
            and starts_at < shift.ends_at
            and ends_at > shift.starts_at
        ):
            clashes.append((starts_at, shift_id))
        if status is SignupStatus.NO_SHOW and ends_at > since:
            no_show_ends.append(ends_at)
    return Standing(
        already=already,
        clashes=[shift_id for _starts, shift_id in sorted(clashes)],
        no_show_ends=sorted(no_show_ends, reverse=True),
    )


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


_ACTIVE_SIGNUP = select(Signup).where(
    Signup.user_id == bindparam("user_id"),
    Signup.shift_id == bindparam("shift_id"),
    Signup.status != SignupStatus.CANCELLED,
)


def active_signup(user: User, shift: Shift) -> Signup | None:
    return db.session.scalar(_ACTIVE_SIGNUP, {"user_id": user.id, "shift_id": shift.id})


def refusal_reasons(
    user: User,
    shift: Shift,
    *,
    now: datetime,
    today: date,
    policy: HoldPolicy,
    known: Standing | None = None,
) -> list[str]:
    """Every reason the volunteer cannot sign up for the shift now (empty: they can).
    `known`: the volunteer's `standing` for this shift, when the caller has read it."""
    event = shift.event
    known = known or standing(user, shift, now=now, policy=policy)
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
    if known.already:
        reasons.append(str(_l("You have already signed up for this shift.")))
    if known.clashes:
        other = db.session.get(Shift, known.clashes[0])
        assert other is not None
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


_LATEST_QUEUED = select(func.max(Signup.__table__.c.queued_at)).where(
    Signup.__table__.c.shift_id == bindparam("shift_id")
)


def _latest_queued_before_insert():
    """The latest place in the queue of the shift of the sign-up being inserted, others
    than itself: read by the sign-up's own INSERT (RETURNING), so that a volunteer's
    sign-up spends no statement on it. The INSERT follows the conditional UPDATE that
    holds the shift row, so its fresh snapshot sees every sign-up queued before."""
    signups = Signup.__table__
    earlier = signups.alias("earlier")
    # The inserted row's columns, named with their table: an INSERT names its own columns
    # bare, which beside the alias's would be ambiguous.
    new = {name: literal_column(f"{signups.name}.{name}") for name in ("id", "shift_id")}
    return (
        select(func.max(earlier.c.queued_at))
        .where(earlier.c.shift_id == new["shift_id"], earlier.c.id != new["id"])
        .scalar_subquery()
    )


#: For `insert_now(signup, returning=LATEST_QUEUED_BEFORE)`, then `queue_place`.
LATEST_QUEUED_BEFORE = (_latest_queued_before_insert(),)


def queue_place(latest: datetime | None, now: datetime) -> datetime:
    """The sign-up's place in the shift's queue, taken while the shift row is held: `now`,
    or just after the latest one queued if a clock read before the lock lags behind it,
    so that the queue's order (queued_at, id) is the order in which the lock was had."""
    if latest is not None and latest >= now:
        return latest + timedelta(microseconds=1)
    return now


def queue_time(shift_id: int, now: datetime) -> datetime:
    """`queue_place` after the latest sign-up of the shift is read by a statement of its
    own (a sign-up by an organiser; a volunteer's reads it with its INSERT)."""
    return queue_place(db.session.scalar(_LATEST_QUEUED, {"shift_id": shift_id}), now)


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
