"""Volunteer profiles (the Ministry's record fields), affiliation history, team membership."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow
from .orgs import OrgUnit
from .people import User, _values


class IdType(enum.StrEnum):
    RESIDENT = "resident"  # 居民身份证 (GB 11643, 18 characters)
    HK_MACAO = "hk_macao"  # 港澳居民来往内地通行证
    TAIWAN = "taiwan"  # 台湾居民来往大陆通行证
    PASSPORT = "passport"  # 护照


class PoliticalStatus(enum.StrEnum):
    """GB/T 4762 政治面貌, by its two-digit code."""

    CPC_MEMBER = "01"  # 中国共产党党员
    CPC_PROBATIONARY = "02"  # 中国共产党预备党员
    CYL_MEMBER = "03"  # 中国共产主义青年团团员
    RCCK = "04"  # 民革党员
    CDL = "05"  # 民盟盟员
    CNDCA = "06"  # 民建会员
    CAPD = "07"  # 民进会员
    CPWDP = "08"  # 农工党党员
    CZGP = "09"  # 致公党党员
    JIUSAN = "10"  # 九三学社社员
    TDSGL = "11"  # 台盟盟员
    NON_PARTISAN = "12"  # 无党派人士
    MASSES = "13"  # 群众

    @property
    def is_party_member(self) -> bool:
        return self in (PoliticalStatus.CPC_MEMBER, PoliticalStatus.CPC_PROBATIONARY)


class Gender(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"


class VolunteerProfile(db.Model):
    """The volunteer record (民政部 办法 Art 5); one per account, filled step by step."""

    __tablename__ = "volunteer_profiles"
    __table_args__ = (
        Index("ix_volunteer_profiles_community_id", "community_id"),
        Index("ix_volunteer_profiles_branch_id", "branch_id"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    real_name: Mapped[str | None] = mapped_column(String(50))
    id_type: Mapped[IdType | None] = mapped_column(
        Enum(IdType, native_enum=False, length=16, values_callable=_values)
    )
    #: Fernet ciphertext of the ID number; never stored or logged in clear.
    id_number_encrypted: Mapped[str | None] = mapped_column(String(255))
    #: Keyed hash (HMAC) of type and number: uniqueness without decrypting.
    id_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: The first 6 and last 4 characters, kept for display (masking needs no key).
    id_masked: Mapped[str | None] = mapped_column(String(32))
    #: Derived from a resident ID number; typed only for other ID types.
    gender: Mapped[Gender | None] = mapped_column(
        Enum(Gender, native_enum=False, length=8, values_callable=_values)
    )
    birth_date: Mapped[date | None]
    community_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    political_status: Mapped[PoliticalStatus | None] = mapped_column(
        Enum(PoliticalStatus, native_enum=False, length=2, values_callable=_values)
    )
    #: Party members only; for in-service members (双报到) the work branch, while
    #: community_id is where they live and report.
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    skills: Mapped[list] = mapped_column(JSON, default=list)
    #: Preferred service categories (服务类别), codes from demo_data.CATEGORIES.
    service_categories: Mapped[list] = mapped_column(JSON, default=list)
    availability: Mapped[list] = mapped_column(JSON, default=list)
    emergency_name: Mapped[str | None] = mapped_column(String(50))
    emergency_phone: Mapped[str | None] = mapped_column(String(11))
    privacy_version: Mapped[str | None] = mapped_column(String(20))
    consented_at: Mapped[datetime | None]
    #: Separate consent to processing sensitive data (PIPL Art 29).
    sensitive_consented_at: Mapped[datetime | None]
    guardian_name: Mapped[str | None] = mapped_column(String(50))
    guardian_phone: Mapped[str | None] = mapped_column(String(11))
    guardian_consented_at: Mapped[datetime | None]
    #: 志愿者统一编号 in the national volunteer system (services.national_numbers).
    national_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    #: Sum of the volunteer's approved ledger minutes, kept with each approval (star level).
    approved_minutes: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(backref=db.backref("profile", uselist=False))
    community: Mapped[OrgUnit | None] = relationship(foreign_keys=[community_id])
    branch: Mapped[OrgUnit | None] = relationship(foreign_keys=[branch_id])

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class AffiliationHistory(db.Model):
    """Where a volunteer lived and which branch they belonged to, and since when."""

    __tablename__ = "affiliation_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    valid_to: Mapped[datetime | None]
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    community: Mapped[OrgUnit | None] = relationship(foreign_keys=[community_id])
    branch: Mapped[OrgUnit | None] = relationship(foreign_keys=[branch_id])


class MembershipStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    LEFT = "left"


class TeamMembership(db.Model):
    """A volunteer's request to join a 志愿服务队 and the organiser's answer."""

    __tablename__ = "team_memberships"
    __table_args__ = (UniqueConstraint("user_id", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    status: Mapped[MembershipStatus] = mapped_column(
        Enum(MembershipStatus, native_enum=False, length=10, values_callable=_values),
        default=MembershipStatus.PENDING,
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    team: Mapped[OrgUnit] = relationship()
