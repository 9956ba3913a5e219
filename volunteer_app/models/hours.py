"""The hours ledger (志愿服务记录), training records, correction requests, and the tally
tables kept in step with the ledger for fast statistics."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, String, Text, event, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow
from .people import User, _values


class RecordKind(enum.StrEnum):
    SERVICE = "service"  # from a confirmed shift
    MANUAL = "manual"  # service done off the platform, entered by an organiser
    CORRECTION = "correction"  # a change (+/-) to an earlier record, with a reason


class RecordStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ServiceRecord(db.Model):
    """One row of the ledger (民政部 办法 Art 7 fields). Append-only: minutes, volunteer and
    attribution never change once written (a correction is a new row); only the decision
    (pending → approved / rejected) is set, once. The volunteer's community and Party branch,
    the category and the host are copied at service time so history does not move."""

    __tablename__ = "service_records"
    __table_args__ = (
        Index("ix_service_records_user_date", "user_id", "service_date"),
        Index("ix_service_records_status_created", "status", "created_at"),
        Index("ix_service_records_shift", "shift_id"),
        Index("ix_service_records_date", "service_date"),
        #: One service record per volunteer per shift: confirming twice cannot duplicate.
        Index(
            "uq_service_records_shift_user",
            "shift_id",
            "user_id",
            unique=True,
            sqlite_where=text("kind = 'service'"),
            postgresql_where=text("kind = 'service'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=False)
    kind: Mapped[RecordKind] = mapped_column(
        Enum(RecordKind, native_enum=False, length=12, values_callable=_values)
    )
    #: active_history: the append-only guard must see the stored status even when the
    #: attribute was expired (after a commit), or a decided record could be decided again.
    status: Mapped[RecordStatus] = mapped_column(
        Enum(RecordStatus, native_enum=False, length=10, values_callable=_values),
        default=RecordStatus.PENDING,
        active_history=True,
    )
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("shifts.id", ondelete="SET NULL"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    #: A correction points at the record it corrects.
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("service_records.id"))
    activity: Mapped[str] = mapped_column(String(100))  # 活动名称
    service_date: Mapped[date]  # 日期 (local)
    place: Mapped[str] = mapped_column(String(200), default="")  # 地点
    content: Mapped[str] = mapped_column(String(300), default="")  # 服务内容
    #: 服务时间 in minutes; negative only for corrections.
    minutes: Mapped[int]
    organisation: Mapped[str] = mapped_column(String(100), default="")  # 活动组织单位
    lead_name: Mapped[str] = mapped_column(String(50), default="")  # 活动负责人
    # Attribution snapshot (copied at service time).
    community_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    host_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    #: Where the service was done (the event's town or community), for 双报到 reports.
    service_area_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    category: Mapped[str] = mapped_column(String(30), default="other")
    political_status: Mapped[str] = mapped_column(String(2), default="")
    reason: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])


#: Columns a ledger row may never change after it is written.
IMMUTABLE = (
    "user_id",
    "kind",
    "shift_id",
    "event_id",
    "corrects_id",
    "activity",
    "service_date",
    "minutes",
    "community_id",
    "branch_id",
    "host_id",
    "category",
    "political_status",
)


@event.listens_for(ServiceRecord, "before_update")
def _append_only(_mapper, _connection, target: ServiceRecord) -> None:
    state = db.inspect(target)
    for name in IMMUTABLE:
        if state.attrs[name].history.has_changes():
            raise ValueError(f"service_records is append-only: {name} cannot change")
    status = state.attrs["status"].history
    if status.has_changes() and status.deleted and status.deleted[0] is not RecordStatus.PENDING:
        raise ValueError("a decided service record cannot be decided again")


class TrainingRecord(db.Model):
    """Training (培训) — kept apart from service hours: 名称、主要内容、学习时长、举办单位、日期."""

    __tablename__ = "training_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(String(300), default="")
    minutes: Mapped[int]
    organiser: Mapped[str] = mapped_column(String(100))
    held_on: Mapped[date]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CorrectionRequest(db.Model):
    """A volunteer asks for a record to be corrected (办法 Art 12–13); an organiser answers."""

    __tablename__ = "correction_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("service_records.id"))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None]

    record: Mapped[ServiceRecord | None] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class TallyCell(db.Model):
    """Approved minutes and sessions by month × node × category × political status, for every
    node on the record's paths, per dimension: "area" (where the volunteer lives, rolled up
    community → town → district), "party" (the volunteer's branch up the Party tree) and
    "host" (the organiser). Kept in the same transaction as each ledger decision."""

    __tablename__ = "tally_cells"
    __table_args__ = (
        Index(
            "uq_tally_cells_key", "dim", "node_id", "month", "category", "political", unique=True
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dim: Mapped[str] = mapped_column(String(5))
    node_id: Mapped[int] = mapped_column()
    month: Mapped[int] = mapped_column()  # yyyymm, local
    category: Mapped[str] = mapped_column(String(30))
    political: Mapped[str] = mapped_column(String(2))
    minutes: Mapped[int] = mapped_column(BigInteger, default=0)
    sessions: Mapped[int] = mapped_column(default=0)


#: tally_people / tally_served rows of every political status together (the unfiltered
#: figures); other rows hold one status, as snapshotted on the ledger rows.
ALL_POLITICAL = "*"


class TallyPerson(db.Model):
    """That a volunteer served in a period at a node (area and party dimensions), so that
    "volunteers who served" is a count of rows instead of a DISTINCT over the ledger.

    Political status counts as it was at the time of service (the record's snapshot): a
    volunteer has one row per status they served under in the period, and one row with
    `political` = ALL_POLITICAL for all of them together. A volunteer who joined the Party
    mid-year is then counted under 群众 and under 党员 for that year, once without a filter."""

    __tablename__ = "tally_people"
    __table_args__ = (
        Index(
            "uq_tally_people_key", "dim", "node_id", "month", "user_id", "political", unique=True
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dim: Mapped[str] = mapped_column(String(5))
    node_id: Mapped[int] = mapped_column()
    month: Mapped[int] = mapped_column()
    user_id: Mapped[int] = mapped_column()
    #: A status code from the ledger's snapshot, or ALL_POLITICAL.
    political: Mapped[str] = mapped_column(String(2), default="")
    #: The volunteer's approved minutes in that month at that node (leaderboards).
    minutes: Mapped[int] = mapped_column(default=0)


class _NodeCounter:
    """The columns of a count of people per dimension × node × period key × political
    status (tally_served, tally_registrations): one row per key, changed by upserts."""

    id: Mapped[int] = mapped_column(primary_key=True)
    dim: Mapped[str] = mapped_column(String(5))
    node_id: Mapped[int] = mapped_column()
    month: Mapped[int] = mapped_column()
    political: Mapped[str] = mapped_column(String(2))
    people: Mapped[int] = mapped_column(default=0)


class TallyServed(_NodeCounter, db.Model):
    """How many volunteers served (net approved minutes > 0) per node and period key (a
    month yyyymm, a quarter yyyy2q or a year yyyy00, as in tally_people) and political
    status at the time of service (ALL_POLITICAL: whatever their status): "volunteers who
    served" in a whole month, quarter or year is then one row per node instead of a count
    over every volunteer. Kept with each change of tally_people."""

    __tablename__ = "tally_served"
    __table_args__ = (
        Index("uq_tally_served_key", "dim", "node_id", "month", "political", unique=True),
    )


class TallyNodePath(db.Model):
    """Scratch table: each org node with each of its ancestors (itself included), filled
    before the bulk tally rebuild and check so that SQL can roll sums up the trees."""

    __tablename__ = "tally_node_paths"

    node_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    ancestor_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


class TallyRegistration(_NodeCounter, db.Model):
    """Registered volunteers (consented profiles of accounts not deleted) per community
    ("area") and per Party branch ("party"), by political status and by the local month the
    account was created (`month` 0 holds the all-time total). Kept in step with every
    profile and account change by services.registrations, so "registered" and "new
    registrations" are a read of a few hundred rows instead of a count over every profile.
    `node_id` is the community or branch itself, not its ancestors: roll-ups follow the
    tree as it is today."""

    __tablename__ = "tally_registrations"
    __table_args__ = (
        Index("uq_tally_registrations_key", "dim", "node_id", "month", "political", unique=True),
    )
