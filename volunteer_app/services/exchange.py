"""The export to the national volunteer system (办法 Art 4: records kept elsewhere are
entered into the system the Ministry designates, by its data standard).

A batch carries the approved records of a date range whose host lies in a node the
recorder holds the recorder role on: each record not exported before, and each exported
record whose hours an approved correction has changed since (a re-entry, 更正). The batch
marks what it carried (exchange_entries, with the hours carried), so the next batch offers
only what is new or corrected. The file holds full ID numbers: it is the one place they
leave the system, only for the recorder role, and every batch and every download is in the
audit log. Columns and headers come from data/exchange_columns.json (docs/exchange.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import (
    ExchangeBatch,
    ExchangeEntry,
    OrgUnit,
    RecordKind,
    RecordStatus,
    Role,
    ServiceRecord,
    User,
)
from . import ServiceError, audit
from .scope import covers, grant_nodes

#: Who may export (admin passes everywhere).
EXPORT_ROLES = (Role.RECORDER,)
#: Longest date range of one batch.
MAX_DAYS = 366


# ---------------------------------------------------------------- finding the records


@dataclass(frozen=True)
class Candidate:
    record: ServiceRecord
    #: Approved minutes with the approved corrections, now.
    minutes: int
    #: What the last batch carrying it carried; None when never exported.
    exported_minutes: int | None

    @property
    def is_correction(self) -> bool:
        return self.exported_minutes is not None


def recorder_nodes(user: User) -> list[OrgUnit]:
    """The nodes the user may export for."""
    return grant_nodes(user, EXPORT_ROLES)


def _corrections():
    return (
        select(
            ServiceRecord.corrects_id.label("record_id"),
            func.sum(ServiceRecord.minutes).label("extra"),
        )
        .where(
            ServiceRecord.kind == RecordKind.CORRECTION,
            ServiceRecord.status == RecordStatus.APPROVED,
        )
        .group_by(ServiceRecord.corrects_id)
        .subquery()
    )


def _last_exported():
    latest = (
        select(ExchangeEntry.record_id, func.max(ExchangeEntry.batch_id).label("batch_id"))
        .group_by(ExchangeEntry.record_id)
        .subquery()
    )
    return (
        select(ExchangeEntry.record_id, ExchangeEntry.minutes)
        .join(
            latest,
            and_(
                ExchangeEntry.record_id == latest.c.record_id,
                ExchangeEntry.batch_id == latest.c.batch_id,
            ),
        )
        .subquery()
    )


def _scan(scope: OrgUnit, *where) -> list[Candidate]:
    corrections = _corrections()
    last = _last_exported()
    hosts = select(OrgUnit.id).where(OrgUnit.path.startswith(scope.path, autoescape=True))
    rows = db.session.execute(
        select(ServiceRecord, func.coalesce(corrections.c.extra, 0), last.c.minutes)
        .outerjoin(corrections, corrections.c.record_id == ServiceRecord.id)
        .outerjoin(last, last.c.record_id == ServiceRecord.id)
        .where(
            ServiceRecord.kind != RecordKind.CORRECTION,
            ServiceRecord.status == RecordStatus.APPROVED,
            ServiceRecord.host_id.in_(hosts),
            *where,
        )
        .order_by(ServiceRecord.service_date, ServiceRecord.id)
    ).all()
    found = []
    for record, extra, exported in rows:
        minutes = record.minutes + int(extra)
        if exported is None and minutes <= 0:
            continue  # corrected away before it was ever exported
        if exported is not None and int(exported) == minutes:
            continue  # carried already, unchanged
        found.append(Candidate(record, minutes, None if exported is None else int(exported)))
    return found


def candidates(scope: OrgUnit, start: date, end: date) -> list[Candidate]:
    """What a batch for the range would carry: new records and exported ones corrected
    since."""
    return _scan(scope, ServiceRecord.service_date >= start, ServiceRecord.service_date <= end)


def to_re_enter(scope: OrgUnit) -> list[Candidate]:
    """Exported records whose hours a correction changed since: flagged for re-entry
    (whatever their date)."""
    exported = select(ExchangeEntry.record_id)
    return [c for c in _scan(scope, ServiceRecord.id.in_(exported)) if c.is_correction]


def check_range(start: date | None, end: date | None, today: date) -> list[str]:
    problems = []
    if start is None or end is None:
        problems.append(str(_l("Please choose the first and the last day.")))
    elif start > end:
        problems.append(str(_l("The first day must not be after the last day.")))
    elif end > today:
        problems.append(str(_l("The last day cannot be in the future.")))
    elif (end - start).days >= MAX_DAYS:
        problems.append(str(_l("A batch covers at most one year; please split the range.")))
    return problems


def create_batch(
    actor: User,
    scope: OrgUnit,
    start: date | None,
    end: date | None,
    *,
    today: date,
    now: datetime,
    ip: str | None = None,
) -> ExchangeBatch:
    """A batch of the new and corrected records of the range in the scope, each marked with
    it; audited."""
    if not covers(actor, scope, EXPORT_ROLES):
        raise ServiceError(_l("You may not export records for this unit."))
    problems = check_range(start, end, today)
    if problems:
        raise ServiceError(problems)
    assert start is not None and end is not None
    found = candidates(scope, start, end)
    if not found:
        raise ServiceError(_l("No new or corrected approved records in this range."))
    batch = ExchangeBatch(
        scope_id=scope.id,
        start=start,
        end=end,
        records=len(found),
        corrected=sum(1 for c in found if c.is_correction),
        volunteers=len({c.record.user_id for c in found}),
        created_by_id=actor.id,
        created_at=now,
    )
    db.session.add(batch)
    db.session.flush()
    db.session.add_all(
        ExchangeEntry(
            batch_id=batch.id,
            record_id=c.record.id,
            minutes=c.minutes,
            correction=c.is_correction,
        )
        for c in found
    )
    db.session.flush()
    audit.record(
        "exchange.batch",
        actor=actor,
        ip=ip,
        obj=batch,
        scope=scope.id,
        start=start.isoformat(),
        end=end.isoformat(),
        records=batch.records,
        corrected=batch.corrected,
    )
    return batch


def batches(user: User, limit: int = 50) -> list[ExchangeBatch]:
    """The latest batches of the user's recorder scope."""
    nodes = recorder_nodes(user)
    if not nodes:
        return []
    in_scope = [
        b
        for b in db.session.scalars(
            select(ExchangeBatch)
            .options(joinedload(ExchangeBatch.scope), joinedload(ExchangeBatch.created_by))
            .order_by(ExchangeBatch.id.desc())
            .limit(limit * 4)
        )
        if covers(user, b.scope, EXPORT_ROLES)
    ]
    return in_scope[:limit]
