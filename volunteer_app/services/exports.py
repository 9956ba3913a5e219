"""Tables as downloads: CSV (UTF-8 with a BOM, so Excel reads Chinese) and Excel (.xlsx).

Every text cell that a spreadsheet could take for a formula (it begins with =, +, -, @,
a tab or a carriage return, also after leading spaces or in full-width form) is
neutralised with a leading single quote, so a volunteer named "=1+1" stays a name.
The caller audits the export (services.audit.record("export.tally", ...)).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from .text import strip_forbidden

#: Characters that make a spreadsheet read a cell as a formula (or a DDE call).
FORMULA_START = frozenset("=+-@\t\r\n＝＋－＠")

CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"csv": CSV_MIMETYPE, "xlsx": XLSX_MIMETYPE}

_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def neutralise(value: object) -> object:
    """The value, with text that could run as a formula prefixed by a single quote.
    Numbers, dates and None pass unchanged (a number cannot be a formula)."""
    if not isinstance(value, str) or not value:
        return value
    stripped = value.lstrip(" \u3000")
    if value[0] in FORMULA_START or (stripped and stripped[0] in FORMULA_START):
        return "'" + value
    return value


def _plain(value: object) -> object:
    """A cell value both writers accept: text (without control or invisible characters,
    which a workbook cannot hold and a spreadsheet would show as garbage; line breaks
    stay), a number, a date, or empty."""
    if value is None or isinstance(value, (int, float, Decimal, date, datetime)):
        return value
    return strip_forbidden(str(value), multiline=True)


def clean_row(row: Sequence[object]) -> list[object]:
    return [neutralise(_plain(value)) for value in row]


def to_csv(headers: Sequence[object], rows: Iterable[Sequence[object]]) -> bytes:
    """CSV bytes with a UTF-8 BOM and CRLF line ends (what Excel expects)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, dialect="excel")
    writer.writerow(clean_row(headers))
    for row in rows:
        writer.writerow(["" if v is None else v for v in clean_row(row)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def download_name(name: str, fmt: str) -> str:
    """A file name for the download: no control or invisible characters (a line break
    in a unit's name would make the header invalid), no path separators or quotes."""
    cleaned = re.sub(r'[\\/:*?"<>|]', "_", strip_forbidden(name or "")).strip(" .")
    return f"{cleaned[:100] or 'export'}.{fmt}"


def sheet_title(title: str) -> str:
    """A valid worksheet name: at most 31 characters, none of []:*?/\\."""
    cleaned = _SHEET_BAD.sub("_", strip_forbidden(title or "")).strip("'") or "Sheet1"
    return cleaned[:31]


def to_xlsx(
    headers: Sequence[object],
    rows: Iterable[Sequence[object]],
    *,
    title: str = "Sheet1",
    widths: Sequence[int] | None = None,
) -> bytes:
    """An .xlsx workbook with one sheet, written row by row (write-only mode, so a large
    table does not sit in memory as cell objects); the header row is bold and frozen."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title(title))
    header_cells = []
    for i, header in enumerate(clean_row(headers)):
        cell = WriteOnlyCell(sheet, value=header)
        cell.font = Font(bold=True)
        header_cells.append(cell)
        width = widths[i] if widths and i < len(widths) else max(10, len(str(header)) * 2 + 2)
        sheet.column_dimensions[_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    sheet.append(header_cells)
    for row in rows:
        sheet.append(_xlsx_row(sheet, row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_row(sheet, row: Sequence[object]) -> list[object]:
    out: list[object] = []
    for value in clean_row(row):
        if isinstance(value, str):
            # Explicitly text: openpyxl would otherwise read a leading "=" as a formula.
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            out.append(cell)
        else:
            out.append(value)
    return out


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def render(
    fmt: str,
    headers: Sequence[object],
    rows: Iterable[Sequence[object]],
    *,
    title: str = "Sheet1",
) -> tuple[bytes, str]:
    """(bytes, mimetype) of the table in `fmt` ('csv' or 'xlsx')."""
    if fmt == "csv":
        return to_csv(headers, rows), CSV_MIMETYPE
    if fmt == "xlsx":
        return to_xlsx(headers, rows, title=title), XLSX_MIMETYPE
    raise ValueError(f"unknown export format {fmt!r}")
