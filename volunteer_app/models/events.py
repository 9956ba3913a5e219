"""Events (活动), their shifts (班次/岗位), leads and sign-ups (报名)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow
from .orgs import OrgUnit
from .people import User, _values


class EventStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    MEMBERS = "members"  # members of the host's teams only


class Event(db.Model):
    """An activity hosted by an org node; volunteers sign up for its shifts."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_status_starts", "status", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    #: The town or community the event serves (for "near me" and the filters).
    area_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(30))
    address: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    contact_name: Mapped[str] = mapped_column(String(50), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    min_age: Mapped[int | None]
    adults_only: Mapped[bool] = mapped_column(default=False)
    party_only: Mapped[bool] = mapped_column(default=False)
    team_only: Mapped[bool] = mapped_column(default=False)
    #: Work unsuitable for minors (Shandong regulation Art 10): adults only, enforced.
    dangerous: Mapped[bool] = mapped_column(default=False)
    visibility: Mapped[Visibility] = mapped_column(
        Enum(Visibility, native_enum=False, length=10, values_callable=_values),
        default=Visibility.PUBLIC,
    )
    status: Mapped[EventStatus] = mapped_column(
        Enum(EventStatus, native_enum=False, length=10, values_callable=_values),
        default=EventStatus.DRAFT,
    )
    #: First and last shift times, kept by services.events for listing and filtering.
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    #: Events made by "repeat" share a series key.
    series_key: Mapped[str | None] = mapped_column(String(32), index=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    host: Mapped[OrgUnit] = relationship(foreign_keys=[host_id])
    area: Mapped[OrgUnit | None] = relationship(foreign_keys=[area_id])
    shifts: Mapped[list[Shift]] = relationship(
        back_populates="event", order_by="Shift.starts_at, Shift.id", cascade="all, delete-orphan"
    )


class Shift(db.Model):
    """A post with a time window and a capacity. `taken` and `waitlisted` are counters
    claimed atomically (a conditional UPDATE), so concurrent sign-ups never overbook."""

    __tablename__ = "shifts"
    __table_args__ = (
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("taken >= 0", name="taken_not_negative"),
        CheckConstraint("waitlisted >= 0", name="waitlisted_not_negative"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_shifts_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    post: Mapped[str] = mapped_column(String(60))
    duties: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    capacity: Mapped[int]
    #: Places held by confirmed (or attended) sign-ups, organisers' overrides included.
    taken: Mapped[int] = mapped_column(default=0)
    waitlist_enabled: Mapped[bool] = mapped_column(default=True)
    waitlist_limit: Mapped[int] = mapped_column(default=10)
    #: Sign-ups on the waitlist now.
    waitlisted: Mapped[int] = mapped_column(default=0)
    #: Sign-up opens at this time (e.g. 7 days before the start).
    signup_opens_at: Mapped[datetime | None]
    #: Volunteers may cancel themselves until this many hours before the start.
    cancel_deadline_hours: Mapped[int] = mapped_column(default=2)
    checkin_opens_minutes: Mapped[int] = mapped_column(default=30)
    checkin_closes_minutes: Mapped[int] = mapped_column(default=30)
    cancelled: Mapped[bool] = mapped_column(default=False)
    #: Set when the lead confirmed the shift and its service records were written.
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    event: Mapped[Event] = relationship(back_populates="shifts")
    leads: Mapped[list[ShiftLead]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def places_left(self) -> int:
        return max(self.capacity - self.taken, 0)


class ShiftLead(db.Model):
    """A user (holding the lead role) who runs check-in for a shift."""

    __tablename__ = "shift_leads"
    __table_args__ = (UniqueConstraint("shift_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shifts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    user: Mapped[User] = relationship()


class SignupStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    NO_SHOW = "no_show"


#: Statuses that hold a place on the shift (count in Shift.taken).
PLACE_STATUSES = (SignupStatus.CONFIRMED, SignupStatus.ATTENDED)


class Signup(db.Model):
    """A volunteer's sign-up for a shift. At most one that is not cancelled per
    (shift, volunteer): a partial unique index enforces it on both databases."""

    __tablename__ = "signups"
    __table_args__ = (
        Index(
            "uq_signups_active",
            "shift_id",
            "user_id",
            unique=True,
            sqlite_where=text("status != 'cancelled'"),
            postgresql_where=text("status != 'cancelled'"),
        ),
        Index("ix_signups_shift_status", "shift_id", "status", "queued_at"),
        Index("ix_signups_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shifts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[SignupStatus] = mapped_column(
        Enum(SignupStatus, native_enum=False, length=12, values_callable=_values)
    )
    #: Waitlist order: earlier first (ties by id).
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Added by an organiser beyond the capacity.
    over_capacity: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(12), default="self")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    promoted_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    shift: Mapped[Shift] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
