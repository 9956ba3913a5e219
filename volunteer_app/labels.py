"""Words for codes that reach a page: sign-up statuses, audit actions and objects, the
reasons the system writes. A code missing here shows as a neutral word, never raw."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from .organise.tables import STATUS_LABELS as SIGNUP_STATUS_LABELS

#: Reasons written by the system itself (jobs), not typed by a person.
SYSTEM_REASONS = {
    "waitlist expired": _l("Waitlist expired: the shift began before a place came free"),
}

AUDIT_ACTIONS = {
    "account.delete": _l("Account deleted"),
    "account.password_change": _l("Password changed"),
    "account.password_reset": _l("Password reset"),
    "account.register": _l("Account registered"),
    "attendance.correct": _l("Check-in times corrected"),
    "attendance.paper": _l("Times from a paper sheet"),
    "auth.login": _l("Log in"),
    "auth.logout": _l("Log out"),
    "card.issue": _l("Volunteer card issued"),
    "card.revoke": _l("Volunteer card revoked"),
    "certificate.issue": _l("Certificate issued"),
    "event.cancel": _l("Event cancelled"),
    "event.copy": _l("Event copied"),
    "event.create": _l("Event created"),
    "event.publish": _l("Event published"),
    "event.update": _l("Event edited"),
    "export.roster": _l("Roster exported"),
    "export.tally": _l("Tally exported"),
    "hours.answer_request": _l("Correction request answered"),
    "hours.approve": _l("Hours approved"),
    "hours.ask_correction": _l("Correction requested"),
    "hours.correct": _l("Hours corrected"),
    "hours.manual": _l("Hours entered by hand"),
    "hours.reject": _l("Hours rejected"),
    "message.send": _l("Message sent"),
    "org.activate": _l("Unit reactivated"),
    "org.create": _l("Unit created"),
    "org.deactivate": _l("Unit deactivated"),
    "org.delete": _l("Unit deleted"),
    "org.move": _l("Unit moved"),
    "org.rename": _l("Unit renamed"),
    "pii.roster_phones": _l("Full phone numbers of a roster shown"),
    "pii.self_export": _l("Own data downloaded"),
    "pii.view_phone": _l("Full phone number shown"),
    "pii.view_profile": _l("Volunteer profile viewed"),
    "role.grant": _l("Role granted"),
    "role.revoke": _l("Role removed"),
    "shift.cancel": _l("Shift cancelled"),
    "shift.confirm": _l("Shift hours confirmed"),
    "shift.create": _l("Shift added"),
    "shift.no_shows": _l("No-shows recorded"),
    "shift.update": _l("Shift edited"),
    "signup.add": _l("Volunteer added to a shift"),
    "signup.remove": _l("Volunteer removed from a shift"),
    "team.approve": _l("Team membership approved"),
    "team.decline": _l("Team membership declined"),
    "volunteer.consent": _l("Consent recorded"),
    "volunteer.identity": _l("Identity entered"),
    "volunteer.import": _l("Volunteers imported"),
}

AUDIT_OBJECTS = {
    "User": _l("Account"),
    "VolunteerProfile": _l("Volunteer profile"),
    "Event": _l("Event"),
    "Shift": _l("Shift"),
    "Signup": _l("Sign-up"),
    "Attendance": _l("Attendance"),
    "ServiceRecord": _l("Service record"),
    "CorrectionRequest": _l("Correction request"),
    "RoleGrant": _l("Role grant"),
    "OrgUnit": _l("Unit"),
    "VolunteerCard": _l("Volunteer card"),
    "TeamMembership": _l("Team membership"),
    "Certificate": _l("Certificate"),
    "certificate": _l("Certificate"),
    "Message": _l("Message"),
}


def signup_status(status) -> str:
    """A sign-up status (enum or code) in the user's language."""
    code = getattr(status, "value", status)
    return str(SIGNUP_STATUS_LABELS.get(code, _l("Unknown")))


def system_reason(reason: str | None) -> str:
    """A cancellation reason: the system's codes in words, a person's text as typed."""
    if not reason:
        return ""
    return str(SYSTEM_REASONS.get(reason, reason))


def audit_action(code: str) -> str:
    return str(AUDIT_ACTIONS.get(code, _l("Other action")))


def audit_object(kind: str | None, object_id: object | None) -> str:
    if not kind:
        return ""
    name = str(AUDIT_OBJECTS.get(kind, _l("Record")))
    return f"{name} #{object_id}" if object_id else name


def masked_phones(user_ids: list[int]) -> dict[int, str]:
    """Masked mobile numbers of these accounts (one query): tells namesakes apart."""
    from sqlalchemy import select

    from .extensions import db
    from .models import User

    if not user_ids:
        return {}
    users = db.session.scalars(select(User).where(User.id.in_(set(user_ids))))
    return {user.id: user.masked_phone for user in users}


#: Organising units by what their name says they are (团区委, 妇联, 工会 …), first match.
ORGANISER_KINDS = (
    ("共青团", _l("Youth League")),
    ("团区委", _l("Youth League")),
    ("青年", _l("Youth League")),
    ("妇女联合会", _l("Women's Federation")),
    ("妇联", _l("Women's Federation")),
    ("巾帼", _l("Women's Federation")),
    ("总工会", _l("Trade union")),
    ("工会", _l("Trade union")),
    ("文明办", _l("Civilisation office")),
    ("文明实践", _l("Civilisation practice station")),
)


def unit_kind(node) -> str:
    """A unit's kind for a badge: organisers by what they are, not "organiser"."""
    from .catalog import LEVEL_LABELS

    level = getattr(node.level, "value", node.level)
    if level == "organiser":
        for word, label in ORGANISER_KINDS:
            if word in (node.name or ""):
                return str(label)
    return str(LEVEL_LABELS.get(level, _l("Unit")))


def register(app: Flask) -> None:
    app.add_template_filter(signup_status)
    app.add_template_filter(system_reason)
    app.add_template_filter(audit_action)
    app.jinja_env.globals.update(
        audit_object=audit_object, masked_phones=masked_phones, unit_kind=unit_kind
    )


# ---------------------------------------------------------------- "my data" on screen


def readable_data(data: object) -> object:
    """The data download for the screen, already in words (services.privacy_labels) and
    its ID number masked by the view: an empty field shows as "—"."""
    if isinstance(data, dict):
        return {k: readable_data(v) for k, v in data.items()}
    if isinstance(data, list):
        return [readable_data(v) for v in data]
    if data is None or data == "":
        return "—"
    return data
