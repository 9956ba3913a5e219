"""The hours ledger: records from confirmed shifts, manual and correction records,
approvals, star levels, and the tally tables kept in step with every approval."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from ..checkin.queries import credited_minutes, leads_shift
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
    TallyCell,
    TallyPerson,
    TallyServed,
    User,
    VolunteerProfile,
)
from ..models.hours import ALL_POLITICAL
from ..timeutil import to_local
from . import ServiceError, approvals, attribution, audit, holidays, notices, registrations
from .database import upsert_sql
from .scope import covers

#: 星级志愿者: approved hours needed for each star (一星 … 五星).
STAR_HOURS = (100, 300, 600, 1000, 1500)
#: Unapproved records older than this many working days are overdue (办法 Art 11).
OVERDUE_WORKING_DAYS = 10


# ---------------------------------------------------------------- star levels


@dataclass(frozen=True)
class Stars:
    level: int  # 0 … 5
    hours: float
    next_at: int | None  # hours for the next star
    progress: float  # 0 … 1 towards the next star


def stars_for(minutes: int) -> Stars:
    hours = minutes / 60
    level = sum(1 for threshold in STAR_HOURS if hours >= threshold)
    if level == len(STAR_HOURS):
        return Stars(level, hours, None, 1.0)
    low = STAR_HOURS[level - 1] if level else 0
    high = STAR_HOURS[level]
    return Stars(level, hours, high, (hours - low) / (high - low))


def approved_minutes(user_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(ServiceRecord.minutes), 0)).where(
                ServiceRecord.user_id == user_id, ServiceRecord.status == RecordStatus.APPROVED
            )
        )
    )


# ---------------------------------------------------------------- working days


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end`: Monday to Friday, less the
    statutory holidays, plus the 调休 weekends (services.holidays)."""
    return holidays.working_days_between(start, end)


def is_overdue(record: ServiceRecord, today: date) -> bool:
    """Pending for more than 10 working days since the service (a correction: since it was
    made, as it carries its original's service date)."""
    start = (
        to_local(record.created_at).date()
        if record.kind is RecordKind.CORRECTION
        else record.service_date
    )
    return (
        record.status is RecordStatus.PENDING
        and working_days_between(start, today) > OVERDUE_WORKING_DAYS
    )


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
    if not leads_shift(actor, shift):
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


def approved_minutes_of(record: ServiceRecord) -> int:
    """The record's minutes with its approved corrections."""
    extra = db.session.scalar(
        select(func.coalesce(func.sum(ServiceRecord.minutes), 0)).where(
            ServiceRecord.corrects_id == record.id, ServiceRecord.status == RecordStatus.APPROVED
        )
    )
    return record.minutes + int(extra)


def can_decide(actor: User, record: ServiceRecord) -> bool:
    """Leads of the record's shift and organisers of its host approve it; under the
    four-eyes rule (approvals.four_eyes) only an organiser of the host who neither
    confirmed nor entered the record."""
    if approvals.four_eyes():
        return approvals.may_approve(actor, record)
    if record.shift_id is not None:
        shift = db.session.get(Shift, record.shift_id)
        if shift is not None and leads_shift(actor, shift):
            return True
    host = db.session.get(OrgUnit, record.host_id) if record.host_id else None
    return host is not None and covers(actor, host, [Role.ORGANISER])


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
        if not can_decide(actor, record):
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


# ---------------------------------------------------------------- tallies


def _paths(record: ServiceRecord) -> dict[str, list[int]]:
    ids = [i for i in (record.community_id, record.branch_id, record.host_id) if i]
    nodes = {n.id: n for n in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    paths = {}
    for dim, node_id in (
        ("area", record.community_id),
        ("party", record.branch_id),
        ("host", record.host_id),
    ):
        node = nodes.get(node_id) if node_id else None
        if node is not None:
            paths[dim] = node.ancestor_ids
    return paths


_CELL_SQL = upsert_sql(
    "tally_cells", ["dim", "node_id", "month", "category", "political"], ["minutes", "sessions"]
)
_PERSON_COLUMNS = ("dim", "node_id", "month", "user_id", "political", "minutes")
_SERVED_SQL = upsert_sql("tally_served", ["dim", "node_id", "month", "political"], ["people"])


def _people_upsert(count: int) -> str:
    """One multi-row upsert into tally_people returning each row's new minutes (SQLite ≥ 3.35
    and PostgreSQL): the change of each row is then known exactly, even under concurrency,
    since each row's update is atomic."""
    values = ", ".join(
        "(" + ", ".join(f":{c}_{i}" for c in _PERSON_COLUMNS) + ")" for i in range(count)
    )
    return (
        f"INSERT INTO tally_people ({', '.join(_PERSON_COLUMNS)}) VALUES {values} "  # noqa: S608
        "ON CONFLICT (dim, node_id, month, user_id, political) "
        "DO UPDATE SET minutes = tally_people.minutes + excluded.minutes "
        "RETURNING dim, node_id, month, political, minutes"
    )


def period_keys(day: date) -> tuple[int, int, int]:
    """The tally_people period keys a day belongs to: its month (yyyymm), its quarter
    (yyyy2q: 21…24) and its year (yyyy00). Whole quarters and years are then one row per
    volunteer, so "volunteers who served" is a count, not a DISTINCT over months."""
    return (
        day.year * 100 + day.month,
        day.year * 100 + 20 + (day.month - 1) // 3 + 1,
        day.year * 100,
    )


def is_month_key(column):
    """Rows of tally_people that are single months (not quarter or year totals)."""
    return (column % 100).between(1, 12)


def apply_to_tallies(record: ServiceRecord) -> None:
    """Add an approved record to every tally cell on its paths (one statement per cell,
    an upsert on both databases)."""
    month = record.service_date.year * 100 + record.service_date.month
    sessions = 1 if record.kind is not RecordKind.CORRECTION else 0
    cells, people = [], []
    for dim, node_ids in _paths(record).items():
        for node_id in node_ids:
            cells.append(
                {
                    "dim": dim,
                    "node_id": node_id,
                    "month": month,
                    "category": record.category,
                    "political": record.political_status,
                    "minutes": record.minutes,
                    "sessions": sessions,
                }
            )
            if dim != "host":
                # The volunteer under the status of the record's snapshot, and under all.
                people.extend(
                    {
                        "dim": dim,
                        "node_id": node_id,
                        "month": key,
                        "user_id": record.user_id,
                        "political": political,
                        "minutes": record.minutes,
                    }
                    for key in period_keys(record.service_date)
                    for political in (record.political_status, ALL_POLITICAL)
                )
    if cells:
        db.session.execute(text(_CELL_SQL), cells)
    if people:
        params = {f"{c}_{i}": row[c] for i, row in enumerate(people) for c in _PERSON_COLUMNS}
        served = []
        for dim, node_id, key, political, minutes in db.session.execute(
            text(_people_upsert(len(people))), params
        ):
            # Served = net minutes above zero: count the volunteer in or out on a crossing.
            change = (minutes > 0) - (minutes - record.minutes > 0)
            if change:
                served.append(
                    {
                        "dim": dim,
                        "node_id": node_id,
                        "month": key,
                        "political": political,
                        "people": change,
                    }
                )
        if served:
            db.session.execute(text(_SERVED_SQL), served)
    db.session.execute(
        update(VolunteerProfile)
        .where(VolunteerProfile.user_id == record.user_id)
        .values(approved_minutes=VolunteerProfile.approved_minutes + record.minutes)
        .execution_options(synchronize_session=False)
    )


# The same sums in bulk, straight from the ledger: for rebuilding after a bulk load and for
# checking the tables. `node_paths` expands every node into its ancestors (itself included).

_DIMENSION_COLUMNS = {"area": "community_id", "party": "branch_id", "host": "host_id"}


def _month_sql(dialect: str) -> str:
    if dialect == "sqlite":
        return "CAST(strftime('%Y%m', r.service_date) AS INTEGER)"
    return (
        "CAST(EXTRACT(YEAR FROM r.service_date) * 100 "
        "+ EXTRACT(MONTH FROM r.service_date) AS INTEGER)"
    )


def _fill_node_paths() -> None:
    db.session.execute(text("DELETE FROM tally_node_paths"))
    rows = [
        {"node_id": node_id, "ancestor_id": ancestor}
        for node_id, path in db.session.execute(select(OrgUnit.id, OrgUnit.path))
        for ancestor in (int(p) for p in path.strip("/").split("/") if p)
    ]
    if rows:
        db.session.execute(
            text(
                "INSERT INTO tally_node_paths (node_id, ancestor_id) "
                "VALUES (:node_id, :ancestor_id)"
            ),
            rows,
        )


def _cells_select(dim: str, dialect: str) -> str:
    column = _DIMENSION_COLUMNS[dim]
    return (
        f"SELECT '{dim}' AS dim, np.ancestor_id AS node_id, {_month_sql(dialect)} AS month, "  # noqa: S608
        "r.category AS category, r.political_status AS political, "
        "SUM(r.minutes) AS minutes, "
        "SUM(CASE WHEN r.kind = 'correction' THEN 0 ELSE 1 END) AS sessions "
        f"FROM service_records r JOIN tally_node_paths np ON np.node_id = r.{column} "
        "WHERE r.status = 'approved' "
        "GROUP BY np.ancestor_id, month, r.category, r.political_status"
    )


def _period_sql(dialect: str, kind: str) -> str:
    """SQL for the period key of r.service_date (see period_keys)."""
    if dialect == "sqlite":
        year = "CAST(strftime('%Y', r.service_date) AS INTEGER)"
        month = "CAST(strftime('%m', r.service_date) AS INTEGER)"
    else:
        year = "CAST(EXTRACT(YEAR FROM r.service_date) AS INTEGER)"
        month = "CAST(EXTRACT(MONTH FROM r.service_date) AS INTEGER)"
    if kind == "month":
        return f"({year} * 100 + {month})"
    if kind == "quarter":
        return f"({year} * 100 + 20 + ({month} - 1) / 3 + 1)"
    return f"({year} * 100)"


def _people_select(dim: str, dialect: str) -> str:
    """tally_people in one stage from the ledger: per period key, each volunteer's minutes
    under each status of the records' snapshots and under all statuses."""
    column = _DIMENSION_COLUMNS[dim]
    return " UNION ALL ".join(
        f"SELECT '{dim}' AS dim, np.ancestor_id AS node_id, "  # noqa: S608 - constant names
        f"{_period_sql(dialect, kind)} AS month, "
        f"r.user_id AS user_id, {political} AS political, SUM(r.minutes) AS minutes "
        f"FROM service_records r JOIN tally_node_paths np ON np.node_id = r.{column} "
        "WHERE r.status = 'approved' "
        f"GROUP BY np.ancestor_id, {_period_sql(dialect, kind)}, r.user_id{group}"
        for kind in ("month", "quarter", "year")
        for political, group in (
            ("r.political_status", ", r.political_status"),
            (f"'{ALL_POLITICAL}'", ""),
        )
    )


#: Each volunteer's approved total in one pass (UPDATE … FROM: PostgreSQL, SQLite ≥ 3.33).
_TOTALS_UPDATE = (
    "UPDATE volunteer_profiles SET approved_minutes = t.total FROM ("
    "SELECT user_id, SUM(minutes) AS total FROM service_records WHERE status = 'approved' "
    "GROUP BY user_id) AS t WHERE t.user_id = volunteer_profiles.user_id"
)
_TOTALS_CHECK = (
    "SELECT COUNT(*) FROM volunteer_profiles p LEFT JOIN ("
    "SELECT user_id, SUM(minutes) AS total FROM service_records WHERE status = 'approved' "
    "GROUP BY user_id) AS t ON t.user_id = p.user_id "
    "WHERE p.approved_minutes != COALESCE(t.total, 0)"
)


def _rebuild_cells(dim: str, dialect: str) -> None:
    """tally_cells for one dimension in bulk, in two stages: the ledger summed per node
    first (one pass over it), then those few rows rolled up the node paths. The same sums
    as _cells_select's one stage (which verify_tallies uses), three to four times faster:
    the join with the paths multiplies a few thousand rows, not the ledger."""
    column = _DIMENSION_COLUMNS[dim]
    db.session.execute(
        text(
            "INSERT INTO tally_cells (dim, node_id, month, category, political, minutes, "  # noqa: S608
            f"sessions) SELECT '{dim}', np.ancestor_id, g.month, g.category, g.political, "
            "SUM(g.minutes), SUM(g.sessions) FROM ("
            f"SELECT r.{column} AS node_id, {_month_sql(dialect)} AS month, "
            "r.category AS category, r.political_status AS political, "
            "SUM(r.minutes) AS minutes, "
            "SUM(CASE WHEN r.kind = 'correction' THEN 0 ELSE 1 END) AS sessions "
            f"FROM service_records r WHERE r.status = 'approved' AND r.{column} IS NOT NULL "
            f"GROUP BY r.{column}, {_month_sql(dialect)}, r.category, r.political_status"
            ") g JOIN tally_node_paths np ON np.node_id = g.node_id "
            "GROUP BY np.ancestor_id, g.month, g.category, g.political"
        )
    )


#: The quarter and year keys of a month key (see period_keys), in SQL.
_QUARTER_AND_YEAR_OF_MONTH = (
    "(g.month / 100) * 100 + 20 + (g.month % 100 - 1) / 3 + 1",
    "(g.month / 100) * 100",
)


def _rebuild_people(dim: str, dialect: str) -> None:
    """tally_people for one dimension in bulk, in two stages: each volunteer's minutes per
    node, month and snapshot status from the ledger into a scratch table (one pass over
    it), then for each period those rows summed by period and rolled up the node paths.
    verify_tallies checks the result against _people_select's one stage, passes over the
    ledger."""
    column = _DIMENSION_COLUMNS[dim]
    month = _period_sql(dialect, "month")
    db.session.execute(
        text(
            "CREATE TEMPORARY TABLE tally_scratch AS "  # noqa: S608
            f"SELECT r.{column} AS node_id, {month} AS month, r.user_id AS user_id, "
            "r.political_status AS political, SUM(r.minutes) AS minutes "
            f"FROM service_records r WHERE r.status = 'approved' AND r.{column} IS NOT NULL "
            f"GROUP BY r.{column}, {month}, r.user_id, r.political_status"
        )
    )
    # Per period key, the scratch rows summed by their key (months: as they are) and rolled
    # up the paths, once per status of the snapshots and once for all statuses together.
    for key in ("g.month", *_QUARTER_AND_YEAR_OF_MONTH):
        for political, group in (("g.political", ", g.political"), (f"'{ALL_POLITICAL}'", "")):
            db.session.execute(
                text(
                    "INSERT INTO tally_people (dim, node_id, month, user_id, political, "  # noqa: S608
                    f"minutes) SELECT '{dim}', np.ancestor_id, {key}, "
                    f"g.user_id, {political}, SUM(g.minutes) FROM tally_scratch g "
                    "JOIN tally_node_paths np ON np.node_id = g.node_id "
                    f"GROUP BY np.ancestor_id, {key}, g.user_id{group}"
                )
            )
    db.session.execute(text("DROP TABLE tally_scratch"))


#: The served counters as tally_people has them (rebuild and verify).
_SERVED_SELECT = (
    "SELECT dim, node_id, month, political, COUNT(*) AS people FROM tally_people "
    "WHERE minutes > 0 GROUP BY dim, node_id, month, political"
)


def rebuild_tallies() -> None:
    """Recompute every tally table from the approved ledger rows in bulk (INSERT … SELECT),
    and the registration counters from the profiles."""
    dialect = db.session.get_bind().dialect.name
    _fill_node_paths()
    db.session.execute(text("DELETE FROM tally_cells"))
    db.session.execute(text("DELETE FROM tally_people"))
    if dialect == "sqlite":
        # The sorts of the GROUP BYs below may use a second core (per connection; reset).
        db.session.execute(text("PRAGMA threads = 2"))
    for dim in _DIMENSION_COLUMNS:
        _rebuild_cells(dim, dialect)
        if dim != "host":
            _rebuild_people(dim, dialect)
    db.session.execute(text("DELETE FROM tally_served"))
    db.session.execute(
        text(f"INSERT INTO tally_served (dim, node_id, month, political, people) {_SERVED_SELECT}")
    )
    db.session.execute(update(VolunteerProfile).values(approved_minutes=0))
    db.session.execute(text(_TOTALS_UPDATE))
    registrations.rebuild()
    if dialect == "sqlite":
        db.session.execute(text("PRAGMA threads = 0"))
    db.session.flush()


def verify_tallies() -> list[str]:
    """Differences between the tally tables (and the volunteers' totals) and sums computed
    from the ledger; empty when they agree. The caller's pending work is left alone: the
    scratch path table is filled in a savepoint that is rolled back."""
    dialect = db.session.get_bind().dialect.name
    scratch = db.session.begin_nested()
    _fill_node_paths()
    problems: list[str] = []
    for dim in _DIMENSION_COLUMNS:
        expected = {
            (row.node_id, row.month, row.category, row.political): (
                int(row.minutes),
                int(row.sessions),
            )
            for row in db.session.execute(text(_cells_select(dim, dialect)))
        }
        actual = {
            (c.node_id, c.month, c.category, c.political): (int(c.minutes), int(c.sessions))
            for c in db.session.scalars(select(TallyCell).where(TallyCell.dim == dim))
        }
        for key in set(expected) | set(actual):
            if expected.get(key, (0, 0)) != actual.get(key, (0, 0)):
                problems.append(
                    f"{dim} cell {key}: ledger {expected.get(key)} tally {actual.get(key)}"
                )
        if dim == "host":
            continue
        expected_people = {
            (row.node_id, row.month, row.user_id, row.political): int(row.minutes)
            for row in db.session.execute(text(_people_select(dim, dialect)))
        }
        actual_people = {
            (p.node_id, p.month, p.user_id, p.political): int(p.minutes)
            for p in db.session.scalars(select(TallyPerson).where(TallyPerson.dim == dim))
        }
        differing = set(expected_people.items()) ^ set(actual_people.items())
        if differing:
            problems.append(f"{dim} people: {len(differing)} rows differ from the ledger")
    expected_served = {
        tuple(row[:4]): int(row[4]) for row in db.session.execute(text(_SERVED_SELECT))
    }
    actual_served = {
        (c.dim, c.node_id, c.month, c.political): c.people
        for c in db.session.scalars(select(TallyServed).where(TallyServed.people != 0))
    }
    for key in sorted(set(expected_served) | set(actual_served)):
        if expected_served.get(key, 0) != actual_served.get(key, 0):
            problems.append(
                f"served {key}: people {expected_served.get(key, 0)} "
                f"counter {actual_served.get(key, 0)}"
            )
    stale = db.session.execute(text(_TOTALS_CHECK)).scalar()
    if stale:
        problems.append(f"{stale} volunteers' approved totals differ from the ledger")
    problems.extend(registrations.verify())
    scratch.rollback()
    return sorted(problems)
