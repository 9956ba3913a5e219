"""Accounts, role grants and login throttling."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow
from .orgs import OrgUnit


class Role(enum.StrEnum):
    VOLUNTEER = "volunteer"
    LEAD = "lead"
    ORGANISER = "organiser"
    BRANCH_SECRETARY = "branch_secretary"
    ADMIN = "admin"
    #: Exports records to the national system, with full ID numbers (docs/exchange.md).
    RECORDER = "recorder"


#: Roles that make an account "staff": idle timeout, no remember-me.
STAFF_ROLES = frozenset(
    {Role.LEAD, Role.ORGANISER, Role.BRANCH_SECRETARY, Role.ADMIN, Role.RECORDER}
)


def _values(enum_cls: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_cls]


class User(UserMixin, db.Model):
    """A login: a mainland mobile number and a password."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: 11 digits, 1[3-9]…; unique, the login name.
    phone: Mapped[str] = mapped_column(String(11), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(50), default="")
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    large_text: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    #: Set when the number was proven by an SMS code (registration or password reset).
    phone_verified_at: Mapped[datetime | None]
    #: Set when the volunteer deleted the account: personal fields are erased, the
    #: service records stay (anonymised) so tallies do not change.
    deleted_at: Mapped[datetime | None]
    #: Set (with deleted_at) when an administrator merged this duplicate account into
    #: another one (`flask people merge`): its history now belongs to that account.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Notification preferences: in-app always; SMS and e-mail by choice.
    email: Mapped[str | None] = mapped_column(String(120))
    notify_sms: Mapped[bool] = mapped_column(default=True)
    notify_email: Mapped[bool] = mapped_column(default=False)
    #: No SMS between these local hours (unless the shift starts within two hours).
    quiet_start: Mapped[int] = mapped_column(default=22)
    quiet_end: Mapped[int] = mapped_column(default=7)
    #: Secret for the personal calendar feed (webcal); replaced to revoke old links.
    calendar_token: Mapped[str | None] = mapped_column(String(43), unique=True)

    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        foreign_keys="RoleGrant.user_id",
    )

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def roles(self) -> set[Role]:
        return {grant.role for grant in self.grants}

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))

    @property
    def masked_phone(self) -> str:
        return f"{self.phone[:3]}****{self.phone[-4:]}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.masked_phone}>"


class RoleGrant(db.Model):
    """A role held on an org node; it covers the node's whole subtree."""

    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("user_id", "org_unit_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=_values)
    )
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="grants", foreign_keys=[user_id])
    org_unit: Mapped[OrgUnit] = relationship(lazy="joined")


class LoginThrottle(db.Model):
    """Failed logins per phone number, registered or not, so the lockout reveals nothing."""

    __tablename__ = "login_throttles"

    phone: Mapped[str] = mapped_column(String(11), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
