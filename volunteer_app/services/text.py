"""Characters that have no place in a name or a title: control characters (C0, DEL, C1),
bidirectional overrides and isolates (which can make a name read backwards), zero-width
characters and the byte-order mark, and line or paragraph separators. Found on input (the
forms refuse them with a clear message) and stripped on output (spreadsheets, CSV, PDF,
calendars), so text that came in another way cannot break a download either."""

from __future__ import annotations

import re

_INVISIBLE = (
    "\x7f-\x9f"  # DEL, C1
    "\u200b-\u200f"  # zero-width space, (non-)joiners, LRM, RLM
    "\u2028\u2029"  # line and paragraph separators
    "\u202a-\u202e"  # bidi embeddings and overrides
    "\u2060-\u2064"  # word joiner, invisible operators
    "\u2066-\u2069"  # bidi isolates
    "\ufeff"  # byte-order mark / zero-width no-break space
)
#: Control (C0 included: tab and line breaks) and invisible characters: a name or a title.
FORBIDDEN = re.compile(f"[\x00-\x1f{_INVISIBLE}]")
#: The same with tab, line feed and carriage return allowed: multi-line text.
FORBIDDEN_IN_TEXT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{_INVISIBLE}]")


def has_forbidden(value: str | None, *, multiline: bool = False) -> bool:
    """True when the text holds a character a name or title may not have (`multiline`:
    line breaks and tabs are allowed)."""
    if not value:
        return False
    return (FORBIDDEN_IN_TEXT if multiline else FORBIDDEN).search(value) is not None


def strip_forbidden(value: str, *, multiline: bool = False) -> str:
    """The text without those characters (`multiline`: keeping tabs and line breaks; else
    each line break or tab becomes a space)."""
    if multiline:
        return FORBIDDEN_IN_TEXT.sub("", value)
    return FORBIDDEN.sub("", re.sub(r"[\t\r\n\u2028\u2029]+", " ", value))
