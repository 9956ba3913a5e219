"""Roster import: communities' Excel/CSV rosters become accounts and volunteer profiles.

The file is read by its content (an .xlsx workbook or a CSV text in UTF-8 or GB18030),
every row is checked before anything is written, and the import is all-or-nothing: one
transaction, committed by the caller, with an SMS invitation per new account.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..catalog import CATEGORIES, SKILLS
from ..extensions import db
from ..models import (
    Channel,
    Gender,
    IdType,
    OrgLevel,
    OrgUnit,
    PoliticalStatus,
    Role,
    User,
    VolunteerProfile,
)
from . import ServiceError, audit, identifiers, idnumbers, notify, pii, tempstore, volunteers
from .accounts import PHONE_RE, normalise_phone, phone_problem
from .scope import covers, grant_nodes, path_filter

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
#: An .xlsx is a zip; refuse one that would unpack to more than this (a "zip bomb").
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
#: The header row is looked for among the first rows (a title line may come first).
HEADER_SEARCH_ROWS = 10
#: Uploads waiting for their confirmation are removed after this many seconds.
STASH_SECONDS = 24 * 3600
#: Who may import, within the subtree of their grants (admin passes everywhere).
IMPORT_ROLES = (Role.ORGANISER,)
AUDIT_ACTION = "volunteer.import"
#: An account created by the import has no password until the volunteer sets one.
NO_PASSWORD = "!"  # noqa: S105 - matches no password

# ---------------------------------------------------------------- the file's vocabulary
# The roster is a Chinese document whatever the interface language: its headers and
# values are fixed Chinese names (GB/T 4762 for political status), not translations.

#: key -> the header written in the template.
HEADERS: dict[str, str] = {
    "name": "姓名",
    "phone": "手机号",
    "id_type": "证件类型",
    "id_number": "证件号码",
    "gender": "性别",
    "birth_date": "出生日期",
    "town": "镇街",
    "community": "社区/村",
    "political_status": "政治面貌",
    "branch": "党支部",
    "skills": "技能",
    "categories": "服务类别",
    "emergency_name": "紧急联系人",
    "emergency_phone": "紧急联系电话",
}
REQUIRED_COLUMNS = ("name", "phone", "id_number", "town", "community", "political_status")

#: Other ways rosters head the same columns.
HEADER_ALIASES: dict[str, str] = {
    **{header: key for key, header in HEADERS.items()},
    "真实姓名": "name",
    "手机": "phone",
    "手机号码": "phone",
    "联系电话": "phone",
    "身份证号": "id_number",
    "身份证号码": "id_number",
    "公民身份号码": "id_number",
    "街道": "town",
    "镇/街道": "town",
    "镇街道": "town",
    "所属镇街": "town",
    "社区": "community",
    "村": "community",
    "社区村": "community",
    "村/社区": "community",
    "所属社区": "community",
    "所在党支部": "branch",
    "特长": "skills",
    "服务意向": "categories",
    "紧急联系人电话": "emergency_phone",
    "紧急联系人手机": "emergency_phone",
}

ID_TYPE_NAMES: dict[str, IdType] = {
    "居民身份证": IdType.RESIDENT,
    "身份证": IdType.RESIDENT,
    "港澳居民来往内地通行证": IdType.HK_MACAO,
    "港澳通行证": IdType.HK_MACAO,
    "台湾居民来往大陆通行证": IdType.TAIWAN,
    "台胞证": IdType.TAIWAN,
    "护照": IdType.PASSPORT,
}
ID_TYPE_TEMPLATE_NAMES = ["居民身份证", "港澳居民来往内地通行证", "台湾居民来往大陆通行证", "护照"]

#: GB/T 4762 short names, as in the template, and the full names.
POLITICAL_NAMES: dict[PoliticalStatus, tuple[str, ...]] = {
    PoliticalStatus.CPC_MEMBER: ("中共党员", "中国共产党党员", "党员"),
    PoliticalStatus.CPC_PROBATIONARY: ("中共预备党员", "中国共产党预备党员", "预备党员"),
    PoliticalStatus.CYL_MEMBER: ("共青团员", "中国共产主义青年团团员", "团员"),
    PoliticalStatus.RCCK: ("民革党员", "中国国民党革命委员会会员", "民革会员"),
    PoliticalStatus.CDL: ("民盟盟员", "中国民主同盟盟员"),
    PoliticalStatus.CNDCA: ("民建会员", "中国民主建国会会员"),
    PoliticalStatus.CAPD: ("民进会员", "中国民主促进会会员"),
    PoliticalStatus.CPWDP: ("农工党党员", "中国农工民主党党员"),
    PoliticalStatus.CZGP: ("致公党党员", "中国致公党党员"),
    PoliticalStatus.JIUSAN: ("九三学社社员",),
    PoliticalStatus.TDSGL: ("台盟盟员", "台湾民主自治同盟盟员"),
    PoliticalStatus.NON_PARTISAN: ("无党派人士", "无党派民主人士"),
    PoliticalStatus.MASSES: ("群众",),
}

SKILL_NAMES: dict[str, str] = {
    "first_aid": "急救",
    "legal": "法律咨询",
    "counselling": "心理咨询",
    "photography": "摄影摄像",
    "driving": "驾驶",
    "translation": "外语",
    "performance": "文艺表演",
    "repair": "家电维修",
    "haircut": "理发",
    "calligraphy": "书法",
    "housekeeping": "家政",
    "tutoring": "课业辅导",
    "computing": "电脑",
    "sign_language": "手语",
    "cooking": "烹饪",
}

CATEGORY_NAMES: dict[str, str] = {
    "env_sanitation": "环境卫生",
    "streets": "道路街巷",
    "business_order": "经营秩序",
    "traffic_order": "交通秩序",
    "outdoor_ads": "户外广告",
    "residential": "居住小区",
    "window_service": "窗口文明服务",
    "health_city": "卫生城市复审",
    "party_community": "党建共建",
    "other": "其他",
}

GENDER_NAMES = {"男": Gender.MALE, "男性": Gender.MALE, "女": Gender.FEMALE, "女性": Gender.FEMALE}

_LIST_SEPARATORS = re.compile(r"[、,，;；/\s]+")
# Digits are ASCII only ([0-9], never \d): cells are brought to NFKC first, so full-width
# digits count, and other scripts' digits are refused instead of being read by int().
_SCIENTIFIC = re.compile(r"[0-9](\.[0-9]+)?E\+?[0-9]+", re.IGNORECASE | re.ASCII)
_DATE_PATTERNS = (
    re.compile(r"([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?", re.ASCII),
    re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})", re.ASCII),
)


def _code_lookup(names: dict[str, str], labels: dict[str, object]) -> dict[str, str]:
    """Chinese name, current Chinese and English label, or code -> code."""
    lookup = {code: code for code in labels}
    for code, label in labels.items():
        lookup[str(label).strip().lower()] = code
        with force_locale("zh"):
            lookup[str(label).strip()] = code
    lookup.update({name: code for code, name in names.items()})
    return lookup


# ---------------------------------------------------------------- reading the file


@dataclass
class Table:
    """The roster as text cells: the columns found and the rows under the header."""

    kind: str  # "xlsx" or "csv"
    #: key -> (cell index, header text as written in the file)
    columns: dict[str, tuple[int, str]]
    #: (row number as the spreadsheet shows it, raw cell values)
    rows: list[tuple[int, list[object]]]

    def header(self, key: str) -> str:
        return self.columns[key][1] if key in self.columns else HEADERS[key]

    def cell(self, cells: list[object], key: str) -> object:
        if key not in self.columns:
            return None
        index = self.columns[key][0]
        return cells[index] if index < len(cells) else None


def _header_key(value: object) -> str | None:
    text = re.sub(r"[\s\u3000*＊]", "", _text(value))
    text = re.sub(r"[(（][^)）]*[)）]", "", text)
    return HEADER_ALIASES.get(text)


def _text(value: object) -> str:
    """A cell as trimmed text; whole numbers without '.0', dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return re.sub(r"[\s\u3000]+", " ", str(value)).strip()


def detect_kind(data: bytes) -> str:
    """'xlsx' or 'csv', decided by the bytes alone; ServiceError for anything else."""
    if not data:
        raise ServiceError(_l("The file is empty."))
    if len(data) > MAX_BYTES:
        raise ServiceError(
            _l("The file is larger than %(mb)d MB; please split it.", mb=MAX_BYTES // 2**20)
        )
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ServiceError(
            _l("Old Excel workbooks (.xls) cannot be read; save the file as .xlsx or CSV.")
        )
    if _decode(data) is not None:
        return "csv"
    raise ServiceError(_not_a_roster())


def _not_a_roster():
    return _l("This file is neither an Excel workbook (.xlsx) nor a CSV file.")


def _decode(data: bytes) -> str | None:
    """The text of a CSV file (UTF-8, else GB18030/GBK), or None when it is not text."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # Binary files (images, documents) decode by chance now and then; text has no
        # control characters other than tab and line breaks.
        if any(ord(c) < 32 and c not in "\t\r\n" for c in text):
            return None
        return text
    return None


def _xlsx_rows(data: bytes) -> Iterator[Iterator[tuple[int, list[object]]]]:
    """Each worksheet's rows, numbered as Excel shows them."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
                raise ServiceError(
                    _l(
                        "The file is larger than %(mb)d MB; please split it.",
                        mb=MAX_BYTES // 2**20,
                    )
                )
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ServiceError:
        raise
    except Exception:  # a zip that is not a workbook: openpyxl raises many kinds
        raise ServiceError(
            _l("The workbook cannot be opened; please save it again as .xlsx.")
        ) from None
    try:
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # some writers record a wrong used range
            yield (
                (number, list(values))
                for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
            )
    finally:
        workbook.close()


def _csv_rows(data: bytes) -> Iterator[Iterator[tuple[int, list[object]]]]:
    text = _decode(data)
    if text is None:
        raise ServiceError(_not_a_roster())
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    yield ((number, list(values)) for number, values in enumerate(reader, start=1))


def read_table(data: bytes) -> Table:
    """Find the header row and read the rows under it; ServiceError for unusable files."""
    kind = detect_kind(data)
    sheets = _xlsx_rows(data) if kind == "xlsx" else _csv_rows(data)
    try:
        return _find_table(kind, sheets)
    finally:
        sheets.close()


def _find_table(kind: str, sheets: Iterator[Iterator[tuple[int, list[object]]]]) -> Table:
    for rows in sheets:
        columns: dict[str, tuple[int, str]] = {}
        for number, cells in rows:
            keys = [_header_key(cell) for cell in cells]
            if "name" in keys and "phone" in keys:
                for index, key in enumerate(keys):
                    if key and key not in columns:
                        columns[key] = (index, _text(cells[index]))
                break
            if number >= HEADER_SEARCH_ROWS:
                break
        if not columns:
            continue
        missing = [HEADERS[key] for key in REQUIRED_COLUMNS if key not in columns]
        if missing:
            raise ServiceError(
                _l("These columns are missing: %(columns)s.", columns="、".join(missing))
            )
        body: list[tuple[int, list[object]]] = []
        for number, cells in rows:
            if not any(_text(cell) for cell in cells):
                continue
            if len(body) >= MAX_ROWS:
                raise ServiceError(
                    _l("The file has more than %(n)d rows; please split it.", n=MAX_ROWS)
                )
            body.append((number, cells))
        if not body:
            raise ServiceError(_l("The file has no volunteer rows under the header."))
        return Table(kind, columns, body)
    raise ServiceError(
        _l(
            "No header row was found: the first rows must contain the columns 姓名 and "
            "手机号, as in the template."
        )
    )


# ---------------------------------------------------------------- checking the rows


@dataclass(frozen=True)
class RowError:
    row: int
    #: The column's header as written in the file.
    column: str
    message: str
    key: str = ""

    @property
    def order(self) -> tuple[int, int]:
        return self.row, list(HEADERS).index(self.key) if self.key in HEADERS else 0


@dataclass
class ImportRow:
    """One roster line, parsed; `ok` once every check has passed."""

    row: int
    name: str = ""
    phone: str = ""
    id_type: IdType = IdType.RESIDENT
    id_info: idnumbers.IdInfo | None = None
    gender: Gender | None = None
    birth_date: date | None = None
    town: OrgUnit | None = None
    community: OrgUnit | None = None
    political_status: PoliticalStatus | None = None
    branch: OrgUnit | None = None
    skills: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    emergency_name: str = ""
    emergency_phone: str = ""
    ok: bool = True

    @property
    def id_hash(self) -> str | None:
        if self.id_info is None:
            return None
        return pii.keyed_hash(f"{self.id_info.id_type.value}:{self.id_info.number}")

    @property
    def masked_phone(self) -> str:
        return f"{self.phone[:3]}****{self.phone[-4:]}" if self.phone else ""

    @property
    def masked_id(self) -> str:
        return idnumbers.mask(self.id_info.number) if self.id_info else ""


@dataclass
class Checked:
    """The outcome of checking a roster: every row and every problem found."""

    kind: str
    rows: list[ImportRow]
    errors: list[RowError]

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.errors

    @property
    def valid_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if row.ok]


class _Orgs:
    """Active towns, communities and Party branches, looked up by name."""

    def __init__(self) -> None:
        nodes = db.session.scalars(
            select(OrgUnit).where(
                OrgUnit.active.is_(True),
                OrgUnit.level.in_([OrgLevel.TOWN, OrgLevel.COMMUNITY, OrgLevel.PARTY_BRANCH]),
            )
        ).all()
        self.towns: dict[str, list[OrgUnit]] = defaultdict(list)
        self.communities: dict[tuple[int, str], OrgUnit] = {}
        self.branches: dict[str, list[OrgUnit]] = defaultdict(list)
        for node in nodes:
            name = _org_name(node.name)
            if node.level is OrgLevel.TOWN:
                self.towns[name].append(node)
            elif node.level is OrgLevel.COMMUNITY and node.parent_id is not None:
                self.communities.setdefault((node.parent_id, name), node)
            elif node.level is OrgLevel.PARTY_BRANCH:
                self.branches[name].append(node)


def _org_name(name: str) -> str:
    return re.sub(r"[\s\u3000]+", "", name or "")


def _split(value: str) -> list[str]:
    return [part for part in _LIST_SEPARATORS.split(value) if part]


def _parse_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", _text(value)).replace(" ", "")
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            try:
                return date(*(int(part) for part in match.groups()))
            except ValueError:
                return None
    return None


def _political_lookup() -> dict[str, PoliticalStatus]:
    lookup = {status.value: status for status in PoliticalStatus}
    for status, names in POLITICAL_NAMES.items():
        lookup.update(dict.fromkeys(names, status))
    return lookup


class _RowChecker:
    def __init__(self, table: Table, importer: User, today: date) -> None:
        self.table = table
        self.importer = importer
        self.today = today
        self.orgs = _Orgs()
        self.politics = _political_lookup()
        self.skills = _code_lookup(SKILL_NAMES, SKILLS)
        self.categories = _code_lookup(CATEGORY_NAMES, CATEGORIES)
        self.errors: list[RowError] = []

    def fail(self, row: ImportRow, key: str, message: object) -> None:
        row.ok = False
        self.errors.append(RowError(row.row, self.table.header(key), str(message), key))

    def value(self, cells: list[object], key: str) -> str:
        return _text(self.table.cell(cells, key))

    def parse(self, number: int, cells: list[object]) -> ImportRow:
        row = ImportRow(row=number)
        self._name(row, cells)
        self._phone(row, cells)
        self._identity(row, cells)
        self._residence(row, cells)
        self._politics(row, cells)
        self._details(row, cells)
        return row

    def _name(self, row: ImportRow, cells: list[object]) -> None:
        row.name = self.value(cells, "name")
        if not row.name:
            self.fail(row, "name", _l("The name is missing."))
        elif len(row.name) > 50:
            self.fail(row, "name", _l("The name may have at most 50 characters."))

    def _phone(self, row: ImportRow, cells: list[object]) -> None:
        row.phone = normalise_phone(self.value(cells, "phone"))
        problem = phone_problem(row.phone)
        if problem:
            self.fail(row, "phone", problem)

    def _identity(self, row: ImportRow, cells: list[object]) -> None:
        type_name = re.sub(r"\s", "", self.value(cells, "id_type"))
        id_type = ID_TYPE_NAMES.get(type_name) if type_name else IdType.RESIDENT
        if id_type is None:
            self.fail(row, "id_type", _l("Unknown ID type: %(value)s.", value=type_name))
            return
        row.id_type = id_type
        raw = self.table.cell(cells, "id_number")
        text = _text(raw)
        # Excel keeps 15 significant digits of a number: longer IDs typed as numbers are cut.
        if (isinstance(raw, float) and abs(raw) >= 1e15) or _SCIENTIFIC.fullmatch(
            identifiers.fold(text)
        ):
            self.fail(
                row,
                "id_number",
                _l(
                    "The ID number was stored as a number and has lost digits; format the "
                    "column as text and type the number again."
                ),
            )
            return
        try:
            row.id_info = idnumbers.parse(text, id_type, today=self.today)
        except idnumbers.IdNumberError as error:
            self.fail(row, "id_number", error)
        if id_type is IdType.RESIDENT:
            return
        gender_text = self.value(cells, "gender")
        row.gender = GENDER_NAMES.get(gender_text)
        if not gender_text:
            self.fail(row, "gender", _l("Other ID types need the gender: 男 or 女."))
        elif row.gender is None:
            self.fail(
                row, "gender", _l("Unknown gender: %(value)s (use 男 or 女).", value=gender_text)
            )
        born_raw = self.table.cell(cells, "birth_date")
        row.birth_date = _parse_date(born_raw)
        if not _text(born_raw):
            self.fail(row, "birth_date", _l("Other ID types need the birth date."))
        elif row.birth_date is None:
            self.fail(row, "birth_date", _l("The birth date is not a date such as 1990-05-01."))
        elif row.birth_date > self.today or row.birth_date.year < 1900:
            self.fail(row, "birth_date", _l("The birth date is not plausible."))

    def _residence(self, row: ImportRow, cells: list[object]) -> None:
        town_name = _org_name(self.value(cells, "town"))
        community_name = _org_name(self.value(cells, "community"))
        if not town_name:
            self.fail(row, "town", _l("The town or subdistrict is missing."))
        else:
            towns = self.orgs.towns.get(town_name, [])
            if not towns:
                self.fail(
                    row, "town", _l("There is no town or subdistrict %(name)s.", name=town_name)
                )
            elif len(towns) > 1:
                self.fail(
                    row,
                    "town",
                    _l("Several towns are called %(name)s; ask an administrator.", name=town_name),
                )
            else:
                row.town = towns[0]
        if not community_name:
            self.fail(row, "community", _l("The community or village is missing."))
            return
        if row.town is None:
            return
        community = self.orgs.communities.get((row.town.id, community_name))
        if community is None:
            self.fail(
                row,
                "community",
                _l(
                    "%(town)s has no community or village %(name)s.",
                    town=row.town.name,
                    name=community_name,
                ),
            )
        elif not covers(self.importer, community, IMPORT_ROLES):
            self.fail(
                row,
                "community",
                _l(
                    "%(name)s is outside your area: you may import volunteers of your own "
                    "area only.",
                    name=community.name,
                ),
            )
        else:
            row.community = community

    def _politics(self, row: ImportRow, cells: list[object]) -> None:
        text = re.sub(r"\s", "", self.value(cells, "political_status"))
        if not text:
            self.fail(row, "political_status", _l("The political status is missing."))
            return
        code = identifiers.digits(text)
        status = self.politics.get(code.zfill(2) if code else text)
        if status is None:
            self.fail(
                row, "political_status", _l("Unknown political status: %(value)s.", value=text)
            )
            return
        row.political_status = status
        if not status.is_party_member:
            return
        branch_name = _org_name(self.value(cells, "branch"))
        branches = self.orgs.branches.get(branch_name, []) if branch_name else []
        if not branch_name:
            self.fail(row, "branch", _l("Party members need their Party branch."))
        elif not branches:
            self.fail(row, "branch", _l("There is no Party branch %(name)s.", name=branch_name))
        elif len(branches) > 1:
            self.fail(
                row,
                "branch",
                _l(
                    "Several Party branches are called %(name)s; ask an administrator.",
                    name=branch_name,
                ),
            )
        else:
            row.branch = branches[0]

    def _codes(self, row: ImportRow, cells: list[object], key: str) -> list[str]:
        lookup = self.skills if key == "skills" else self.categories
        codes: list[str] = []
        for part in _split(self.value(cells, key)):
            code = lookup.get(part) or lookup.get(part.lower())
            if code is None:
                message = (
                    _l("Unknown skill: %(value)s.", value=part)
                    if key == "skills"
                    else _l("Unknown kind of service: %(value)s.", value=part)
                )
                self.fail(row, key, message)
            elif code not in codes:
                codes.append(code)
        return codes

    def _details(self, row: ImportRow, cells: list[object]) -> None:
        row.skills = self._codes(row, cells, "skills")
        row.categories = self._codes(row, cells, "categories")
        row.emergency_name = self.value(cells, "emergency_name")
        raw_phone = self.value(cells, "emergency_phone")
        row.emergency_phone = normalise_phone(raw_phone)
        if not (row.emergency_name or raw_phone):
            if row.skills or row.categories:
                self.fail(
                    row,
                    "emergency_name",
                    _l(
                        "Skills and kinds of service are saved together with an emergency "
                        "contact: add one, or leave them blank."
                    ),
                )
            return
        if not row.emergency_name:
            self.fail(row, "emergency_name", _l("The emergency contact's name is missing."))
        elif len(row.emergency_name) > 50:
            self.fail(row, "emergency_name", _l("The name may have at most 50 characters."))
        if not PHONE_RE.match(row.emergency_phone):
            self.fail(
                row,
                "emergency_phone",
                _l("The emergency contact needs an 11-digit mobile number."),
            )
        elif row.emergency_phone == row.phone:
            self.fail(
                row, "emergency_phone", _l("The emergency contact must be someone else's number.")
            )
        if not row.categories:
            self.fail(
                row,
                "categories",
                _l("With an emergency contact, name at least one kind of service."),
            )

    # ------------------------------------------------------------ across rows and accounts

    def duplicates(self, rows: list[ImportRow]) -> None:
        by_phone: dict[str, list[ImportRow]] = defaultdict(list)
        by_id: dict[str | None, list[ImportRow]] = defaultdict(list)
        for row in rows:
            if PHONE_RE.match(row.phone):
                by_phone[row.phone].append(row)
            if row.id_info is not None:
                by_id[row.id_hash].append(row)
        for group in by_phone.values():
            for row, others in _others(group):
                self.fail(
                    row, "phone", _l("The same mobile number is also on row %(rows)s.", rows=others)
                )
        for group in by_id.values():
            for row, others in _others(group):
                self.fail(
                    row, "id_number", _l("The same ID number is also on row %(rows)s.", rows=others)
                )

    def registered(self, rows: list[ImportRow]) -> None:
        phones = {row.phone for row in rows if PHONE_RE.match(row.phone)}
        taken_phones = set(_in_chunks(select(User.phone), User.phone, phones))
        hashes = {row.id_hash for row in rows if row.id_info is not None}
        taken_ids = set(
            _in_chunks(select(VolunteerProfile.id_hash), VolunteerProfile.id_hash, hashes)
        )
        for row in rows:
            if row.phone in taken_phones:
                self.fail(row, "phone", _l("This mobile number is already registered."))
            if row.id_info is not None and row.id_hash in taken_ids:
                self.fail(
                    row,
                    "id_number",
                    _l("This ID number is already registered to another account."),
                )


def _others(group: list[ImportRow]) -> Iterator[tuple[ImportRow, str]]:
    """Each row of a group of duplicates with the numbers of the other rows."""
    if len(group) < 2:
        return
    for row in group:
        yield row, "、".join(str(other.row) for other in group if other is not row)


def _in_chunks(query, column, values: Iterable[object], size: int = 500) -> Iterator[object]:
    values = list(values)
    for start in range(0, len(values), size):
        yield from db.session.scalars(query.where(column.in_(values[start : start + size])))


def check(data: bytes, importer: User, *, today: date) -> Checked:
    """Read the file and check every row; file-level problems raise ServiceError."""
    table = read_table(data)
    checker = _RowChecker(table, importer, today)
    rows = [checker.parse(number, cells) for number, cells in table.rows]
    checker.duplicates(rows)
    checker.registered(rows)
    errors = sorted(checker.errors, key=lambda e: e.order)
    return Checked(table.kind, rows, errors)


# ---------------------------------------------------------------- the import


def _inviting_unit(importer: User, community: OrgUnit) -> str:
    """The name of the importer's innermost unit covering the community."""
    units = [n for n in grant_nodes(importer, IMPORT_ROLES) if community.is_within(n)]
    if not units:
        units = grant_nodes(importer, IMPORT_ROLES)
    return max(units, key=lambda n: n.depth).name if units else ""


def run(
    checked: Checked,
    importer: User,
    *,
    invite_url: str,
    now: datetime,
    today: date,
    ip: str | None = None,
) -> list[int]:
    """Create the accounts and profiles of a checked roster and queue an SMS invitation
    to each; returns the outbox ids to deliver after the caller's single commit.

    Any refusal raises ServiceError naming the row; the caller then rolls back, so that
    nothing of the roster is kept. The consent step stays open: imported volunteers
    give their own consent at their first login."""
    if not checked.ok:
        raise ServiceError(_l("The roster has problems; nothing was imported."))
    outbox: list[int] = []
    for row in checked.rows:
        assert row.id_info is not None and row.community is not None
        try:
            user = _create_account(row)
            volunteers.set_identity(
                user,
                row.name,
                row.id_type,
                row.id_info.number,
                today=today,
                gender=row.gender,
                birth_date=row.birth_date,
                actor=importer,
                ip=ip,
            )
            volunteers.set_residence(user, row.community, now=now, actor=importer)
            volunteers.set_politics(user, row.political_status, row.branch, now=now, actor=importer)
            if row.emergency_name or row.emergency_phone:
                volunteers.set_details(
                    user,
                    skills=row.skills,
                    categories=row.categories,
                    availability=[],
                    emergency_name=row.emergency_name,
                    emergency_phone=row.emergency_phone,
                )
        except ServiceError as error:
            raise ServiceError(
                [
                    str(_l("Row %(row)d: %(message)s", row=row.row, message=m))
                    for m in error.messages
                ]
            ) from None
        message = notify.enqueue(
            "invitation",
            channel=Channel.SMS,
            user=user,
            address=row.phone,
            payload={"org": _inviting_unit(importer, row.community), "url": invite_url},
        )
        outbox.append(message.id)
    audit.record(AUDIT_ACTION, actor=importer, ip=ip, rows=len(checked.rows), success=True)
    return outbox


def _create_account(row: ImportRow) -> User:
    user = User(phone=row.phone, password_hash=NO_PASSWORD, display_name=row.name[:50])
    db.session.add(user)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ServiceError(_l("This mobile number is already registered.")) from None
    return user


def refused(importer: User, *, ip: str | None, rows: int, reason: str) -> None:
    """Write a refused confirmation to the audit log (the caller commits)."""
    audit.record(AUDIT_ACTION, actor=importer, ip=ip, rows=rows, success=False, reason=reason)


# ---------------------------------------------------------------- between preview and confirm

#: What a stashed upload is called in the temporary store (services/tempstore.py).
STASH_KIND = "import"


def stash(owner: User, data: bytes, *, now: datetime) -> str:
    """Keep an upload until its confirmation, in the database so that any instance can
    confirm it; returns the token naming it (the caller commits)."""
    return tempstore.put(owner, STASH_KIND, data, now=now, ttl=timedelta(seconds=STASH_SECONDS))


def take(owner: User, token: str | None, *, now: datetime) -> bytes | None:
    """The owner's stashed upload, removed as it is read; None when there is none."""
    return tempstore.take(owner, STASH_KIND, token, now=now)


def discard(owner: User, token: str | None) -> None:
    tempstore.discard(owner, STASH_KIND, token)


# ---------------------------------------------------------------- the template


def _example_place(importer: User) -> tuple[str, str]:
    """A town and community for the example row: the first the importer covers."""
    query = (
        select(OrgUnit)
        .where(OrgUnit.level == OrgLevel.COMMUNITY, OrgUnit.active.is_(True))
        .order_by(OrgUnit.path)
        .limit(1)
    )
    community = db.session.scalar(
        query.where(path_filter(OrgUnit.path, importer, IMPORT_ROLES))
    ) or db.session.scalar(query)
    if community is None or community.parent is None:
        return "", ""
    return community.parent.name, community.name


def build_template(importer: User) -> bytes:
    """The roster template: the header row, one example row and a 说明 sheet."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "志愿者"
    keys = list(HEADERS)
    sheet.append([HEADERS[key] for key in keys])
    town, community = _example_place(importer)
    example = {
        "name": "张三",
        "phone": "13800138000",
        "id_type": "居民身份证",
        "id_number": idnumbers.make_resident_number("370282", date(1990, 5, 1), 123, True),
        "gender": "",
        "birth_date": "",
        "town": town,
        "community": community,
        "political_status": "群众",
        "branch": "",
        "skills": "、".join([SKILL_NAMES["first_aid"], SKILL_NAMES["driving"]]),
        "categories": CATEGORY_NAMES["env_sanitation"],
        "emergency_name": "李四",
        "emergency_phone": "13900139000",
    }
    sheet.append([example[key] for key in keys])
    bold = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="F4CCCC")
    for cell in sheet[1]:
        cell.font = bold
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center")
    for cell in sheet[2]:
        cell.font = Font(italic=True, color="808080")
    last = MAX_ROWS + 1
    for index, key in enumerate(keys, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = 24 if key in ("id_number", "community") else 14
        if key in ("phone", "id_number", "emergency_phone", "birth_date"):
            # Text, so that Excel keeps every digit of long numbers.
            sheet.column_dimensions[letter].number_format = "@"
            sheet.cell(row=2, column=index).number_format = "@"
        choices = {
            "id_type": ID_TYPE_TEMPLATE_NAMES,
            "gender": ["男", "女"],
            "political_status": [names[0] for names in POLITICAL_NAMES.values()],
        }.get(key)
        if choices:
            validation = DataValidation(
                type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True
            )
            validation.add(f"{letter}2:{letter}{last}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    _explanations(workbook.create_sheet("说明"))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _explanations(sheet) -> None:
    yes, no = str(_l("Yes")), str(_l("No"))
    rows = [
        ("name", yes, _l("The volunteer's real name, at most 50 characters.")),
        (
            "phone",
            yes,
            _l(
                "11-digit mainland mobile number; it becomes the login, and the invitation "
                "SMS goes to it. It must not be registered yet."
            ),
        ),
        ("id_type", no, _l("One of the listed ID types; blank means 居民身份证.")),
        (
            "id_number",
            yes,
            _l(
                "The 18-character resident ID number (birth date and gender are read from "
                "it), or the number of the other ID. Keep this column formatted as text."
            ),
        ),
        ("gender", _l("Other ID types"), _l("男 or 女; only for other ID types.")),
        (
            "birth_date",
            _l("Other ID types"),
            _l("For example 1990-05-01; only for other ID types."),
        ),
        ("town", yes, _l("The town or subdistrict, named exactly as on this platform.")),
        (
            "community",
            yes,
            _l(
                "The community or village where the volunteer lives, within the town above "
                "and within your area."
            ),
        ),
        ("political_status", yes, _l("One of the names listed below (GB/T 4762).")),
        (
            "branch",
            _l("Party members"),
            _l(
                "For 中共党员 and 中共预备党员: the name of their Party branch on this "
                "platform (for in-service members, the branch of their workplace)."
            ),
        ),
        ("skills", no, _l("Skills from the list below, separated by 、.")),
        (
            "categories",
            _l("With an emergency contact"),
            _l(
                "Kinds of service the volunteer would like to do, from the list below, "
                "separated by 、."
            ),
        ),
        (
            "emergency_name",
            no,
            _l(
                "Name of an emergency contact. Without one, the volunteer completes this "
                "step at the first login; skills and kinds of service need it."
            ),
        ),
        (
            "emergency_phone",
            _l("With an emergency contact"),
            _l("The emergency contact's 11-digit mobile number, not the volunteer's own."),
        ),
    ]
    sheet.append([str(_l("Column")), str(_l("Required")), str(_l("Explanation"))])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for key, required, text in rows:
        sheet.append([HEADERS[key], str(required), str(text)])
    sheet.append([])
    for text in (
        _l("Row 2 of the first sheet is an example: replace it or delete it."),
        _l(
            "Keep the header row as it is. At most %(n)d rows and %(mb)d MB per file.",
            n=MAX_ROWS,
            mb=MAX_BYTES // 2**20,
        ),
        _l(
            "Nothing is imported until every row is correct. Each new volunteer gets an SMS "
            "invitation to set a password and gives their own consent at the first login."
        ),
    ):
        sheet.append([str(text)])
    sheet.append([])
    lists = [
        (_l("ID types"), ID_TYPE_TEMPLATE_NAMES),
        (_l("Political status"), [names[0] for names in POLITICAL_NAMES.values()]),
        (_l("Skills"), list(SKILL_NAMES.values())),
        (_l("Kinds of service"), list(CATEGORY_NAMES.values())),
    ]
    for title, values in lists:
        sheet.append([str(title), "", "、".join(values)])
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True)
    sheet.column_dimensions["A"].width = 18
    sheet.column_dimensions["B"].width = 16
    sheet.column_dimensions["C"].width = 90
    for row in sheet.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
