"""The national record (办法 Art 4): export batches to the national volunteer system and
what each carried, hours imported from it (转移接续), and issued certificate numbers."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow
from .orgs import OrgUnit
from .people import User


class ExchangeBatch(db.Model):
    """One export to the national system: the records of a date range in a scope that were
    new, or changed by a correction since they were last exported."""

    __tablename__ = "exchange_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    start: Mapped[date]
    end: Mapped[date]
    records: Mapped[int] = mapped_column(default=0)
    #: Of which re-entries: records exported before whose hours a correction changed.
    corrected: Mapped[int] = mapped_column(default=0)
    volunteers: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    scope: Mapped[OrgUnit] = relationship()
    created_by: Mapped[User | None] = relationship()


class ExchangeEntry(db.Model):
    """That a batch carried a record, with the hours it carried (the record's approved
    minutes with its approved corrections at the time): a later difference is a correction
    to re-enter."""

    __tablename__ = "exchange_entries"
    __table_args__ = (
        UniqueConstraint("batch_id", "record_id"),
        Index("ix_exchange_entries_record", "record_id", "batch_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("exchange_batches.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(ForeignKey("service_records.id"))
    minutes: Mapped[int]
    #: True when the record had been exported before (the row says 更正).
    correction: Mapped[bool] = mapped_column(default=False)


class ExternalRecord(db.Model):
    """Hours a volunteer has in the national system from elsewhere (转移接续), imported
    from its export. Shown in 我的时长 as 外部记录; never in the district's tallies or its
    ledger; counted for star levels only when EXTERNAL_HOURS_COUNT_FOR_STARS is set."""

    __tablename__ = "external_records"
    __table_args__ = (
        #: The same service imported twice is one row.
        UniqueConstraint(
            "user_id",
            "service_date",
            "minutes",
            "organisation",
            "activity",
            name="uq_external_records_service",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    service_date: Mapped[date]
    minutes: Mapped[int]
    organisation: Mapped[str] = mapped_column(String(100))
    activity: Mapped[str] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CertificateIssue(db.Model):
    """An issued certificate (志愿服务证明): its short number, read aloud over the phone,
    and what it certified; the verification page recomputes the hours from the ledger."""

    __tablename__ = "certificate_issues"

    number: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    start: Mapped[date]
    end: Mapped[date]
    issued_on: Mapped[date]
    minutes: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
