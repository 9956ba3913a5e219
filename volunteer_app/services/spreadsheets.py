"""Reading an uploaded spreadsheet: an .xlsx workbook or a CSV text (UTF-8 or GB18030),
told apart by its bytes, as numbered rows of raw cells; a cell as text or as a date.

The roster import (volunteers/imports) and the import of external hours read files here.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from datetime import date, datetime

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from openpyxl import load_workbook

from . import ServiceError

#: The largest upload read.
MAX_BYTES = 2 * 1024 * 1024
#: An .xlsx is a zip; refuse one that would unpack to more than this (a "zip bomb").
MAX_UNPACKED_BYTES = 100 * 1024 * 1024

# Digits are ASCII only ([0-9], never \d): cells are brought to NFKC first, so full-width
# digits count, and other scripts' digits are refused instead of being read by int().
_DATE_PATTERNS = (
    re.compile(r"([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?", re.ASCII),
    re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})", re.ASCII),
)


def cell_text(value: object) -> str:
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
    if decode(data) is not None:
        return "csv"
    raise ServiceError(not_a_spreadsheet())


def not_a_spreadsheet() -> LazyString:
    """The refusal of a file that is neither a workbook nor text."""
    return _l("This file is neither an Excel workbook (.xlsx) nor a CSV file.")


def decode(data: bytes) -> str | None:
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


def xlsx_rows(data: bytes) -> Iterator[Iterator[tuple[int, list[object]]]]:
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


def csv_rows(data: bytes) -> Iterator[Iterator[tuple[int, list[object]]]]:
    """The rows of a CSV text (its delimiter sniffed), as one sheet, numbered from 1."""
    text = decode(data)
    if text is None:
        raise ServiceError(not_a_spreadsheet())
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    yield ((number, list(values)) for number, values in enumerate(reader, start=1))


def parse_date(value: object) -> date | None:
    """A cell as a date (a date cell, 1990-05-01, 1990年5月1日, 19900501), else None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", cell_text(value)).replace(" ", "")
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            try:
                return date(*(int(part) for part in match.groups()))
            except ValueError:
                return None
    return None
