"""Applying a checked roster: accounts, profiles and an SMS invitation each, all or nothing
in the caller's transaction; and the audit of a refused confirmation."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Channel, OrgUnit, User
from ...services import ServiceError, audit, notify, volunteers
from ...services.scope import grant_nodes
from .rows import Checked, ImportRow
from .vocabulary import IMPORT_ROLES

AUDIT_ACTION = "volunteer.import"
#: An account created by the import has no password until the volunteer sets one.
NO_PASSWORD = "!"  # noqa: S105 - matches no password


def _inviting_unit(importer: User, community: OrgUnit) -> str:
    """The name of the importer's innermost unit covering the community."""
    units = [n for n in grant_nodes(importer, IMPORT_ROLES) if community.is_within(n)]
    if not units:
        units = grant_nodes(importer, IMPORT_ROLES)
    return max(units, key=lambda n: n.depth).name if units else ""


def run(
    checked: Checked,
    importer: User,
    *,
    invite_url: str,
    now: datetime,
    today: date,
    ip: str | None = None,
) -> list[int]:
    """Create the accounts and profiles of a checked roster and queue an SMS invitation
    to each; returns the outbox ids to deliver after the caller's single commit.

    Any refusal raises ServiceError naming the row; the caller then rolls back, so that
    nothing of the roster is kept. The consent step stays open: imported volunteers
    give their own consent at their first login."""
    if not checked.ok:
        raise ServiceError(_l("The roster has problems; nothing was imported."))
    outbox: list[int] = []
    for row in checked.rows:
        assert row.id_info is not None and row.community is not None
        try:
            user = _create_account(row)
            volunteers.set_identity(
                user,
                row.name,
                row.id_type,
                row.id_info.number,
                today=today,
                gender=row.gender,
                birth_date=row.birth_date,
                actor=importer,
                ip=ip,
            )
            volunteers.set_residence(user, row.community, now=now, actor=importer)
            volunteers.set_politics(user, row.political_status, row.branch, now=now, actor=importer)
            if row.emergency_name or row.emergency_phone:
                volunteers.set_details(
                    user,
                    skills=row.skills,
                    categories=row.categories,
                    availability=[],
                    emergency_name=row.emergency_name,
                    emergency_phone=row.emergency_phone,
                )
        except ServiceError as error:
            raise ServiceError(
                [
                    str(_l("Row %(row)d: %(message)s", row=row.row, message=m))
                    for m in error.messages
                ]
            ) from None
        message = notify.enqueue(
            "invitation",
            channel=Channel.SMS,
            user=user,
            address=row.phone,
            payload={"org": _inviting_unit(importer, row.community), "url": invite_url},
        )
        outbox.append(message.id)
    audit.record(AUDIT_ACTION, actor=importer, ip=ip, rows=len(checked.rows), success=True)
    return outbox


def _create_account(row: ImportRow) -> User:
    user = User(phone=row.phone, password_hash=NO_PASSWORD, display_name=row.name[:50])
    db.session.add(user)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise ServiceError(_l("This mobile number is already registered.")) from None
    return user


def refused(importer: User, *, ip: str | None, rows: int, reason: str) -> None:
    """Write a refused confirmation to the audit log (the caller commits)."""
    audit.record(AUDIT_ACTION, actor=importer, ip=ip, rows=rows, success=False, reason=reason)
