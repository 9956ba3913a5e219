"""志愿服务证明 (民政部《志愿服务记录与证明出具办法》Art 14–17): the certificate a volunteer
downloads for a period, as a PDF, and its public verification.

A certificate's number is short enough to read out on the phone: "JM-4K7Q-M3XD", eight
random characters of Crockford's base32 (no I, L, O or U; a spoken O is read as 0 and an I
or L as 1). certificate_issues keeps what each number certified (volunteer, period, issue
day). Numbers issued before that table existed are long and carry their own signature,
and still verify:

    JM<issued yyyymmdd><user id, 7 digits><start yymmdd><end yymmdd>-<tag>

where the tag is an HMAC (under a key derived from SECRET_KEY for this purpose only) of
everything before the dash. A changed digit breaks the tag; a new SECRET_KEY invalidates
every certificate issued before (re-issue them).

The verification page recomputes the approved minutes for that user and period from the
ledger, counting only records approved by the end of the issue day (local time). Approved
rows never change (the append-only guard) and a decided row is never decided again, so the
figure is the same on every later day: a correction approved after the issue day is a new
row dated on the original's service date — it falls inside the period, and counting it
would make an honest certificate look wrong; it is left out by its approval time instead.
Only an approval later on the issue day itself, after the download, can make the page show
more than the paper (the number carries the date, not the time).

The certificate text is Chinese whatever the interface language: it is the formal document
of the 办法 (its fields and wording follow Art 15), not part of the interface.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select

from ..catalog import ID_TYPES
from ..extensions import db
from ..models import (
    CertificateIssue,
    RecordKind,
    RecordStatus,
    ServiceRecord,
    User,
    VolunteerProfile,
)
from ..timeutil import from_local
from . import ServiceError, audit, identifiers

#: Who records and certifies (记录单位 / 出具单位).
ISSUER = "即墨区文明办 志愿先行平台"
PLATFORM = "志愿先行平台"
_PURPOSE = b"volunteer-app/service-certificates"
_TAG_LENGTH = 10  # base32 characters: 50 bits (and in _NUMBER_RE)
_NUMBER_RE = re.compile(r"JM([0-9]{8})([0-9]{7})([0-9]{6})([0-9]{6})-([A-Z2-7]{10})\Z", re.ASCII)
#: The earliest period start a two-digit year in the number can express unambiguously.
EARLIEST = date(2000, 1, 1)
#: How many activities the content summary lists by name (the rest are summed).
TOP_ACTIVITIES = 6
TOP_ORGANISATIONS = 3


# ---------------------------------------------------------------- numbers


def _key() -> bytes:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def _tag(body: str) -> str:
    digest = hmac.new(_key(), body.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:_TAG_LENGTH]


#: Crockford's base32: digits and letters without I, L, O, U.
SHORT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHORT_LENGTH = 8  # 40 random bits
_SHORT_RE = re.compile(rf"^JM([{SHORT_ALPHABET}]{{{SHORT_LENGTH}}})$")
_SPOKEN = str.maketrans({"O": "0", "I": "1", "L": "1"})


def short_number() -> str:
    """A new random number, stored form ("JM4K7QM3XD")."""
    import secrets

    return "JM" + "".join(secrets.choice(SHORT_ALPHABET) for _ in range(SHORT_LENGTH))


def display_number(stored: str) -> str:
    """ "JM4K7QM3XD" -> "JM-4K7Q-M3XD" (long, older numbers unchanged)."""
    match = _SHORT_RE.match(stored)
    if match is None:
        return stored
    body = match.group(1)
    return f"JM-{body[:4]}-{body[4:]}"


def normalise_short(number: str) -> str | None:
    """The stored form of a short number as typed or read aloud, or None."""
    text = re.sub(r"[\s\-－—_.]+", "", (number or "").upper())
    if not text.startswith("JM"):
        return None
    text = "JM" + text[2:].translate(_SPOKEN)
    return text if _SHORT_RE.match(text) else None


def number_for(user_id: int, start: date, end: date, issued_on: date) -> str:
    body = f"JM{issued_on:%Y%m%d}{user_id:07d}{start:%y%m%d}{end:%y%m%d}"
    return f"{body}-{_tag(body)}"


@dataclass(frozen=True)
class Parsed:
    issued_on: date
    user_id: int
    start: date
    end: date


def parse(number: str) -> Parsed | None:
    """The fields of a genuine number; None for anything malformed or tampered with."""
    number = identifiers.certificate_number(number)
    match = _NUMBER_RE.match(number)
    if match is None:
        return None
    body, tag = number.rsplit("-", 1)
    if not hmac.compare_digest(_tag(body), tag):
        return None
    issued, user, start, end = match.group(1, 2, 3, 4)
    try:
        issued_on = datetime.strptime(issued, "%Y%m%d").date()
        start_day = datetime.strptime(start, "%y%m%d").date()
        end_day = datetime.strptime(end, "%y%m%d").date()
    except ValueError:
        return None
    return Parsed(issued_on, int(user), start_day, end_day)


# ---------------------------------------------------------------- figures


def hours_text(minutes: int) -> str:
    """Hours with one decimal, rounded half up: 125 min -> "2.1"."""
    hours = (Decimal(minutes) / Decimal(60)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{hours}"


def masked_name(name: str) -> str:
    """The first character and a star for each other one: 王小明 -> 王**."""
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else "*"


def end_of_day(day: date) -> datetime:
    """The first moment after the local day, as stored (naive UTC)."""
    return from_local(datetime.combine(day + timedelta(days=1), time()))


@dataclass
class Summary:
    minutes: int = 0
    sessions: int = 0
    #: (category code, minutes), most first.
    categories: list[tuple[str, int]] = field(default_factory=list)
    #: (activity, minutes), most first; at most TOP_ACTIVITIES, then ("", rest) if any.
    activities: list[tuple[str, int]] = field(default_factory=list)
    #: Organisations served with, most hours first.
    organisations: list[str] = field(default_factory=list)


def summarise(user_id: int, start: date, end: date, approved_before: datetime) -> Summary:
    """Approved minutes of the user's records dated in [start, end], approved before the
    cut-off; with corrections (each counted with the record it corrects)."""
    rows = db.session.scalars(
        select(ServiceRecord).where(
            ServiceRecord.user_id == user_id,
            ServiceRecord.status == RecordStatus.APPROVED,
            ServiceRecord.service_date >= start,
            ServiceRecord.service_date <= end,
            or_(
                ServiceRecord.decided_at < approved_before,
                and_(
                    ServiceRecord.decided_at.is_(None),
                    ServiceRecord.created_at < approved_before,
                ),
            ),
        )
    ).all()
    by_category: dict[str, int] = defaultdict(int)
    by_activity: dict[str, int] = defaultdict(int)
    by_organisation: dict[str, int] = defaultdict(int)
    summary = Summary()
    for row in rows:
        summary.minutes += row.minutes
        if row.kind is not RecordKind.CORRECTION:
            summary.sessions += 1
        by_category[row.category] += row.minutes
        by_activity[row.activity] += row.minutes
        if row.organisation:
            by_organisation[row.organisation] += row.minutes

    def ranked(values: dict[str, int]) -> list[tuple[str, int]]:
        return sorted(((k, v) for k, v in values.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))

    summary.categories = ranked(by_category)
    activities = ranked(by_activity)
    summary.activities = activities[:TOP_ACTIVITIES]
    rest = sum(v for _k, v in activities[TOP_ACTIVITIES:])
    if rest:
        summary.activities.append(("", rest))
    summary.organisations = [k for k, _v in ranked(by_organisation)[:TOP_ORGANISATIONS]]
    return summary


# ---------------------------------------------------------------- issuing


@dataclass
class Certificate:
    number: str
    user_id: int
    real_name: str
    id_masked: str
    start: date
    end: date
    issued_on: date
    summary: Summary
    id_type: str = "居民身份证"
    national_number: str = ""
    issuer: str = ISSUER
    head: str = ""
    handler: str = ""
    contact: str = ""

    @property
    def hours(self) -> str:
        return hours_text(self.summary.minutes)

    @property
    def display_number(self) -> str:
        return display_number(self.number)


def issue(
    user: User, start: date | None, end: date | None, *, today: date, ip: str | None = None
) -> Certificate:
    """The volunteer's certificate for the period (both days included), audited."""
    problems = []
    profile = db.session.get(VolunteerProfile, user.id)
    if profile is None or not profile.real_name or not profile.id_masked:
        problems.append(str(_l("Please complete your real name and ID number first.")))
    if start is None or end is None:
        problems.append(str(_l("Please choose the first and the last day.")))
    elif start > end:
        problems.append(str(_l("The first day must not be after the last day.")))
    elif end > today:
        problems.append(str(_l("The last day cannot be in the future.")))
    elif start < EARLIEST:
        problems.append(str(_l("The first day must be in 2000 or later.")))
    if problems:
        raise ServiceError(problems)
    assert profile is not None and start is not None and end is not None
    summary = summarise(user.id, start, end, end_of_day(today))
    if summary.minutes <= 0:
        raise ServiceError(_l("You have no approved service hours in this period."))
    number = _store(user.id, start, end, today, summary.minutes)
    audit.record(
        "certificate.issue",
        actor=user,
        ip=ip,
        object_type="certificate",
        object_id=number,
        start=start.isoformat(),
        end=end.isoformat(),
        minutes=summary.minutes,
    )
    config = current_app.config
    with force_locale("zh"):
        id_type = str(ID_TYPES.get(profile.id_type, "")) if profile.id_type else ""
    return Certificate(
        number=number,
        user_id=user.id,
        real_name=profile.real_name,
        id_masked=profile.id_masked,
        start=start,
        end=end,
        issued_on=today,
        summary=summary,
        id_type=id_type,
        national_number=profile.national_number or "",
        issuer=config.get("CERTIFICATE_ISSUER") or ISSUER,
        head=config.get("CERTIFICATE_HEAD") or "",
        handler=config.get("CERTIFICATE_HANDLER") or "",
        contact=config.get("CERTIFICATE_CONTACT") or "",
    )


def _store(user_id: int, start: date, end: date, today: date, minutes: int) -> str:
    """A new short number recorded with what it certifies (drawn again on a collision)."""
    from sqlalchemy.exc import IntegrityError

    for _attempt in range(5):
        number = short_number()
        if db.session.get(CertificateIssue, number) is not None:
            continue
        try:
            with db.session.begin_nested():
                db.session.add(
                    CertificateIssue(
                        number=number,
                        user_id=user_id,
                        start=start,
                        end=end,
                        issued_on=today,
                        minutes=minutes,
                    )
                )
                db.session.flush()
        except IntegrityError:
            continue
        return number
    raise ServiceError(_l("Please try again."))


# ---------------------------------------------------------------- verifying


@dataclass(frozen=True)
class Verified:
    """Everything the public verification page shows, and nothing more."""

    number: str
    masked_name: str
    hours: str
    issuer: str
    issued_on: date


def verify(number: str, *, today: date) -> Verified | None:
    """The certificate's figures recomputed from the ledger; None when the number is not
    genuine (malformed, tampered with, issued "in the future", or its volunteer's account
    no longer has a name)."""
    short = normalise_short(number)
    if short is not None:
        issue_row = db.session.get(CertificateIssue, short)
        if issue_row is None:
            return None
        parsed: Parsed | None = Parsed(
            issue_row.issued_on, issue_row.user_id, issue_row.start, issue_row.end
        )
        shown = display_number(short)
    else:
        parsed = parse(number)
        shown = identifiers.certificate_number(number)
    if parsed is None or parsed.issued_on > today or parsed.start > parsed.end:
        return None
    profile = db.session.get(VolunteerProfile, parsed.user_id)
    user = db.session.get(User, parsed.user_id)
    if profile is None or user is None or user.deleted_at is not None or not profile.real_name:
        return None
    summary = summarise(parsed.user_id, parsed.start, parsed.end, end_of_day(parsed.issued_on))
    return Verified(
        number=shown,
        masked_name=masked_name(profile.real_name),
        hours=hours_text(summary.minutes),
        issuer=current_app.config.get("CERTIFICATE_ISSUER") or ISSUER,
        issued_on=parsed.issued_on,
    )
