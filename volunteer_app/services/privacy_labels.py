"""The volunteer's data download (services.privacy.export_data) in the reader's language:
every section, field and coded value (a status, a role, a channel) as words."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..catalog import AVAILABILITY, CATEGORIES, ID_TYPES, POLITICAL_STATUS, SKILLS
from ..models import SignupStatus

LABELS: dict[str, object] = {
    # sections
    "account": _l("Account"),
    "profile": _l("Volunteer record"),
    "consent": _l("Consent history"),
    "affiliation_history": _l("Residence and Party branch history"),
    "teams": _l("Volunteer teams"),
    "roles": _l("Roles"),
    "signups": _l("Sign-ups"),
    "attendance": _l("Attendance"),
    "hours": _l("Service hours"),
    "training": _l("Training"),
    "corrections": _l("Correction requests"),
    "notifications": _l("Notifications"),
    "cards": _l("Volunteer cards"),
    "scans": _l("Scans of your code"),
    "lead_shifts": _l("Shifts you lead"),
    "activity": _l("Activity log"),
    "temporary": _l("Uploads waiting for confirmation"),
    "certificates": _l("Service certificates issued"),
    "external_hours": _l("Hours from the national volunteer system"),
    "phone_codes": _l("Phones that show your code without a network"),
    # fields
    "phone": _l("Mobile number"),
    "email": _l("E-mail"),
    "display_name": _l("Name shown"),
    "created_at": _l("Created"),
    "last_login_at": _l("Last login"),
    "phone_verified_at": _l("Number confirmed"),
    "language": _l("Language"),
    "large_text": _l("Large text"),
    "notify_sms": _l("Notifications by SMS"),
    "notify_email": _l("Notifications by e-mail"),
    "quiet_hours": _l("No SMS between"),
    "calendar_feed": _l("Calendar link"),
    "real_name": _l("Real name"),
    "id_type": _l("ID type"),
    "id_number": _l("ID number"),
    "gender": _l("Gender"),
    "birth_date": _l("Birth date"),
    "community": _l("Community"),
    "political_status": _l("Political status"),
    "party_branch": _l("Party branch"),
    "skills": _l("Skills"),
    "service_categories": _l("Service categories"),
    "availability": _l("Availability"),
    "emergency_contact": _l("Emergency contact"),
    "guardian": _l("Guardian"),
    "name": _l("Name"),
    "privacy_notice_version": _l("Privacy notice version"),
    "consented_at": _l("Consent given"),
    "sensitive_consented_at": _l("Consent to sensitive data"),
    "guardian_consented_at": _l("Guardian's consent"),
    "approved_minutes": _l("Approved minutes"),
    "national_number": _l("National volunteer number"),
    "certificate_number": _l("Certificate number"),
    "issued_on": _l("Issue date"),
    "from": _l("From"),
    "to": _l("To"),
    "team": _l("Team"),
    "status": _l("Status"),
    "requested_at": _l("Requested"),
    "decided_at": _l("Decided"),
    "role": _l("Role"),
    "unit": _l("Unit"),
    "event": _l("Event"),
    "post": _l("Post"),
    "starts_at": _l("Starts"),
    "ends_at": _l("Ends"),
    "cancelled_at": _l("Cancelled"),
    "checked_in_at": _l("Checked in"),
    "checked_out_at": _l("Checked out"),
    "activity_name": _l("Activity"),
    "service_date": _l("Date"),
    "place": _l("Place"),
    "content": _l("Service content"),
    "hours_value": _l("Hours"),
    "organisation": _l("Organisation"),
    "lead_name": _l("Person in charge"),
    "reason": _l("Reason"),
    "held_on": _l("Date"),
    "organiser": _l("Organiser"),
    "message": _l("Message"),
    "answer": _l("Answer"),
    "answered_at": _l("Answered"),
    "channel": _l("Channel"),
    "address": _l("Address"),
    "text": _l("Text"),
    "sent_at": _l("Sent"),
    "read_at": _l("Read"),
    "issued_at": _l("Issued"),
    "revoked_at": _l("Revoked"),
    "at": _l("Time"),
    "result": _l("Result"),
    "action": _l("Action"),
    "ip": _l("IP address"),
    "success": _l("Succeeded"),
    "kind": _l("Kind"),
    "expires_at": _l("Expires"),
}

_VALUES: dict[str, dict[str, object]] = {
    "gender": {"male": _l("Male"), "female": _l("Female")},
    "id_type": {k.value: v for k, v in ID_TYPES.items()},
    "political_status": {k.value: v for k, v in POLITICAL_STATUS.items()},
    "status": {
        SignupStatus.CONFIRMED.value: _l("Confirmed"),
        SignupStatus.WAITLISTED.value: _l("Waitlisted"),
        SignupStatus.ATTENDED.value: _l("Attended"),
        SignupStatus.NO_SHOW.value: _l("Did not come"),
        SignupStatus.CANCELLED.value: _l("Cancelled"),
        "pending": _l("Pending"),
        "approved": _l("Approved"),
        "rejected": _l("Rejected"),
        "declined": _l("Declined"),
        "left": _l("Left"),
    },
    "role": {
        "volunteer": _l("Volunteer"),
        "lead": _l("Event lead"),
        "organiser": _l("Organiser"),
        "branch_secretary": _l("Party branch secretary"),
        "admin": _l("District administrator"),
        "recorder": _l("National record officer"),
    },
    "channel": {"in_app": _l("In the app"), "sms": _l("SMS"), "email": _l("E-mail")},
    "language": {"zh": "中文", "en": "English"},
    "kind": {
        "service": _l("Service"),
        "manual": _l("Entered by an organiser"),
        "correction": _l("Correction"),
        "import": _l("Roster import"),
    },
}
_LISTS = {"skills": SKILLS, "service_categories": CATEGORIES, "availability": AVAILABILITY}


def _label_value(key: str, value):
    if isinstance(value, bool):
        return str(_l("Yes") if value else _l("No"))
    if key in _LISTS and isinstance(value, list):
        return [str(_LISTS[key].get(v, v)) for v in value]
    if key in _VALUES and isinstance(value, str):
        return str(_VALUES[key].get(value, value))
    if key == "action" and isinstance(value, str):
        # A scan's direction, or an audited action's code ("auth.login"): words, not codes.
        if value in ("in", "out"):
            return str(_l("Check in") if value == "in" else _l("Check out"))
        from ..labels import audit_action

        return str(audit_action(value))
    return labelled(value)


def labelled(data):
    """The download with every key and coded value in the reader's language."""
    if isinstance(data, dict):
        return {str(LABELS.get(k, k)): _label_value(k, v) for k, v in data.items()}
    if isinstance(data, list):
        return [labelled(item) for item in data]
    return data
