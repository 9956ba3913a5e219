"""Checking a roster: every row against the rules, then across rows and registered accounts.

Every problem of every row is reported together; nothing is written.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute

from ...catalog import CATEGORIES, SKILLS
from ...extensions import db
from ...models import IdType, OrgLevel, OrgUnit, User, VolunteerProfile
from ...services import identifiers, idnumbers
from ...services.accounts import PHONE_RE, normalise_phone, phone_problem
from ...services.scope import covers
from ...services.spreadsheets import cell_text, parse_date
from .reading import Table, read_table
from .rows import Checked, ImportRow, RowError
from .vocabulary import (
    CATEGORY_NAMES,
    GENDER_NAMES,
    ID_TYPE_NAMES,
    IMPORT_ROLES,
    SKILL_NAMES,
    code_lookup,
    political_lookup,
)

_LIST_SEPARATORS = re.compile(r"[、,，;；/\s]+")
# Digits are ASCII only ([0-9], never \d): cells are brought to NFKC first, so full-width
# digits count, and other scripts' digits are refused instead of being read by int().
_SCIENTIFIC = re.compile(r"[0-9](\.[0-9]+)?E\+?[0-9]+", re.IGNORECASE | re.ASCII)


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


class _RowChecker:
    def __init__(self, table: Table, importer: User, today: date) -> None:
        self.table = table
        self.importer = importer
        self.today = today
        self.orgs = _Orgs()
        self.politics = political_lookup()
        self.skills = code_lookup(SKILL_NAMES, SKILLS)
        self.categories = code_lookup(CATEGORY_NAMES, CATEGORIES)
        self.errors: list[RowError] = []

    def fail(self, row: ImportRow, key: str, message: object) -> None:
        row.ok = False
        self.errors.append(RowError(row.row, self.table.header(key), str(message), key))

    def value(self, cells: list[object], key: str) -> str:
        return cell_text(self.table.cell(cells, key))

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
        text = cell_text(raw)
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
        row.birth_date = parse_date(born_raw)
        if not cell_text(born_raw):
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


def _in_chunks(
    query: Select, column: InstrumentedAttribute, values: Iterable[object], size: int = 500
) -> Iterator[object]:
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
