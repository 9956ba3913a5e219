"""The 志愿者统一编号: a volunteer's number in the national volunteer system (全国志愿服务
信息系统 / 中国志愿服务网), entered by the volunteer or imported.

The Ministry has not published the number's format in a form we could check, so the shape
is kept deliberately loose: after NFKC (full-width characters become ASCII) and upper-casing,
with spaces and hyphens dropped, 6 to 32 ASCII letters and digits with at least one digit.
It is unique: one number, one volunteer."""

from __future__ import annotations

import re
import unicodedata

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import User, VolunteerProfile
from . import ServiceError, audit

MIN_LENGTH = 6
MAX_LENGTH = 32
_SHAPE = re.compile(rf"^(?=.*\d)[A-Z0-9]{{{MIN_LENGTH},{MAX_LENGTH}}}$")


def normalise(raw: str | None) -> str:
    """NFKC, upper case, without spaces and hyphens ("ｊｍ-0012 34" -> "JM001234")."""
    text = unicodedata.normalize("NFKC", raw or "").upper()
    return re.sub(r"[\s\-_]+", "", text)


def problem(number: str) -> str | None:
    """Why a normalised number cannot be one; None when its shape is right."""
    if not _SHAPE.match(number):
        return str(
            _l(
                "The national volunteer number has %(low)d to %(high)d letters and digits "
                "(at least one digit), as shown in the 中国志愿 app.",
                low=MIN_LENGTH,
                high=MAX_LENGTH,
            )
        )
    return None


def owner_of(number: str) -> int | None:
    return db.session.scalar(
        select(VolunteerProfile.user_id).where(VolunteerProfile.national_number == number)
    )


def set_number(
    user: User, raw: str | None, *, actor: User | None = None, ip: str | None = None
) -> VolunteerProfile:
    """Record (or, with an empty value, remove) the volunteer's national number."""
    profile = db.session.get(VolunteerProfile, user.id)
    if profile is None:
        raise ServiceError(_l("Please complete your real name and ID number first."))
    number = normalise(raw)
    if number:
        reason = problem(number)
        if reason:
            raise ServiceError(reason)
        taken = owner_of(number)
        if taken is not None and taken != user.id:
            raise ServiceError(_l("This national volunteer number belongs to another account."))
    profile.national_number = number or None
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ServiceError(
            _l("This national volunteer number belongs to another account.")
        ) from None
    audit.record("volunteer.national_number", actor=actor or user, ip=ip, obj=user)
    return profile
