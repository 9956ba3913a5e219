"""Hours a volunteer already has in the national volunteer system (转移接续): imported from
a file of its records, shown to the volunteer as 外部记录, counted towards star levels when
EXTERNAL_HOURS_COUNT_FOR_STARS is set, and never in the district's ledger or tallies.

The file (.xlsx or CSV, headers in Chinese) has one row per service: the volunteer's ID
number or national volunteer number, the date, the hours, the organisation and the activity.
Every row is checked first and each problem is reported with its row; the import is
all-or-nothing, and a service already imported (or twice in the file) is refused."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..extensions import db
from ..models import ExternalRecord, IdType, OrgUnit, User, VolunteerProfile
from . import ServiceError, audit, idnumbers, national_numbers, pii
from .exchange import EXPORT_ROLES
from .scope import grant_nodes
from .spreadsheets import cell_text, csv_rows, detect_kind, parse_date, xlsx_rows

MAX_ROWS = 5000
#: The largest file read (the roster import's limit).
MAX_BYTES = 2 * 1024 * 1024
MAX_MINUTES = 24 * 60
HEADER_SEARCH_ROWS = 10

#: key -> the header of the template
HEADERS = {
    "id_number": "证件号码",
    "national_number": "志愿者统一编号",
    "date": "服务日期",
    "hours": "服务时长（小时）",
    "organisation": "组织单位",
    "activity": "活动名称",
}
#: Other headers the national system's exports use, without spaces and brackets.
_ALIASES = {
    "证件号码": "id_number",
    "身份证号码": "id_number",
    "身份证号": "id_number",
    "志愿者统一编号": "national_number",
    "志愿者编号": "national_number",
    "统一编号": "national_number",
    "服务日期": "date",
    "日期": "date",
    "服务时长": "hours",
    "服务时间": "hours",
    "时长": "hours",
    "组织单位": "organisation",
    "活动组织单位": "organisation",
    "组织": "organisation",
    "志愿团体": "organisation",
    "活动名称": "activity",
    "活动": "activity",
    "项目名称": "activity",
}


def _header_key(value: object) -> str | None:
    text = re.sub(r"[\s\u3000*＊]", "", cell_text(value))
    text = re.sub(r"[(（][^)）]*[)）]", "", text)
    return _ALIASES.get(text)


@dataclass(frozen=True)
class RowError:
    row: int
    message: str


class ImportRefused(ServiceError):
    """The file's row problems (nothing was imported)."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__(
            [str(_l("Row %(row)d: %(problem)s", row=e.row, problem=e.message)) for e in errors]
        )


@dataclass
class _Row:
    number: int
    user_id: int
    service_date: date
    minutes: int
    organisation: str
    activity: str

    @property
    def key(self) -> tuple[int, date, int, str, str]:
        return (self.user_id, self.service_date, self.minutes, self.organisation, self.activity)


def _table(data: bytes) -> tuple[dict[str, int], list[tuple[int, list[object]]]]:
    kind = detect_kind(data)
    sheets = xlsx_rows(data) if kind == "xlsx" else csv_rows(data)
    try:
        for rows in sheets:
            columns: dict[str, int] = {}
            for number, cells in rows:
                keys = [_header_key(cell) for cell in cells]
                if "date" in keys and "hours" in keys:
                    for index, key in enumerate(keys):
                        if key and key not in columns:
                            columns[key] = index
                    break
                if number >= HEADER_SEARCH_ROWS:
                    break
            if not columns:
                continue
            body = []
            for number, cells in rows:
                if not any(cell_text(cell) for cell in cells):
                    continue
                if len(body) >= MAX_ROWS:
                    raise ServiceError(
                        _l("The file has more than %(n)d rows; please split it.", n=MAX_ROWS)
                    )
                body.append((number, cells))
            return columns, body
    finally:
        sheets.close()
    raise ServiceError(
        _l(
            "No header row was found: the first rows must contain the columns "
            "服务日期 and 服务时长."
        )
    )


def _minutes(value: object) -> int | None:
    try:
        hours = Decimal(cell_text(value))
    except InvalidOperation:
        return None
    if not hours.is_finite():
        return None
    return int((hours * 60).to_integral_value())


class _People:
    """Volunteers by ID number or national number, within the importer's scope."""

    def __init__(self, importer: User):
        self.nodes = grant_nodes(importer, EXPORT_ROLES)

    def in_scope(self, profile: VolunteerProfile) -> bool:
        community = db.session.get(OrgUnit, profile.community_id) if profile.community_id else None
        return community is not None and any(community.is_within(n) for n in self.nodes)

    def by_id_number(self, raw: str) -> VolunteerProfile | None:
        number = idnumbers.normalise(raw)
        hashes = [pii.keyed_hash(f"{t.value}:{number}") for t in IdType]
        return db.session.scalar(
            select(VolunteerProfile).where(VolunteerProfile.id_hash.in_(hashes))
        )

    def by_national_number(self, raw: str) -> VolunteerProfile | None:
        number = national_numbers.normalise(raw)
        if not number:
            return None
        return db.session.scalar(
            select(VolunteerProfile).where(VolunteerProfile.national_number == number)
        )


def check(data: bytes, importer: User, *, today: date) -> list[_Row]:
    """The file's rows, each checked; ImportRefused with every row's problems."""
    columns, body = _table(data)
    missing = [
        HEADERS[k] for k in ("date", "hours", "organisation", "activity") if k not in columns
    ]
    if "id_number" not in columns and "national_number" not in columns:
        missing.insert(0, f"{HEADERS['id_number']}/{HEADERS['national_number']}")
    if missing:
        raise ServiceError(
            _l("These columns are missing: %(columns)s.", columns="、".join(missing))
        )
    if not body:
        raise ServiceError(_l("The file has no rows under the header."))
    people = _People(importer)
    errors: list[RowError] = []
    rows: list[_Row] = []
    seen: dict[tuple, int] = {}

    def cell(cells: list[object], key: str) -> str:
        index = columns.get(key)
        return cell_text(cells[index]) if index is not None and index < len(cells) else ""

    for number, cells in body:
        problems: list[str] = []
        id_text, national_text = cell(cells, "id_number"), cell(cells, "national_number")
        profile = None
        if national_text:
            profile = people.by_national_number(national_text)
        if profile is None and id_text:
            profile = people.by_id_number(id_text)
        if not id_text and not national_text:
            problems.append(str(_l("the ID number or the national volunteer number is missing")))
        elif profile is None or not people.in_scope(profile):
            problems.append(str(_l("no volunteer in your scope has this ID or national number")))
        index = columns["date"]
        raw_date = cells[index] if index < len(cells) else None
        day = parse_date(raw_date) if cell_text(raw_date) else None
        if day is None:
            problems.append(str(_l("the date is missing or not a date (use 2026-05-01)")))
        elif day > today:
            problems.append(str(_l("the date is in the future")))
        minutes = _minutes(cell(cells, "hours"))
        if minutes is None or not 1 <= minutes <= MAX_MINUTES:
            problems.append(str(_l("the hours must be a number above 0 and at most 24")))
        organisation, activity = cell(cells, "organisation"), cell(cells, "activity")
        if not organisation:
            problems.append(str(_l("the organisation is missing")))
        if not activity:
            problems.append(str(_l("the activity is missing")))
        if problems:
            errors.extend(RowError(number, p) for p in problems)
            continue
        assert profile is not None and day is not None and minutes is not None
        row = _Row(number, profile.user_id, day, minutes, organisation[:100], activity[:100])
        if row.key in seen:
            errors.append(
                RowError(number, str(_l("the same service as row %(row)d", row=seen[row.key])))
            )
            continue
        seen[row.key] = number
        rows.append(row)
    if rows:
        imported = _already_imported([r.key for r in rows])
        errors.extend(
            RowError(r.number, str(_l("this service has been imported before")))
            for r in rows
            if r.key in imported
        )
    if errors:
        raise ImportRefused(sorted(errors, key=lambda e: e.row))
    return rows


def _already_imported(keys: list[tuple]) -> set[tuple]:
    found: set[tuple] = set()
    columns = (
        ExternalRecord.user_id,
        ExternalRecord.service_date,
        ExternalRecord.minutes,
        ExternalRecord.organisation,
        ExternalRecord.activity,
    )
    for i in range(0, len(keys), 300):
        chunk = keys[i : i + 300]
        users = {k[0] for k in chunk}
        for row in db.session.execute(select(*columns).where(ExternalRecord.user_id.in_(users))):
            if tuple(row) in chunk:
                found.add(tuple(row))
    return found & set(keys)


def run(data: bytes, importer: User, *, today: date, now: datetime, ip: str | None = None) -> int:
    """Import the file's rows (all or none); returns how many; audited."""
    if not grant_nodes(importer, EXPORT_ROLES):
        raise ServiceError(_l("You may not import records."))
    rows = check(data, importer, today=today)
    db.session.add_all(
        ExternalRecord(
            user_id=r.user_id,
            service_date=r.service_date,
            minutes=r.minutes,
            organisation=r.organisation,
            activity=r.activity,
            created_by_id=importer.id,
            created_at=now,
        )
        for r in rows
    )
    db.session.flush()
    audit.record(
        "exchange.import",
        actor=importer,
        ip=ip,
        object_type="external_records",
        rows=len(rows),
        volunteers=len({r.user_id for r in rows}),
    )
    return len(rows)


def minutes_of(user_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(ExternalRecord.minutes), 0)).where(
                ExternalRecord.user_id == user_id
            )
        )
    )


def records_of(user_id: int) -> list[ExternalRecord]:
    return list(
        db.session.scalars(
            select(ExternalRecord)
            .where(ExternalRecord.user_id == user_id)
            .order_by(ExternalRecord.service_date.desc(), ExternalRecord.id.desc())
        )
    )


def counts_for_stars() -> bool:
    return bool(current_app.config.get("EXTERNAL_HOURS_COUNT_FOR_STARS", False))


def star_minutes(user_id: int, approved: int) -> int:
    """The minutes star levels are reckoned from: the approved ledger, plus external
    hours when the district counts them."""
    return approved + (minutes_of(user_id) if counts_for_stars() else 0)


def template() -> bytes:
    """An empty import file with the headers (CSV)."""
    from . import exports

    return exports.to_csv(list(HEADERS.values()), [])


__all__ = ["ImportRefused", "RowError", "check", "run", "star_minutes"]
