"""What the logged-in home page shows a volunteer: hours and stars, the next shift, events
near home, and the registration steps still to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import hours
from ..extensions import db
from ..models import Event, Shift, Signup, SignupStatus, User, VolunteerProfile
from . import listing, volunteers

NEARBY_EVENTS = 3


@dataclass
class Home:
    minutes: int
    stars: hours.Stars
    next_signup: Signup | None
    nearby: list[Event] = field(default_factory=list)
    missing: list[volunteers.Step] = field(default_factory=list)
    community: str | None = None


def next_signup(user: User, now: datetime) -> Signup | None:
    """The volunteer's next confirmed (or waitlisted) shift that has not ended."""
    return db.session.scalar(
        select(Signup)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(
            Signup.user_id == user.id,
            Signup.status.in_(
                [SignupStatus.CONFIRMED, SignupStatus.ATTENDED, SignupStatus.WAITLISTED]
            ),
            Shift.ends_at > now,
            Shift.cancelled.is_(False),
        )
        .options(joinedload(Signup.shift).joinedload(Shift.event))
        .order_by(Shift.starts_at, Shift.id)
        .limit(1)
    )


def volunteer_home(user: User, *, now: datetime, today: date) -> Home:
    """Everything the home page shows a logged-in person, in a handful of queries."""
    minutes = hours.approved_minutes(user.id)
    profile = db.session.get(VolunteerProfile, user.id)
    nearby = listing.near_home(user, now=now, limit=NEARBY_EVENTS) or list(
        db.session.scalars(
            listing.query_events(user, listing.Filters(), now=now, today=today).limit(
                NEARBY_EVENTS
            )
        ).unique()
    )
    return Home(
        minutes=minutes,
        stars=hours.stars_for(minutes),
        next_signup=next_signup(user, now),
        nearby=nearby,
        missing=volunteers.missing_steps(profile, today),
        community=profile.community.name if profile and profile.community else None,
    )
