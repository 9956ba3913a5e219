"""The hours ledger's writes: records from confirmed shifts, manual and correction records,
approvals. An approval enters the tally tables in the same transaction
(`tallies.operations.apply_to_tallies`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..checkin.queries import credited_minutes
from ..extensions import db
from ..models import (
    Attendance,
    OrgKind,
    OrgUnit,
    RecordKind,
    RecordStatus,
    Role,
    ServiceRecord,
    Shift,
    User,
    VolunteerProfile,
)
from ..permissions import decidable_records, led_shifts
from ..services import ServiceError, approvals, attribution, audit, notices
from ..services.scope import covers
from ..tallies.operations import apply_to_tallies
from ..timeutil import to_local
from .queries import approved_minutes_of

# ---------------------------------------------------------------- writing records


def _snapshot(user_id: int, at: datetime) -> dict:
    """The volunteer's community and Party branch at the time of service (the affiliation
    history), and their political status."""
    profile = db.session.get(VolunteerProfile, user_id)
    if profile is None:
        return {"community_id": None, "branch_id": None, "political_status": ""}
    community_id, branch_id = attribution.affiliation_at(profile, at)
    return {
        "community_id": community_id,
        "branch_id": branch_id,
        "political_status": profile.political_status.value if profile.political_status else "",
    }


def confirm_shift(
    actor: User, shift: Shift, *, now: datetime, grace_minutes: int = 0, ip: str | None = None
) -> list[ServiceRecord]:
    """The lead confirms the shift: one pending service record per volunteer who attended,
    with the credited time. Confirming twice is refused (and could not duplicate: a
    volunteer has one service record per shift)."""
    if not led_shifts.can(actor, shift):
        raise ServiceError(_l("You do not lead this shift."))
    if shift.confirmed_at is not None:
        raise ServiceError(_l("This shift has already been confirmed."))
    if now < shift.ends_at:
        raise ServiceError(_l("A shift can be confirmed after it has ended."))
    open_rows = db.session.scalar(
        select(func.count())
        .select_from(Attendance)
        .where(Attendance.shift_id == shift.id, Attendance.checked_out_at.is_(None))
    )
    if open_rows:
        raise ServiceError(
            _l("%(n)d volunteers have not checked out; correct their times first.", n=open_rows)
        )
    event = shift.event
    lead_names = [lead.user.display_name for lead in shift.leads] or [actor.display_name]
    records = []
    for attendance in db.session.scalars(
        select(Attendance).where(Attendance.shift_id == shift.id).order_by(Attendance.id)
    ):
        minutes = credited_minutes(
            attendance.checked_in_at,
            attendance.checked_out_at,
            shift.starts_at,
            shift.ends_at,
            grace_minutes,
        )
        if minutes <= 0:
            continue
        record = ServiceRecord(
            user_id=attendance.user_id,
            kind=RecordKind.SERVICE,
            shift_id=shift.id,
            event_id=event.id,
            activity=f"{event.title}（{shift.post}）"[:100],
            service_date=to_local(shift.starts_at).date(),
            place=event.address[:200],
            content=(shift.duties or shift.post)[:300],
            minutes=minutes,
            organisation=event.host.name[:100],
            lead_name="、".join(lead_names)[:50],
            host_id=event.host_id,
            service_area_id=event.area_id,
            category=event.category,
            created_by_id=actor.id,
            created_at=now,
            **_snapshot(attendance.user_id, shift.starts_at),
        )
        db.session.add(record)
        records.append(record)
    shift.confirmed_at = now
    shift.confirmed_by_id = actor.id
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ServiceError(_l("This shift has already been confirmed.")) from None
    audit.record("shift.confirm", actor=actor, ip=ip, obj=shift, records=len(records))
    return records


def add_manual(
    actor: User,
    user: User,
    *,
    host: OrgUnit,
    activity: str,
    service_date: date,
    minutes: int,
    place: str,
    content: str,
    category: str,
    reason: str,
    today: date,
    service_area: OrgUnit | None = None,
    ip: str | None = None,
) -> ServiceRecord:
    """Service done off the platform, entered by an organiser of the host with a reason."""
    if not covers(actor, host, [Role.ORGANISER]):
        raise ServiceError(_l("You may not record hours for this unit."))
    problems = []
    if not activity.strip():
        problems.append(str(_l("Please name the activity.")))
    if not 1 <= minutes <= 24 * 60:
        problems.append(str(_l("Service time must be between 1 minute and 24 hours.")))
    if service_date > today:
        problems.append(str(_l("The date cannot be in the future.")))
    if not reason.strip():
        problems.append(str(_l("Please give the reason for a manual record.")))
    if problems:
        raise ServiceError(problems)
    # Where the service was done: the given area, else the host itself when it is one.
    area = service_area or (host if host.kind is OrgKind.AREA else None)
    record = ServiceRecord(
        user_id=user.id,
        kind=RecordKind.MANUAL,
        activity=activity.strip()[:100],
        service_date=service_date,
        place=place[:200],
        content=content[:300],
        minutes=minutes,
        organisation=host.name[:100],
        lead_name=actor.display_name[:50],
        host_id=host.id,
        service_area_id=area.id if area else None,
        category=category,
        reason=reason[:300],
        created_by_id=actor.id,
        **_snapshot(user.id, attribution.service_moment(service_date)),
    )
    db.session.add(record)
    db.session.flush()
    audit.record("hours.manual", actor=actor, ip=ip, obj=record, minutes=minutes, user=user.id)
    return record


#: What a correction takes over from the record it corrects: the volunteer, the Art 7 fields
#: and the attribution snapshot, so it is counted exactly where the original was.
_CORRECTION_COPIES = (
    "user_id",
    "shift_id",
    "event_id",
    "activity",
    "service_date",
    "place",
    "content",
    "organisation",
    "lead_name",
    "community_id",
    "branch_id",
    "host_id",
    "service_area_id",
    "category",
    "political_status",
)


def add_correction(
    actor: User, original: ServiceRecord, delta_minutes: int, reason: str, *, ip: str | None = None
) -> ServiceRecord:
    """A new row that adds (or removes) minutes to an approved record, with the reason; the
    original stays as it was. Its attribution is the original's."""
    host = db.session.get(OrgUnit, original.host_id) if original.host_id else None
    if host is None or not covers(actor, host, [Role.ORGANISER]):
        raise ServiceError(_l("You may not correct this record."))
    if original.status is not RecordStatus.APPROVED:
        raise ServiceError(_l("Only an approved record can be corrected; decide it first."))
    if delta_minutes == 0 or not reason.strip():
        raise ServiceError(_l("A correction needs a change in minutes and a reason."))
    if approved_minutes_of(original) + delta_minutes < 0:
        raise ServiceError(_l("A correction cannot make the record's time negative."))
    record = ServiceRecord(
        kind=RecordKind.CORRECTION,
        corrects_id=original.id,
        minutes=delta_minutes,
        reason=reason[:300],
        created_by_id=actor.id,
        **{name: getattr(original, name) for name in _CORRECTION_COPIES},
    )
    db.session.add(record)
    db.session.flush()
    audit.record(
        "hours.correct",
        actor=actor,
        ip=ip,
        obj=record,
        corrects=original.id,
        minutes=delta_minutes,
        reason=reason,
    )
    return record


def decide(
    actor: User,
    records: Iterable[ServiceRecord],
    approve: bool,
    *,
    now: datetime,
    ip: str | None = None,
) -> int:
    """Approve or reject pending records (all at once or one by one); approved ones enter
    the tallies in the same transaction. Returns how many were decided.

    The records and the originals of corrections are locked first and read again, so a
    record decided meanwhile by someone else is skipped, and "never below zero" is checked
    against every correction approved before this one (concurrent approvals of two
    corrections of one record queue on the original's lock)."""
    records = list(records)
    _lock_for_decision(records)
    count = 0
    for record in records:
        if not decidable_records.can(actor, record):
            raise ServiceError(approvals.refusal(actor, record))
        if record.status is not RecordStatus.PENDING:
            continue
        if approve and record.kind is RecordKind.CORRECTION and record.corrects_id is not None:
            original = db.session.get(ServiceRecord, record.corrects_id)
            if original is not None and approved_minutes_of(original) + record.minutes < 0:
                raise ServiceError(
                    _l(
                        "The correction of %(minutes)d minutes to the record “%(activity)s” "
                        "of %(day)s would make its time negative (other corrections have "
                        "been approved since); reject it instead.",
                        minutes=record.minutes,
                        activity=record.activity,
                        day=record.service_date.isoformat(),
                    )
                )
        record.status = RecordStatus.APPROVED if approve else RecordStatus.REJECTED
        record.decided_by_id = actor.id
        record.decided_at = now
        if approve:
            apply_to_tallies(record)
        notices.record_decided(record, now=now)
        count += 1
    db.session.flush()
    if count:
        audit.record(
            "hours.approve" if approve else "hours.reject", actor=actor, ip=ip, count=count
        )
    return count


def _lock_for_decision(records: list[ServiceRecord]) -> None:
    """Lock the records and the originals they correct (SELECT … FOR UPDATE, in id order
    so that two deciders cannot deadlock; on SQLite the write transaction is exclusive
    already) and read their status again."""
    ids = {r.id for r in records} | {r.corrects_id for r in records if r.corrects_id}
    if not ids:
        return
    db.session.scalars(
        select(ServiceRecord)
        .where(ServiceRecord.id.in_(ids))
        .order_by(ServiceRecord.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
