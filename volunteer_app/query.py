"""Query-string values, parsed in one place: an odd value is the default, never a 500.

A link someone shortened, a bookmark from an older version or a hand-edited URL must
still open the page: each reader takes `request.args[name]`, and when it is not a value
the page can use (blank, not a whole number, out of range, not a listed choice, not a real
date) returns the default, as if the parameter had not been given. tests/test_query_strings.py
sweeps every GET route with hostile query strings; it finds the names by reading the calls
to these functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from enum import Enum
from typing import TypeVar
from urllib.parse import urlsplit

from flask import request, url_for
from wtforms.meta import DefaultMeta

from .forms import FlaskForm

#: The largest id any table holds (PostgreSQL integer); larger ones cannot exist.
MAX_ID = 2**31 - 1
#: Far beyond any list; keeps OFFSET inside what both databases accept.
MAX_PAGE = 10**6

_INT = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)

E = TypeVar("E", bound=Enum)


def arg_text(name: str, default: str | None = None, *, max_length: int = 100) -> str | None:
    """The stripped value, cut to `max_length`; blank is the default."""
    value = (request.args.get(name) or "").strip()[:max_length]
    return value or default


def arg_int(
    name: str, default: int | None = None, *, low: int | None = None, high: int | None = None
) -> int | None:
    """A whole number written in ASCII digits within [low, high]; anything else the default."""
    value = (request.args.get(name) or "").strip()
    if not _INT.fullmatch(value):
        return default
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        return default
    return number


def arg_id(name: str) -> int | None:
    """A row id (1 … MAX_ID), or None."""
    return arg_int(name, None, low=1, high=MAX_ID)


def arg_page(name: str = "page") -> int:
    """The page asked for: 1 … MAX_PAGE; anything else is the first page."""
    return arg_int(name, 1, low=1, high=MAX_PAGE) or 1


def arg_choice(name: str, choices: Iterable[str], default: str | None = None) -> str | None:
    """One of the listed values, exactly; anything else the default."""
    value = request.args.get(name)
    return value if value is not None and value in set(choices) else default


def arg_enum(name: str, enum: type[E], default: E | None = None) -> E | None:
    """A member of the enum by its value; anything else the default."""
    value = (request.args.get(name) or "").strip()
    try:
        return enum(value) if value else default
    except ValueError:
        return default


def arg_date(name: str, default: date | None = None) -> date | None:
    """A real calendar date written YYYY-MM-DD; anything else the default."""
    value = (request.args.get(name) or "").strip()
    if not _DATE.fullmatch(value):
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        return default


def arg_flag(name: str) -> bool:
    """True for ?name=1, false for anything else."""
    return request.args.get(name) == "1"


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class _QueryMeta(DefaultMeta):
    csrf = False

    def bind_field(self, form, unbound_field, options):
        # WTForms' Optional() lets a blank-looking " " through as the field's data (it clears
        # the choice check's error); stripped, it is "" and means "not given".
        filters = [*unbound_field.kwargs.get("filters", ()), _strip]
        return unbound_field.bind(form=form, filters=filters, **options)


def safe_referrer() -> str | None:
    """The page the request came from, as a path on this site; None when it was another
    site's (or there is no Referer)."""
    parts = urlsplit(request.referrer or "")
    if not parts.path.startswith("/") or (parts.netloc and parts.netloc != request.host):
        return None
    return parts.path + ("?" + parts.query if parts.query else "")


class QueryForm(FlaskForm):
    """A filter form read from the query string: no CSRF token, every value stripped."""

    Meta = _QueryMeta


def safe_next(default: str = "main.index") -> str:
    """The `next` address (query string or form) if it stays on this site, else the
    default page."""
    target = request.args.get("next") or request.form.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return url_for(default)
