"""Identifiers a person types — ID numbers, mobile numbers, SMS codes, certificate numbers,
search terms — brought to one normal form before any check, hash, lookup or write.

Unicode NFKC first (full-width ３ and Ｘ, superscript ², circled ① become ASCII), then the
spaces, dashes and invisible format characters people paste between digits are removed,
then ASCII letters are upper-cased. Whatever is left is judged by strict ASCII patterns
(`[0-9]`, never `\\d` or str.isdigit(), which also accept Arabic-Indic or Devanagari
digits that int() reads and superscripts that it does not). Two spellings of one number
therefore give one stored value and one keyed hash, so the uniqueness checks hold.
"""

from __future__ import annotations

import re
import unicodedata

#: A mainland mobile number (11 digits, 1[3-9]…); anchored, so .match() is safe too.
PHONE_RE = re.compile(r"1[3-9][0-9]{9}\Z", re.ASCII)
#: A GB 11643 resident ID number's shape: 17 digits and a digit or X.
RESIDENT_RE = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)
DIGITS_RE = re.compile(r"[0-9]+", re.ASCII)
#: A certificate number without its dash (see services.certificates).
_CERTIFICATE_RE = re.compile(r"(JM[0-9]{27})([A-Z2-7]{10})", re.ASCII)

#: Characters that are not part of an identifier however they are typed: the multiplication
#: sign some input methods give for X is mapped, dashes (Pd) and format characters (Cf:
#: zero-width spaces, soft hyphens, byte-order marks) are dropped, as is whitespace.
_MINUS_SIGNS = "\u2212\u2796"


def _is_separator(char: str) -> bool:
    return char.isspace() or char in _MINUS_SIGNS or unicodedata.category(char) in ("Pd", "Cf")


def fold(raw: object) -> str:
    """NFKC, without spaces, dashes and invisible characters; ASCII letters upper-cased."""
    text = unicodedata.normalize("NFKC", str(raw or ""))
    text = "".join(char for char in text if not _is_separator(char))
    return text.upper() if text.isascii() else text


def id_number(raw: object) -> str:
    """The normal form of an ID number (any type); an × typed for X counts as X."""
    return fold(str(raw or "").replace("×", "X"))


def phone(raw: object) -> str:
    """The normal form of a mobile number: digits only, without a +86 / 0086 / 86 prefix
    and without brackets around an area part."""
    text = fold(raw).replace("(", "").replace(")", "")
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086") and len(text) == 15:
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    return text


def is_phone(value: str) -> bool:
    """True for a normalised mainland mobile number."""
    return PHONE_RE.fullmatch(value) is not None


def digits(raw: object) -> str | None:
    """The ASCII digits typed (an SMS code, a number), or None when anything else is there."""
    text = fold(raw)
    return text if DIGITS_RE.fullmatch(text) else None


def phone_tail(raw: object) -> str | None:
    """The digits of a search for a phone number or its last digits, or None when the term
    is not one (then it is a name)."""
    text = phone(raw)
    return text if DIGITS_RE.fullmatch(text) and len(text) <= 11 else None


def search_term(raw: object) -> str:
    """A search box's text: a phone number (or its tail) in its normal form, else the name
    as typed, trimmed."""
    return phone_tail(raw) or str(raw or "").strip()


def certificate_number(raw: object) -> str:
    """JM…-TAG however the dash and spaces were typed; anything else folded as it is."""
    text = fold(raw)
    match = _CERTIFICATE_RE.fullmatch(text)
    return f"{match.group(1)}-{match.group(2)}" if match else text
