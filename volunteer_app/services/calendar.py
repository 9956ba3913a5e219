"""iCalendar (.ics) files for shifts and the personal calendar feed."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from icalendar import Calendar
from icalendar import Event as IcsEvent
from sqlalchemy import select

from ..extensions import db
from ..models import Shift, Signup, SignupStatus, User
from ..timeutil import utcnow
from .text import strip_forbidden

PRODID = "-//Volunteers First//志愿先行//ZH"


def _line(value: str | None) -> str:
    """One line of text for a calendar property: no line breaks or control characters
    (a title that came in with CR LF would otherwise break the file)."""
    return strip_forbidden(value or "").strip()


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def build(shifts: Iterable[Shift], *, name: str, url_for_event) -> bytes:
    """A calendar with one VEVENT per shift; `url_for_event(event)` gives its page URL."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", _line(name))
    cal.add("x-wr-timezone", "Asia/Shanghai")
    stamp = _aware(utcnow())
    for shift in shifts:
        event = shift.event
        item = IcsEvent()
        item.add("uid", f"shift-{shift.id}@volunteers-first")
        item.add("dtstamp", stamp)
        item.add("dtstart", _aware(shift.starts_at))
        item.add("dtend", _aware(shift.ends_at))
        item.add("summary", _line(f"{event.title} · {shift.post}"))
        item.add("location", _line(event.address))
        url = url_for_event(event)
        parts = (shift.duties, event.contact_name, url)
        item.add("description", strip_forbidden("\n".join(p for p in parts if p), multiline=True))
        item.add("url", url)
        if shift.cancelled or event.status.value == "cancelled":
            item.add("status", "CANCELLED")
        cal.add_component(item)
    return cal.to_ical()


def feed_token(user: User) -> str:
    """The user's calendar feed secret, made on first use."""
    if not user.calendar_token:
        user.calendar_token = secrets.token_urlsafe(32)
        db.session.flush()
    return user.calendar_token


def renew_token(user: User) -> str:
    """A new secret; links with the old one stop working."""
    user.calendar_token = secrets.token_urlsafe(32)
    db.session.flush()
    return user.calendar_token


def feed_shifts(token: str) -> tuple[User, list[Shift]] | None:
    """The owner of the token and their confirmed or waitlisted shifts."""
    user = db.session.scalar(select(User).where(User.calendar_token == token))
    if user is None or user.deleted_at is not None:
        return None
    shifts = db.session.scalars(
        select(Shift)
        .join(Signup, Signup.shift_id == Shift.id)
        .where(
            Signup.user_id == user.id,
            Signup.status.in_(
                [SignupStatus.CONFIRMED, SignupStatus.WAITLISTED, SignupStatus.ATTENDED]
            ),
        )
        .order_by(Shift.starts_at)
    ).all()
    return user, list(shifts)
