"""One person, one account: merging two accounts of one person (services/duplicates.py
finds them) into the one that stays, audited.

A merge moves everything that points at the closed account — sign-ups, attendance, scans,
the ledger, training, correction requests, consent, affiliation history, teams, roles,
cards, notifications and the audit history — to the surviving account, keeps the tally
tables in step (tally_people rows are added together, the served counters follow), and
closes the other account. It refuses, naming the shifts, when both accounts hold a place
on one shift, unless asked to cancel the weaker sign-up; it always refuses when both
attended one shift (the hours need a correction first).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Table, delete, select, text, update

from .. import signups
from ..extensions import db
from ..models import (
    AffiliationHistory,
    Attendance,
    AuditLog,
    MembershipStatus,
    RecordKind,
    RoleGrant,
    ServiceRecord,
    ShiftLead,
    Signup,
    SignupStatus,
    TallyPerson,
    TeamMembership,
    User,
    VolunteerCard,
    VolunteerProfile,
)
from . import ServiceError, audit, duplicates, idnumbers, pii
from .database import upsert_sql
from .privacy import ERASED_PROFILE_FIELDS

AUDIT_ACTION = "account.merge"
#: Which of two sign-ups of one person for one shift is kept: the stronger status.
_RANK = {
    SignupStatus.ATTENDED: 4,
    SignupStatus.CONFIRMED: 3,
    SignupStatus.WAITLISTED: 2,
    SignupStatus.NO_SHOW: 1,
}
_MEMBERSHIP_RANK = {
    MembershipStatus.APPROVED: 4,
    MembershipStatus.PENDING: 3,
    MembershipStatus.DECLINED: 2,
    MembershipStatus.LEFT: 1,
}
#: Profile fields the surviving account takes from the closed one where it has none.
_FILLED_FIELDS = (
    "community_id",
    "political_status",
    "branch_id",
    "emergency_name",
    "emergency_phone",
    "guardian_name",
    "guardian_phone",
    "guardian_consented_at",
    "privacy_version",
    "consented_at",
    "sensitive_consented_at",
)
_SERVED_SQL = upsert_sql("tally_served", ["dim", "node_id", "month", "political"], ["people"])


@dataclass
class MergeReport:
    keep_id: int
    closed_id: int
    #: table.column -> rows moved
    moved: Counter = field(default_factory=Counter)
    #: sign-ups of the same shift cancelled (the weaker of each pair)
    cancelled_signups: list[int] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)


def _user_columns() -> list[tuple[Table, str]]:
    """Every column of every table that points at an account (users.id), except the
    profile's key and the accounts' own merge pointer."""
    skipped = {("volunteer_profiles", "user_id"), ("users", "merged_into_id")}
    return [
        (table, column.name)
        for table in db.metadata.sorted_tables
        for column in table.columns
        if (table.name, column.name) not in skipped
        and any(
            fk.column.table.name == "users" and fk.column.name == "id" for fk in column.foreign_keys
        )
    ]


def _signup_clashes(keep: User, close: User) -> list[tuple[Signup, Signup]]:
    """Pairs (keep's, close's) of sign-ups of one shift that are both not cancelled."""
    mine = {
        s.shift_id: s
        for s in db.session.scalars(
            select(Signup).where(Signup.user_id == keep.id, Signup.status != SignupStatus.CANCELLED)
        )
    }
    return [
        (mine[s.shift_id], s)
        for s in db.session.scalars(
            select(Signup)
            .where(Signup.user_id == close.id, Signup.status != SignupStatus.CANCELLED)
            .order_by(Signup.shift_id)
        )
        if s.shift_id in mine
    ]


def _has_attendance(signup: Signup) -> bool:
    return (
        db.session.scalar(select(Attendance.id).where(Attendance.signup_id == signup.id))
        is not None
    )


def _shift_label(signup: Signup) -> str:
    shift = signup.shift
    return f"{shift.event.title} · {shift.post} (#{shift.id})"


def _resolve_signups(
    keep: User,
    close: User,
    *,
    actor: User,
    now: datetime,
    cancel_clashes: bool,
    report: MergeReport,
) -> None:
    problems: list[str] = []
    weaker: list[Signup] = []
    for mine, theirs in _signup_clashes(keep, close):
        loser = theirs if _RANK[mine.status] >= _RANK[theirs.status] else mine
        if loser.status is SignupStatus.ATTENDED or _has_attendance(loser):
            problems.append(
                str(
                    _l(
                        "Both accounts attended %(shift)s: correct the hours of one of them "
                        "before merging.",
                        shift=_shift_label(theirs),
                    )
                )
            )
        elif not cancel_clashes:
            problems.append(
                str(
                    _l(
                        "Both accounts are signed up for %(shift)s: merge with --cancel-clashes "
                        "to cancel the weaker sign-up, or cancel one first.",
                        shift=_shift_label(theirs),
                    )
                )
            )
        else:
            weaker.append(loser)
    shifts_served = db.session.scalars(
        select(ServiceRecord.shift_id).where(
            ServiceRecord.user_id == keep.id,
            ServiceRecord.kind == RecordKind.SERVICE,
            ServiceRecord.shift_id.in_(
                select(ServiceRecord.shift_id).where(
                    ServiceRecord.user_id == close.id, ServiceRecord.kind == RecordKind.SERVICE
                )
            ),
        )
    ).all()
    for shift_id in shifts_served:
        problems.append(
            str(
                _l(
                    "Both accounts have service hours for shift #%(id)d: correct the hours of "
                    "one of them before merging.",
                    id=shift_id,
                )
            )
        )
    if problems:
        raise ServiceError(problems)
    reason = str(_l("Duplicate account merged"))
    for signup in weaker:
        if signup.status in signups.ACTIVE:
            signups.cancel(signup, actor=actor, now=now, reason=reason, as_organiser=True)
        else:  # a no-show holds no place: nothing to give back
            signups.transition(signup, SignupStatus.CANCELLED, now=now, actor=actor, reason=reason)
        report.cancelled_signups.append(signup.id)
    db.session.flush()


def _drop_clashing_rows(keep: User, close: User, report: MergeReport) -> None:
    """Rows of the closed account that the survivor already has (a unique key would
    refuse the move): shift leads, role grants, team memberships (the better one stays)."""
    led = select(ShiftLead.shift_id).where(ShiftLead.user_id == keep.id)
    report.dropped["shift_leads"] += db.session.execute(
        delete(ShiftLead).where(ShiftLead.user_id == close.id, ShiftLead.shift_id.in_(led))
    ).rowcount
    held = {
        (g.org_unit_id, g.role)
        for g in db.session.scalars(select(RoleGrant).where(RoleGrant.user_id == keep.id))
    }
    for grant in db.session.scalars(select(RoleGrant).where(RoleGrant.user_id == close.id)):
        if (grant.org_unit_id, grant.role) in held:
            db.session.delete(grant)
            report.dropped["role_grants"] += 1
    teams = {
        m.team_id: m
        for m in db.session.scalars(select(TeamMembership).where(TeamMembership.user_id == keep.id))
    }
    for theirs in db.session.scalars(
        select(TeamMembership).where(TeamMembership.user_id == close.id)
    ):
        mine = teams.get(theirs.team_id)
        if mine is None:
            continue
        if _MEMBERSHIP_RANK[theirs.status] > _MEMBERSHIP_RANK[mine.status]:
            for name in ("status", "requested_at", "decided_at", "decided_by_id"):
                setattr(mine, name, getattr(theirs, name))
        db.session.delete(theirs)
        report.dropped["team_memberships"] += 1
    db.session.flush()


def _merge_tally_people(keep: User, close: User) -> None:
    """Add the closed account's tally_people rows to the survivor's; "volunteers who
    served" (tally_served) loses one where both had served in the same node and period."""
    mine = {
        (p.dim, p.node_id, p.month, p.political): p
        for p in db.session.scalars(select(TallyPerson).where(TallyPerson.user_id == keep.id))
    }
    served: Counter = Counter()
    for theirs in db.session.scalars(
        select(TallyPerson).where(TallyPerson.user_id == close.id)
    ).all():
        key = (theirs.dim, theirs.node_id, theirs.month, theirs.political)
        row = mine.get(key)
        if row is None:
            theirs.user_id = keep.id
            continue
        served[key] -= row.minutes > 0
        served[key] -= theirs.minutes > 0
        row.minutes += theirs.minutes
        served[key] += row.minutes > 0
        db.session.delete(theirs)
    db.session.flush()
    rows = [
        {"dim": d, "node_id": n, "month": m, "political": p, "people": people}
        for (d, n, m, p), people in sorted(served.items())
        if people
    ]
    if rows:
        db.session.execute(text(_SERVED_SQL), rows)


def _identity(
    keep_profile: VolunteerProfile | None, close_profile: VolunteerProfile | None
) -> None:
    """Erase the closed account's ID first (its hash may be the survivor's normal one),
    then store the survivor's number in its normal form."""
    if close_profile is not None:
        for name in ERASED_PROFILE_FIELDS:
            setattr(close_profile, name, None)
        db.session.flush()
    if keep_profile is None or not keep_profile.id_number_encrypted or keep_profile.id_type is None:
        return
    stored = pii.decrypt(keep_profile.id_number_encrypted)
    normal = idnumbers.normalise(stored)
    if normal != stored:
        keep_profile.id_number_encrypted = pii.encrypt(normal)
        keep_profile.id_masked = idnumbers.mask(normal)
    keep_profile.id_hash = pii.keyed_hash(f"{keep_profile.id_type.value}:{normal}")


def merge(
    keep: User,
    close: User,
    *,
    actor: User,
    now: datetime,
    cancel_clashes: bool = False,
    ip: str | None = None,
) -> MergeReport:
    """Move everything of `close` to `keep` and close `close`; ServiceError when the two
    are not one person or a clash needs a decision first. The caller commits."""
    problems = []
    if keep.id == close.id:
        problems.append(str(_l("An account cannot be merged into itself.")))
    for user in (keep, close):
        if user.deleted_at is not None:
            problems.append(str(_l("Account %(id)d is closed already.", id=user.id)))
    if not problems and not duplicates.same_person(keep, close):
        problems.append(
            str(
                _l(
                    "The two accounts share neither an ID number nor a phone number: they are "
                    "not merged."
                )
            )
        )
    if problems:
        raise ServiceError(problems)
    report = MergeReport(keep.id, close.id)
    _resolve_signups(
        keep, close, actor=actor, now=now, cancel_clashes=cancel_clashes, report=report
    )
    _drop_clashing_rows(keep, close, report)
    _merge_tally_people(keep, close)

    keep_profile = db.session.get(VolunteerProfile, keep.id)
    close_profile = db.session.get(VolunteerProfile, close.id)
    if close_profile is not None:
        if keep_profile is None:
            keep_profile = VolunteerProfile(
                user_id=keep.id, skills=[], service_categories=[], availability=[]
            )
            db.session.add(keep_profile)
        for name in _FILLED_FIELDS:
            if getattr(keep_profile, name) is None and getattr(close_profile, name) is not None:
                setattr(keep_profile, name, getattr(close_profile, name))
        for name in ("skills", "service_categories", "availability"):
            merged = list(getattr(keep_profile, name) or [])
            merged += [v for v in getattr(close_profile, name) or [] if v not in merged]
            setattr(keep_profile, name, merged)
        keep_profile.approved_minutes = (keep_profile.approved_minutes or 0) + (
            close_profile.approved_minutes or 0
        )
        close_profile.approved_minutes = 0
        _identity(keep_profile, close_profile)
    # The closed account's current affiliation ends now; its earlier ones become history.
    db.session.execute(
        update(AffiliationHistory)
        .where(AffiliationHistory.user_id == close.id, AffiliationHistory.valid_to.is_(None))
        .values(valid_to=now)
    )
    if db.session.scalar(
        select(VolunteerCard.id).where(
            VolunteerCard.user_id == keep.id, VolunteerCard.revoked_at.is_(None)
        )
    ):
        db.session.execute(
            update(VolunteerCard)
            .where(VolunteerCard.user_id == close.id, VolunteerCard.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    db.session.flush()

    moved_audit = list(
        db.session.scalars(
            select(AuditLog.id).where(
                (AuditLog.actor_id == close.id)
                | ((AuditLog.object_type == "User") & (AuditLog.object_id == str(close.id)))
            )
        )
    )
    # Core UPDATEs: the ledger is append-only for the application (hours.operations); moving a
    # duplicate's rows to the person's one account is the audited exception.
    for table, column in _user_columns():
        result = db.session.execute(
            table.update().where(table.c[column] == close.id).values({column: keep.id})
        )
        if result.rowcount:
            report.moved[f"{table.name}.{column}"] += result.rowcount
    result = db.session.execute(
        update(AuditLog)
        .where(AuditLog.object_type == "User", AuditLog.object_id == str(close.id))
        .values(object_id=str(keep.id))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        report.moved["audit_logs.object_id"] += result.rowcount
    db.session.expire_all()

    close = db.session.get(User, report.closed_id)
    close.active = False
    close.deleted_at = now
    close.merged_into_id = report.keep_id
    close.phone = f"m{close.id}"[:11]
    close.password_hash = "!"  # noqa: S105 - matches no password
    close.calendar_token = None
    db.session.flush()
    audit.record(
        AUDIT_ACTION,
        actor=actor,
        ip=ip,
        obj=db.session.get(User, report.keep_id),
        closed=report.closed_id,
        moved=dict(sorted(report.moved.items())),
        dropped=dict(sorted(report.dropped.items())),
        cancelled_signups=report.cancelled_signups,
        audit_rows=moved_audit,
    )
    db.session.flush()
    return report
