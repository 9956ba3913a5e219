"""The volunteer's rights over their data (PIPL Art 45, 47): a download of everything held
about them (worded for the reader by services.privacy_labels), and a deletion that erases
every personal field and keeps only the anonymised ledger.

`HELD` names every column that points at an account, with the download section that shows
its rows and what a deletion does to them; tests/test_privacy.py compares it with the
schema's foreign keys, so a new table that references users cannot be forgotten."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, or_, select

from ..extensions import db
from ..models import (
    AffiliationHistory,
    Attendance,
    AuditLog,
    CertificateIssue,
    CorrectionRequest,
    DeviceKey,
    ExternalRecord,
    LoginThrottle,
    MembershipStatus,
    Notification,
    RoleGrant,
    ScanLog,
    ServiceRecord,
    Shift,
    ShiftLead,
    Signup,
    SmsCode,
    TeamMembership,
    TempItem,
    TrainingRecord,
    User,
    VolunteerCard,
    VolunteerProfile,
)
from ..timeutil import to_local
from . import audit
from .certificates import display_number


@dataclass(frozen=True)
class Held:
    """What is held through one column that references users.id."""

    #: The download section listing these rows; None: the rows are not about this person
    #: (they record the account acting on others, as a lead or an organiser).
    section: str | None
    #: What deleting the account does: "deleted", "erased" (personal fields emptied, the
    #: row kept), "kept" (anonymised: the account behind it has no name, phone or e-mail).
    on_delete: str
    why: str = ""


#: (table, column) -> what is held; tests/test_privacy.py checks it against the schema.
HELD: dict[tuple[str, str], Held] = {
    ("volunteer_profiles", "user_id"): Held("profile", "erased"),
    ("affiliation_history", "user_id"): Held("affiliation_history", "deleted"),
    ("team_memberships", "user_id"): Held("teams", "kept", "marked as left"),
    ("role_grants", "user_id"): Held("roles", "deleted"),
    ("signups", "user_id"): Held("signups", "kept", "future ones are cancelled first"),
    ("attendances", "user_id"): Held("attendance", "kept", "the evidence behind the hours"),
    ("service_records", "user_id"): Held("hours", "kept", "the ledger"),
    ("training_records", "user_id"): Held("training", "kept", "part of the record"),
    ("correction_requests", "user_id"): Held("corrections", "erased", "the message"),
    ("notifications", "user_id"): Held("notifications", "deleted"),
    ("volunteer_cards", "user_id"): Held("cards", "deleted"),
    ("scan_logs", "volunteer_id"): Held("scans", "kept", "the evidence behind attendance"),
    ("shift_leads", "user_id"): Held("lead_shifts", "deleted"),
    ("audit_logs", "actor_id"): Held("activity", "kept", "kept by law (网络安全法 Art 21)"),
    ("temp_items", "user_id"): Held("temporary", "deleted"),
    # The account acting on others (as a lead, an organiser, an administrator).
    ("affiliation_history", "changed_by_id"): Held(None, "kept", "changes made by staff"),
    ("team_memberships", "decided_by_id"): Held(None, "kept", "decisions made by staff"),
    ("role_grants", "granted_by_id"): Held(None, "kept", "grants made by staff"),
    ("events", "created_by_id"): Held(None, "kept", "events created by staff"),
    ("shifts", "confirmed_by_id"): Held(None, "kept", "hours confirmed by a lead"),
    ("signups", "cancelled_by_id"): Held(None, "kept", "who cancelled a sign-up"),
    ("attendances", "in_by_id"): Held(None, "kept", "who checked someone in"),
    ("attendances", "out_by_id"): Held(None, "kept", "who checked someone out"),
    ("scan_logs", "lead_id"): Held(None, "kept", "the lead who scanned"),
    ("service_records", "created_by_id"): Held(None, "kept", "who entered a record"),
    ("service_records", "decided_by_id"): Held(None, "kept", "who approved a record"),
    ("training_records", "created_by_id"): Held(None, "kept", "who entered a training"),
    ("correction_requests", "answered_by_id"): Held(None, "kept", "who answered a request"),
    ("volunteer_cards", "issued_by_id"): Held(None, "kept", "who issued a card"),
    ("certificate_issues", "user_id"): Held("certificates", "kept", "certificates stay verifiable"),
    ("device_keys", "user_id"): Held("phone_codes", "deleted", "the secret is never shown"),
    ("external_records", "user_id"): Held("external_hours", "kept", "the national system's"),
    ("users", "merged_into_id"): Held(None, "kept", "the account this one was merged into"),
    ("device_keys", "revoked_by_id"): Held(None, "kept", "who switched a phone code off"),
    ("exchange_batches", "created_by_id"): Held(None, "kept", "who made an exchange batch"),
    ("external_records", "created_by_id"): Held(None, "kept", "who imported external hours"),
    # No foreign key (a derived table keyed by the account id).
    ("tally_people", "user_id"): Held(None, "kept", "sums of the ledger, listed under hours"),
}

# ---------------------------------------------------------------- the download


def _t(moment: datetime | date | None) -> str | None:
    """A stored time as local time (minutes), a date as it is."""
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return to_local(moment).strftime("%Y-%m-%d %H:%M")
    return moment.isoformat()


def _rows(model, column, user_id: int, order):
    return db.session.scalars(select(model).where(column == user_id).order_by(order)).all()


def export_data(user: User) -> dict:
    """Everything held about the volunteer, one section per kind of row (English keys;
    `privacy_labels.labelled` turns them into the reader's language)."""
    from .volunteers import id_number_of

    uid = user.id
    profile = db.session.get(VolunteerProfile, uid)
    data: dict = {
        "account": {
            "phone": user.phone,
            "email": user.email,
            "display_name": user.display_name,
            "created_at": _t(user.created_at),
            "last_login_at": _t(user.last_login_at),
            "phone_verified_at": _t(user.phone_verified_at),
            "language": user.locale,
            "large_text": user.large_text,
            "notify_sms": user.notify_sms,
            "notify_email": user.notify_email,
            "quiet_hours": f"{user.quiet_start}:00–{user.quiet_end}:00",
            "calendar_feed": bool(user.calendar_token),
        },
        "profile": None,
        "consent": [],
    }
    if profile is not None:
        data["profile"] = {
            "real_name": profile.real_name,
            "id_type": profile.id_type.value if profile.id_type else None,
            "id_number": id_number_of(profile),
            "gender": profile.gender.value if profile.gender else None,
            "birth_date": _t(profile.birth_date),
            "community": profile.community.name if profile.community else None,
            "political_status": profile.political_status.value
            if profile.political_status
            else None,
            "party_branch": profile.branch.name if profile.branch else None,
            "skills": profile.skills,
            "service_categories": profile.service_categories,
            "availability": profile.availability,
            "emergency_contact": {"name": profile.emergency_name, "phone": profile.emergency_phone},
            "guardian": {"name": profile.guardian_name, "phone": profile.guardian_phone},
            "national_number": profile.national_number,
            "approved_minutes": profile.approved_minutes,
        }
        data["consent"] = [
            {
                "privacy_notice_version": profile.privacy_version,
                "consented_at": _t(profile.consented_at),
                "sensitive_consented_at": _t(profile.sensitive_consented_at),
                "guardian_consented_at": _t(profile.guardian_consented_at),
            }
        ] + [
            {"action": row.action, "at": _t(row.at), "ip": row.ip}
            for row in _rows(AuditLog, AuditLog.actor_id, uid, AuditLog.at)
            if row.action == "volunteer.consent"
        ]
    data["affiliation_history"] = [
        {
            "community": h.community.name if h.community else None,
            "party_branch": h.branch.name if h.branch else None,
            "from": _t(h.valid_from),
            "to": _t(h.valid_to),
        }
        for h in _rows(AffiliationHistory, AffiliationHistory.user_id, uid, AffiliationHistory.id)
    ]
    data["teams"] = [
        {
            "team": m.team.name,
            "status": m.status.value,
            "requested_at": _t(m.requested_at),
            "decided_at": _t(m.decided_at),
        }
        for m in _rows(TeamMembership, TeamMembership.user_id, uid, TeamMembership.id)
    ]
    data["roles"] = [
        {"role": g.role.value, "unit": g.org_unit.name, "created_at": _t(g.created_at)}
        for g in _rows(RoleGrant, RoleGrant.user_id, uid, RoleGrant.id)
    ]
    data["signups"] = [
        {
            "event": s.shift.event.title,
            "post": s.shift.post,
            "starts_at": _t(s.shift.starts_at),
            "status": s.status.value,
            "created_at": _t(s.created_at),
            "cancelled_at": _t(s.cancelled_at),
        }
        for s in _rows(Signup, Signup.user_id, uid, Signup.id)
    ]
    data["attendance"] = [
        {
            "event": a.shift.event.title,
            "post": a.shift.post,
            "checked_in_at": _t(a.checked_in_at),
            "checked_out_at": _t(a.checked_out_at),
        }
        for a in _rows(Attendance, Attendance.user_id, uid, Attendance.id)
    ]
    data["hours"] = [
        {
            "activity_name": r.activity,
            "service_date": _t(r.service_date),
            "place": r.place,
            "content": r.content,
            "hours_value": round(r.minutes / 60, 2),
            "organisation": r.organisation,
            "lead_name": r.lead_name,
            "kind": r.kind.value,
            "status": r.status.value,
            "reason": r.reason,
        }
        for r in _rows(ServiceRecord, ServiceRecord.user_id, uid, ServiceRecord.id)
    ]
    data["training"] = [
        {
            "name": t.name,
            "content": t.content,
            "hours_value": round(t.minutes / 60, 2),
            "organiser": t.organiser,
            "held_on": _t(t.held_on),
        }
        for t in _rows(TrainingRecord, TrainingRecord.user_id, uid, TrainingRecord.id)
    ]
    data["corrections"] = [
        {
            "message": c.message,
            "created_at": _t(c.created_at),
            "answer": c.answer,
            "answered_at": _t(c.answered_at),
        }
        for c in _rows(CorrectionRequest, CorrectionRequest.user_id, uid, CorrectionRequest.id)
    ]
    data["notifications"] = [
        {
            "channel": n.channel.value,
            "address": n.address,
            "text": n.body,
            "created_at": _t(n.created_at),
            "sent_at": _t(n.sent_at),
            "read_at": _t(n.read_at),
        }
        for n in _rows(Notification, Notification.user_id, uid, Notification.id)
    ]
    data["cards"] = [
        {"issued_at": _t(c.issued_at), "revoked_at": _t(c.revoked_at)}
        for c in _rows(VolunteerCard, VolunteerCard.user_id, uid, VolunteerCard.id)
    ]
    data["scans"] = [
        {"at": _t(s.at), "action": s.action, "success": s.ok, "result": s.message or s.code}
        for s in _rows(ScanLog, ScanLog.volunteer_id, uid, ScanLog.id)
    ]
    led = db.session.scalars(
        select(Shift)
        .join(ShiftLead, ShiftLead.shift_id == Shift.id)
        .where(ShiftLead.user_id == uid)
        .order_by(ShiftLead.id)
    ).all()
    data["lead_shifts"] = [
        {"event": shift.event.title, "post": shift.post, "starts_at": _t(shift.starts_at)}
        for shift in led
    ]
    data["activity"] = [
        {"at": _t(row.at), "action": row.action, "ip": row.ip, "success": row.success}
        for row in _rows(AuditLog, AuditLog.actor_id, uid, AuditLog.id)
    ]
    data["certificates"] = [
        {
            "certificate_number": display_number(c.number),
            "from": _t(c.start),
            "to": _t(c.end),
            "hours_value": round(c.minutes / 60, 2),
            "issued_on": _t(c.issued_on),
        }
        for c in _rows(CertificateIssue, CertificateIssue.user_id, uid, CertificateIssue.created_at)
    ]
    data["external_hours"] = [
        {
            "service_date": _t(r.service_date),
            "activity_name": r.activity,
            "organisation": r.organisation,
            "hours_value": round(r.minutes / 60, 2),
            "created_at": _t(r.created_at),
        }
        for r in _rows(ExternalRecord, ExternalRecord.user_id, uid, ExternalRecord.id)
    ]
    # When each phone was given its code key and switched off; never the key itself.
    data["phone_codes"] = [
        {"created_at": _t(k.created_at), "revoked_at": _t(k.revoked_at)}
        for k in _rows(DeviceKey, DeviceKey.user_id, uid, DeviceKey.id)
    ]
    data["temporary"] = [
        {"kind": item.kind, "created_at": _t(item.created_at), "expires_at": _t(item.expires_at)}
        for item in _rows(TempItem, TempItem.user_id, uid, TempItem.created_at)
    ]
    return data


# ---------------------------------------------------------------- deletion

#: The profile's personal fields: erased when an account is deleted, and on the closed
#: account of a merge (services/account_merge.py) once its data has moved.
ERASED_PROFILE_FIELDS = (
    "real_name",
    "id_type",
    "id_number_encrypted",
    "id_hash",
    "id_masked",
    "gender",
    "birth_date",
    "emergency_name",
    "emergency_phone",
    "guardian_name",
    "guardian_phone",
)


def delete_account(user: User, *, now: datetime, ip: str | None = None) -> None:
    """Erase every personal field, cancel future sign-ups (the waitlist moves up), drop the
    rows that exist only for the person (messages, grants, cards, phone-code keys, codes),
    close the account.
    Kept, anonymised: the ledger and what it rests on (sign-ups, attendance, scans), the
    attribution tallies use (community, branch, political status) and the audit log."""
    from ..signups import ACTIVE, cancel

    phone, email = user.phone, user.email
    future = db.session.scalars(
        select(Signup)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(Signup.user_id == user.id, Signup.status.in_(ACTIVE), Shift.starts_at > now)
    ).all()
    for signup in future:
        shift = db.session.get(Shift, signup.shift_id)
        late = now >= shift.starts_at - timedelta(hours=shift.cancel_deadline_hours)
        cancel(signup, actor=user, now=now, reason="account deleted", as_organiser=late, ip=ip)

    profile = db.session.get(VolunteerProfile, user.id)
    if profile is not None:
        for column in ERASED_PROFILE_FIELDS:
            setattr(profile, column, None)
        profile.skills, profile.service_categories, profile.availability = [], [], []
    for membership in db.session.scalars(
        select(TeamMembership).where(TeamMembership.user_id == user.id)
    ):
        membership.status = MembershipStatus.LEFT
    for request in db.session.scalars(
        select(CorrectionRequest).where(CorrectionRequest.user_id == user.id)
    ):
        request.message = ""
    for model, column in (
        (AffiliationHistory, AffiliationHistory.user_id),
        (RoleGrant, RoleGrant.user_id),
        (VolunteerCard, VolunteerCard.user_id),
        (DeviceKey, DeviceKey.user_id),
        (ShiftLead, ShiftLead.user_id),
        (TempItem, TempItem.user_id),
    ):
        db.session.execute(delete(model).where(column == user.id))
    addresses = [a for a in (phone, email) if a]
    db.session.execute(
        delete(Notification).where(
            or_(Notification.user_id == user.id, Notification.address.in_(addresses))
        )
    )
    db.session.execute(delete(SmsCode).where(SmsCode.phone == phone))
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.phone == phone))
    db.session.expire(user, ["grants"])
    audit.record("account.delete", actor=user, ip=ip, obj=user)
    user.phone = f"d{user.id}"[:11]
    user.display_name = ""
    user.email = None
    user.calendar_token = None
    user.notify_sms = user.notify_email = False
    user.password_hash = "!"  # noqa: S105 - matches no password
    user.active = False
    user.deleted_at = now
    db.session.flush()
