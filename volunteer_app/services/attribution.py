"""The attribution snapshot of a service record: the volunteer's community and Party
branch at the time of service, read from the affiliation history (not the profile as it
is when the record is confirmed or entered)."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import or_, select

from ..extensions import db
from ..models import AffiliationHistory, VolunteerProfile
from ..timeutil import from_local

#: A manual record has only a date: the snapshot is taken at local noon of that day.
MANUAL_RECORD_TIME = time(12)


def service_moment(day: date) -> datetime:
    """The instant (naive UTC) that stands for a service date without a time."""
    return from_local(datetime.combine(day, MANUAL_RECORD_TIME))


def affiliation_at(profile: VolunteerProfile, at: datetime) -> tuple[int | None, int | None]:
    """(community id, branch id) the volunteer had at `at`: the history row valid then;
    before the first row, the first row (what they registered with); without any history,
    the profile."""
    history = AffiliationHistory
    row = db.session.scalar(
        select(history)
        .where(
            history.user_id == profile.user_id,
            history.valid_from <= at,
            or_(history.valid_to.is_(None), history.valid_to > at),
        )
        .order_by(history.valid_from.desc(), history.id.desc())
        .limit(1)
    )
    if row is None:
        row = db.session.scalar(
            select(history)
            .where(history.user_id == profile.user_id, history.valid_from > at)
            .order_by(history.valid_from, history.id)
            .limit(1)
        )
    if row is None:
        return profile.community_id, profile.branch_id
    return row.community_id, row.branch_id
