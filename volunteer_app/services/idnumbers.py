"""ID numbers: GB 11643 resident numbers (MOD 11-2 check character) and other ID types."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l

from ..models import Gender, IdType
from . import identifiers

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK = "10X98765432"

_OTHER_FORMATS: dict[IdType, re.Pattern[str]] = {
    IdType.HK_MACAO: re.compile(r"[HM][0-9]{8}(?:[0-9]{2})?", re.ASCII),
    IdType.TAIWAN: re.compile(r"[0-9]{8}(?:[0-9]{2})?", re.ASCII),
    IdType.PASSPORT: re.compile(r"[A-Z0-9]{5,17}", re.ASCII),
}
_LEGACY_RE = re.compile(r"[0-9]{15}", re.ASCII)


def check_character(first17: str) -> str:
    """The GB 11643 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


@dataclass(frozen=True)
class IdInfo:
    id_type: IdType
    number: str
    birth_date: date | None = None
    gender: Gender | None = None


class IdNumberError(ValueError):
    """Why an ID number is not acceptable, in the user's language."""


def normalise(raw: str | None) -> str:
    """The one normal form of a typed ID number (services.identifiers)."""
    return identifiers.id_number(raw)


def parse(raw: str | None, id_type: IdType = IdType.RESIDENT, *, today: date) -> IdInfo:
    """Check an ID number and derive what it encodes; raises IdNumberError."""
    number = normalise(raw)
    if not number:
        raise IdNumberError(str(_l("Please enter the ID number.")))
    if id_type is not IdType.RESIDENT:
        if not _OTHER_FORMATS[id_type].fullmatch(number):
            raise IdNumberError(str(_l("This does not look like a valid number for this ID type.")))
        return IdInfo(id_type, number)
    if _LEGACY_RE.fullmatch(number):
        raise IdNumberError(
            str(
                _l(
                    "15-digit ID numbers were replaced in 2013; "
                    "please enter the 18-character number on your current ID card."
                )
            )
        )
    if len(number) != 18:
        raise IdNumberError(str(_l("A resident ID number has 18 characters.")))
    if not identifiers.RESIDENT_RE.fullmatch(number):
        raise IdNumberError(str(_l("A resident ID number is 17 digits followed by a digit or X.")))
    if check_character(number[:17]) != number[17]:
        raise IdNumberError(
            str(_l("The ID number's check character does not match; please check each digit."))
        )
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdNumberError(
            str(_l("The birth date in the ID number is not a real date."))
        ) from None
    if born > today:
        raise IdNumberError(str(_l("The birth date in the ID number is in the future.")))
    if born.year < 1900:
        raise IdNumberError(str(_l("The birth date in the ID number is not plausible.")))
    gender = Gender.MALE if int(number[16]) % 2 == 1 else Gender.FEMALE
    return IdInfo(IdType.RESIDENT, number, born, gender)


def mask(number: str) -> str:
    """First 6 and last 4 characters visible: 370282********1234."""
    if len(number) <= 10:
        return number[:2] + "*" * max(len(number) - 4, 0) + number[-2:]
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def make_resident_number(region: str, born: date, serial: int, male: bool) -> str:
    """A valid 18-character number (for demo data and tests): region, birth, serial, check."""
    sequence = serial % 1000
    if (sequence % 2 == 1) != male:
        sequence = (sequence + 1) % 1000
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)
