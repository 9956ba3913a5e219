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

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import and_, func, select
from sqlalchemy.orm import joinedload

from ..catalog import CATEGORIES, ID_TYPES, SKILLS
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
    VolunteerProfile,
)
from . import ServiceError, audit, exports, volunteers
from .certificates import hours_text
from .scope import covers, grant_nodes

COLUMNS_FILE = Path(__file__).resolve().parent.parent / "data" / "exchange_columns.json"
#: Who may export (admin passes everywhere).
EXPORT_ROLES = (Role.RECORDER,)
#: Longest date range of one batch.
MAX_DAYS = 366
ACTION_NEW = "新增"
ACTION_CORRECTION = "更正"


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


# ---------------------------------------------------------------- the columns

#: field -> (sheet it belongs to, how to read it from a row context)
_Getter = Callable[["_Row"], object]


@dataclass
class _Row:
    profile: VolunteerProfile | None
    user: User
    id_number: str
    entry: ExchangeEntry | None = None
    record: ServiceRecord | None = None


def _residence(profile: VolunteerProfile | None) -> str:
    community = profile.community if profile else None
    if community is None:
        return ""
    parent = community.parent
    return f"{parent.name} {community.name}" if parent is not None else community.name


def _labels(codes: Sequence[str] | None, names: dict) -> str:
    return "、".join(str(names.get(code, code)) for code in codes or [])


PERSON_FIELDS: dict[str, _Getter] = {
    "national_number": lambda r: (r.profile.national_number if r.profile else "") or "",
    "name": lambda r: (r.profile.real_name if r.profile else "") or r.user.display_name,
    "gender": lambda r: {"male": "男", "female": "女"}.get(
        r.profile.gender.value if r.profile and r.profile.gender else "", ""
    ),
    "birth_date": lambda r: (
        r.profile.birth_date.isoformat() if r.profile and r.profile.birth_date else ""
    ),
    "id_type": lambda r: (
        str(ID_TYPES.get(r.profile.id_type, "")) if r.profile and r.profile.id_type else ""
    ),
    "id_number": lambda r: r.id_number,
    "residence": lambda r: _residence(r.profile),
    "phone": lambda r: r.user.phone if r.user.deleted_at is None else "",
    "skills": lambda r: _labels(r.profile.skills if r.profile else None, SKILLS),
    "categories": lambda r: _labels(
        r.profile.service_categories if r.profile else None, CATEGORIES
    ),
}


def _record(r: _Row) -> ServiceRecord:
    assert r.record is not None
    return r.record


RECORD_FIELDS: dict[str, _Getter] = {
    **PERSON_FIELDS,
    "record_id": lambda r: _record(r).id,
    "action": lambda r: ACTION_CORRECTION if r.entry and r.entry.correction else ACTION_NEW,
    "activity": lambda r: _record(r).activity,
    "date": lambda r: _record(r).service_date.isoformat(),
    "place": lambda r: _record(r).place,
    "content": lambda r: _record(r).content,
    "hours": lambda r: hours_text(r.entry.minutes if r.entry else _record(r).minutes),
    "organisation": lambda r: _record(r).organisation,
    "lead": lambda r: _record(r).lead_name,
    "category": lambda r: str(CATEGORIES.get(_record(r).category, _record(r).category)),
}
FIELDS = {"volunteers": PERSON_FIELDS, "records": RECORD_FIELDS}


@dataclass(frozen=True)
class Sheet:
    key: str
    title: str
    csv_name: str
    #: (field, header) in file order
    columns: list[tuple[str, str]]


def parse_columns(raw: dict) -> list[Sheet]:
    """The sheets of the mapping file; ValueError naming what is wrong."""
    sheets = []
    for key, known in FIELDS.items():
        spec = raw.get(key)
        if not isinstance(spec, dict) or not spec.get("columns"):
            raise ValueError(f"exchange columns: sheet {key!r} is missing")
        columns = []
        for pair in spec["columns"]:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise ValueError(f"exchange columns: {pair!r} is not [field, header]")
            field_name, header = pair
            if field_name not in known:
                raise ValueError(f"exchange columns: unknown field {field_name!r} in {key}")
            if not isinstance(header, str) or not header.strip():
                raise ValueError(f"exchange columns: empty header for {field_name!r}")
            columns.append((field_name, header.strip()))
        sheets.append(
            Sheet(key, str(spec.get("sheet") or key), str(spec.get("csv") or key), columns)
        )
    return sheets


@cache
def sheets() -> list[Sheet]:
    return parse_columns(json.loads(COLUMNS_FILE.read_text(encoding="utf-8")))


def sheet(key: str) -> Sheet:
    for item in sheets():
        if item.key == key:
            return item
    raise KeyError(key)


# ---------------------------------------------------------------- the file


def batch_tables(batch: ExchangeBatch) -> dict[str, tuple[list[str], list[list[object]]]]:
    """sheet key -> (headers, rows) of the batch, full ID numbers in clear."""
    entries = db.session.execute(
        select(ExchangeEntry, ServiceRecord)
        .join(ServiceRecord, ServiceRecord.id == ExchangeEntry.record_id)
        .where(ExchangeEntry.batch_id == batch.id)
        .order_by(ServiceRecord.service_date, ServiceRecord.id)
    ).all()
    user_ids = sorted({record.user_id for _entry, record in entries})
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))}
    profiles = {
        p.user_id: p
        for p in db.session.scalars(
            select(VolunteerProfile)
            .where(VolunteerProfile.user_id.in_(user_ids))
            .options(joinedload(VolunteerProfile.community))
        )
    }
    people = {}
    for user_id in user_ids:
        profile = profiles.get(user_id)
        number = (volunteers.id_number_of(profile) if profile else None) or ""
        people[user_id] = _Row(profile, users[user_id], number)
    tables = {}
    with force_locale("zh"):
        for item in sheets():
            getters = [FIELDS[item.key][name] for name, _header in item.columns]
            headers = [header for _name, header in item.columns]
            if item.key == "volunteers":
                rows = [[get(people[u]) for get in getters] for u in user_ids]
            else:
                rows = []
                for entry, record in entries:
                    person = people[record.user_id]
                    context = _Row(person.profile, person.user, person.id_number, entry, record)
                    rows.append([get(context) for get in getters])
            tables[item.key] = (headers, rows)
    return tables


def _workbook(tables: dict[str, tuple[list[str], list[list[object]]]]) -> bytes:
    workbook = Workbook(write_only=True)
    for item in sheets():
        headers, rows = tables[item.key]
        ws = workbook.create_sheet(exports.sheet_title(item.title))
        head = []
        for header in exports.clean_row(headers):
            cell = WriteOnlyCell(ws, value=header)
            cell.font = Font(bold=True)
            head.append(cell)
        ws.freeze_panes = "A2"
        ws.append(head)
        for row in rows:
            out = []
            for value in exports.clean_row(row):
                cell = WriteOnlyCell(ws, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # text, never a formula
                out.append(cell)
            ws.append(out)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


FORMATS = ("xlsx", "csv")


def render(
    actor: User, batch: ExchangeBatch, fmt: str, part: str = "records", *, ip: str | None = None
) -> tuple[bytes, str, str]:
    """(bytes, mimetype, file name) of the batch: an .xlsx with both sheets, or one sheet
    as CSV; audited, since the file carries full ID numbers."""
    if not covers(actor, batch.scope, EXPORT_ROLES):
        raise ServiceError(_l("You may not export records for this unit."))
    if fmt not in FORMATS or part not in FIELDS:
        raise ServiceError(_l("Unknown file format."))
    tables = batch_tables(batch)
    stem = f"national-record-batch-{batch.id}"
    if fmt == "xlsx":
        data, mimetype, name = _workbook(tables), exports.XLSX_MIMETYPE, f"{stem}.xlsx"
    else:
        headers, rows = tables[part]
        data = exports.to_csv(headers, rows)
        mimetype, name = exports.CSV_MIMETYPE, f"{stem}-{sheet(part).csv_name}.csv"
    audit.record(
        "exchange.download",
        actor=actor,
        ip=ip,
        obj=batch,
        format=fmt,
        part=part if fmt == "csv" else "all",
        records=batch.records,
        volunteers=batch.volunteers,
        full_id_numbers=True,
    )
    return data, mimetype, name


def read_csv(data: bytes) -> list[list[str]]:
    """A CSV export read back (tests and the documentation's example)."""
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
