"""Volunteer profiles: the registration steps, completeness, affiliation history, minors,
the volunteer's own data download and account deletion. Which volunteers an organiser may
see and find: services/volunteer_search.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..catalog import AVAILABILITY, CATEGORIES, SKILLS
from ..extensions import db
from ..models import (
    AffiliationHistory,
    Gender,
    IdType,
    OrgLevel,
    OrgUnit,
    PoliticalStatus,
    User,
    VolunteerProfile,
)
from . import ServiceError, audit, idnumbers, pii
from .accounts import PHONE_RE, normalise_phone

#: Version of the privacy notice a consent refers to (templates/volunteers/privacy.html).
PRIVACY_VERSION = "2026-11"
ADULT_AGE = 18
CHILD_AGE = 14  # under 14: sensitive personal information (PIPL Art 28, 31)


def profile_of(user: User) -> VolunteerProfile:
    """The user's profile, created empty on first use."""
    profile = db.session.get(VolunteerProfile, user.id)
    if profile is None:
        profile = VolunteerProfile(
            user_id=user.id, skills=[], service_categories=[], availability=[]
        )
        db.session.add(profile)
        db.session.flush()
    return profile


# ---------------------------------------------------------------- identity


def set_identity(
    user: User,
    real_name: str,
    id_type: IdType,
    id_number: str,
    *,
    today: date,
    gender: Gender | None = None,
    birth_date: date | None = None,
    actor: User | None = None,
    ip: str | None = None,
) -> VolunteerProfile:
    """Record the real name and ID; a resident number gives birth date and gender."""
    problems: list[str] = []
    name = (real_name or "").strip()
    if not name:
        problems.append(str(_l("Please enter your real name.")))
    elif len(name) > 50:
        problems.append(str(_l("The name may have at most 50 characters.")))
    info = None
    taken: int | None = None  # the account already holding this ID number
    try:
        info = idnumbers.parse(id_number, id_type, today=today)
    except idnumbers.IdNumberError as error:
        problems.append(str(error))
    if id_type is not IdType.RESIDENT:
        if gender is None:
            problems.append(str(_l("Please choose the gender.")))
        if birth_date is None:
            problems.append(str(_l("Please enter the birth date.")))
        elif birth_date > today or birth_date.year < 1900:
            problems.append(str(_l("The birth date is not plausible.")))
    id_hash = None
    if info is not None:
        id_hash = pii.keyed_hash(f"{info.id_type.value}:{info.number}")
        taken = db.session.scalar(
            select(VolunteerProfile.user_id).where(
                VolunteerProfile.id_hash == id_hash, VolunteerProfile.user_id != user.id
            )
        )
        if taken is not None:
            problems.append(str(_l("This ID number is already registered to another account.")))
    if problems:
        error = ServiceError(problems)
        # The way back into the existing account: its number, masked, for a password reset.
        error.existing_phone = (  # type: ignore[attr-defined]
            db.session.get(User, taken).masked_phone if taken is not None else None
        )
        raise error
    assert info is not None and id_hash is not None
    profile = profile_of(user)
    profile.real_name = name
    profile.id_type = info.id_type
    profile.id_number_encrypted = pii.encrypt(info.number)
    profile.id_hash = id_hash
    profile.id_masked = idnumbers.mask(info.number)
    profile.gender = info.gender or gender
    profile.birth_date = info.birth_date or birth_date
    user.display_name = name
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ServiceError(_l("This ID number is already registered to another account.")) from None
    audit.record("volunteer.identity", actor=actor or user, ip=ip, obj=user)
    return profile


def id_number_of(profile: VolunteerProfile) -> str | None:
    """The clear ID number (for the volunteer themself and audited exports only)."""
    if not profile.id_number_encrypted:
        return None
    return pii.decrypt(profile.id_number_encrypted)


# ---------------------------------------------------------------- affiliation


def _record_history(
    user: User, profile: VolunteerProfile, actor: User | None, now: datetime
) -> None:
    current = db.session.scalar(
        select(AffiliationHistory).where(
            AffiliationHistory.user_id == user.id, AffiliationHistory.valid_to.is_(None)
        )
    )
    if current is not None:
        if (current.community_id, current.branch_id) == (profile.community_id, profile.branch_id):
            return
        current.valid_to = now
    db.session.add(
        AffiliationHistory(
            user_id=user.id,
            community_id=profile.community_id,
            branch_id=profile.branch_id,
            valid_from=now,
            changed_by_id=actor.id if actor else user.id,
        )
    )


def set_residence(
    user: User, community: OrgUnit | None, *, now: datetime, actor: User | None = None
) -> VolunteerProfile:
    """Set the residence community (社区/村); the previous one stays in the history."""
    if community is None or community.level is not OrgLevel.COMMUNITY or not community.active:
        raise ServiceError(_l("Please choose your community or village."))
    profile = profile_of(user)
    profile.community_id = community.id
    db.session.flush()
    _record_history(user, profile, actor, now)
    return profile


def set_politics(
    user: User,
    status: PoliticalStatus | None,
    branch: OrgUnit | None,
    *,
    now: datetime,
    actor: User | None = None,
) -> VolunteerProfile:
    """Political status; Party members also name their (work) Party branch (双报到)."""
    if status is None:
        raise ServiceError(_l("Please choose your political status."))
    if status.is_party_member:
        if branch is None or branch.level is not OrgLevel.PARTY_BRANCH or not branch.active:
            raise ServiceError(_l("Party members please choose their Party branch."))
    else:
        branch = None
    profile = profile_of(user)
    profile.political_status = status
    profile.branch_id = branch.id if branch else None
    db.session.flush()
    _record_history(user, profile, actor, now)
    return profile


# ---------------------------------------------------------------- details and consent


def set_details(
    user: User,
    *,
    skills: list[str],
    categories: list[str],
    availability: list[str],
    emergency_name: str,
    emergency_phone: str,
) -> VolunteerProfile:
    """Skills, preferred service categories, availability and an emergency contact."""
    problems = []
    emergency_name = (emergency_name or "").strip()
    emergency_phone = normalise_phone(emergency_phone)
    if not emergency_name:
        problems.append(str(_l("Please name an emergency contact.")))
    if not PHONE_RE.match(emergency_phone):
        problems.append(str(_l("The emergency contact needs an 11-digit mobile number.")))
    elif emergency_phone == user.phone:
        problems.append(str(_l("The emergency contact must be someone else's number.")))
    if not categories:
        problems.append(str(_l("Please choose at least one kind of service.")))
    if problems:
        raise ServiceError(problems)
    profile = profile_of(user)
    profile.skills = [s for s in skills if s in SKILLS]
    profile.service_categories = [c for c in categories if c in CATEGORIES]
    profile.availability = [a for a in availability if a in AVAILABILITY]
    profile.emergency_name = emergency_name[:50]
    profile.emergency_phone = emergency_phone
    db.session.flush()
    return profile


def is_minor(profile: VolunteerProfile, today: date) -> bool:
    age = profile.age_on(today)
    return age is not None and age < ADULT_AGE


def give_consent(
    user: User,
    *,
    privacy: bool,
    sensitive: bool,
    guardian_name: str = "",
    guardian_phone: str = "",
    guardian_consent: bool = False,
    now: datetime,
    today: date,
    ip: str | None = None,
) -> VolunteerProfile:
    """Record consent to the privacy notice and, separately, to sensitive data; under 18
    a guardian's name, number and consent are required too."""
    profile = profile_of(user)
    problems = []
    if not privacy:
        problems.append(str(_l("Please agree to the privacy notice.")))
    if not sensitive:
        problems.append(str(_l("Please agree to the processing of your ID number.")))
    minor = is_minor(profile, today)
    guardian_phone = normalise_phone(guardian_phone)
    if minor:
        if not (guardian_name or "").strip():
            problems.append(str(_l("Volunteers under 18 need a guardian's name.")))
        if not PHONE_RE.match(guardian_phone):
            problems.append(str(_l("Volunteers under 18 need a guardian's mobile number.")))
        if not guardian_consent:
            problems.append(str(_l("Volunteers under 18 need their guardian's consent.")))
    if problems:
        raise ServiceError(problems)
    profile.privacy_version = PRIVACY_VERSION
    profile.consented_at = now
    profile.sensitive_consented_at = now
    if minor:
        profile.guardian_name = guardian_name.strip()[:50]
        profile.guardian_phone = guardian_phone
        profile.guardian_consented_at = now
    db.session.flush()
    audit.record(
        "volunteer.consent", actor=user, ip=ip, obj=user, version=PRIVACY_VERSION, guardian=minor
    )
    return profile


# ---------------------------------------------------------------- completeness


@dataclass(frozen=True)
class Step:
    key: str
    label: object
    endpoint: str


#: Consent comes first: the ID number (sensitive personal information) is collected only
#: after the privacy notice and the separate sensitive-data consent (PIPL Art 14, 29).
#: A volunteer the ID number shows to be under 18 is sent back to it for the guardian.
STEPS = [
    Step("consent", _l("Consent"), "volunteers.step_consent"),
    Step("identity", _l("Real name and ID number"), "volunteers.step_identity"),
    Step("residence", _l("Residence community"), "volunteers.step_residence"),
    Step("politics", _l("Political status"), "volunteers.step_politics"),
    Step("details", _l("Skills and emergency contact"), "volunteers.step_details"),
]


def has_consented(profile: VolunteerProfile | None) -> bool:
    """Privacy notice and sensitive-data consent given (the guardian's may still be due)."""
    return bool(profile and profile.consented_at and profile.sensitive_consented_at)


def missing_steps(profile: VolunteerProfile | None, today: date) -> list[Step]:
    """The registration steps still to do before the volunteer can sign up for a shift."""
    if profile is None:
        return list(STEPS)
    done = {
        "identity": bool(profile.id_hash and profile.real_name and profile.birth_date),
        "residence": profile.community_id is not None,
        "politics": profile.political_status is not None
        and (not profile.political_status.is_party_member or profile.branch_id is not None),
        "details": bool(profile.emergency_phone and profile.service_categories),
        "consent": bool(profile.consented_at and profile.sensitive_consented_at)
        and (not is_minor(profile, today) or profile.guardian_consented_at is not None),
    }
    return [step for step in STEPS if not done[step.key]]


def is_complete(profile: VolunteerProfile | None, today: date) -> bool:
    return not missing_steps(profile, today)


# ---------------------------------------------------------------- the volunteer's rights


def export_data(user: User) -> dict:
    """Everything held about the volunteer (services/privacy.py)."""
    from .privacy import export_data as export

    return export(user)


def delete_account(user: User, *, now: datetime, ip: str | None = None) -> None:
    """Erase the personal data and close the account (services/privacy.py)."""
    from .privacy import delete_account as erase

    erase(user, now=now, ip=ip)


def suggested_branch(community: OrgUnit | None) -> OrgUnit | None:
    """The Party branch named after the home community (东关社区 → 东关社区党支部), if one."""
    if community is None:
        return None
    branches = db.session.scalars(
        select(OrgUnit)
        .where(
            OrgUnit.level == OrgLevel.PARTY_BRANCH,
            OrgUnit.active.is_(True),
            OrgUnit.name.startswith(community.name, autoescape=True),
        )
        .order_by(OrgUnit.id)
        .limit(2)
    ).all()
    return branches[0] if len(branches) == 1 else None
