"""Reading a roster: the header row found among the first rows, the cells under it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from ...services import ServiceError
from ...services.spreadsheets import cell_text, csv_rows, detect_kind, xlsx_rows
from .vocabulary import HEADER_ALIASES, HEADER_SEARCH_ROWS, HEADERS, MAX_ROWS, REQUIRED_COLUMNS


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
    text = re.sub(r"[\s\u3000*＊]", "", cell_text(value))
    text = re.sub(r"[(（][^)）]*[)）]", "", text)
    return HEADER_ALIASES.get(text)


def read_table(data: bytes) -> Table:
    """Find the header row and read the rows under it; ServiceError for unusable files."""
    kind = detect_kind(data)
    sheets = xlsx_rows(data) if kind == "xlsx" else csv_rows(data)
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
                        columns[key] = (index, cell_text(cells[index]))
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
            if not any(cell_text(cell) for cell in cells):
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
