"""Roster import: communities' Excel/CSV rosters become accounts and volunteer profiles.

The file is read by its content (an .xlsx workbook or a CSV text in UTF-8 or GB18030),
every row is checked before anything is written, and the import is all-or-nothing: one
transaction, committed by the caller, with an SMS invitation per new account.

vocabulary  the roster's Chinese headers and names, the limits
reading     the header row and the cells under it
rows        a checked roster: parsed rows and row errors
checking    every rule, every row, all problems at once
applying    accounts, profiles and invitations; the audit of a refusal
stash       the upload kept between preview and confirmation
template    the .xlsx template to fill in
"""

from ...services.spreadsheets import MAX_BYTES, MAX_UNPACKED_BYTES
from .applying import AUDIT_ACTION, refused, run
from .checking import check
from .reading import Table, read_table
from .rows import Checked, ImportRow, RowError
from .stash import STASH_SECONDS, discard, stash, take
from .template import build_template
from .vocabulary import HEADERS, IMPORT_ROLES, MAX_ROWS

__all__ = [
    "AUDIT_ACTION",
    "HEADERS",
    "IMPORT_ROLES",
    "MAX_BYTES",
    "MAX_ROWS",
    "MAX_UNPACKED_BYTES",
    "STASH_SECONDS",
    "Checked",
    "ImportRow",
    "RowError",
    "Table",
    "build_template",
    "check",
    "discard",
    "read_table",
    "refused",
    "run",
    "stash",
    "take",
]
