"""The file of an export batch to the national volunteer system (services/exchange.py makes
the batches): its sheets and columns, read from data/exchange_columns.json (docs/exchange.md),
and the workbook or CSV a recorder downloads, each download in the audit log.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..catalog import CATEGORIES, ID_TYPES, SKILLS
from ..extensions import db
from ..models import (
    ExchangeBatch,
    ExchangeEntry,
    ServiceRecord,
    User,
    VolunteerProfile,
)
from . import ServiceError, audit, exports, volunteers
from .certificates import hours_text
from .exchange import EXPORT_ROLES
from .scope import covers

COLUMNS_FILE = Path(__file__).resolve().parent.parent / "data" / "exchange_columns.json"
ACTION_NEW = "新增"
ACTION_CORRECTION = "更正"


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
