"""A checked roster: its rows as parsed and the problems found, row by row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ...models import Gender, IdType, OrgUnit, PoliticalStatus
from ...services import idnumbers, pii
from .vocabulary import HEADERS


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
