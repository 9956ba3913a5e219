"""A volunteer's correction requests (办法 Art 12) and an organiser's answers: the rules
(flush, never commit; a ServiceError with every reason) and the organiser's inbox."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select

from ..extensions import db
from ..models import (
    CorrectionRequest,
    Role,
    ServiceRecord,
    User,
)
from ..permissions import (
    correction_requests,
)
from ..services import (
    ServiceError,
    audit,
    notices,
)
from .operations import add_correction

# ---------------------------------------------------------------- the rules: no `request`,
# flush and never commit, a ServiceError with every reason.


def ask_correction(
    user: User, record: ServiceRecord, message: str, *, now: datetime, ip: str | None = None
) -> CorrectionRequest:
    """The volunteer asks for one of their records to be corrected (办法 Art 12)."""
    problems = []
    if record.user_id != user.id:
        problems.append(str(_l("You can ask only about your own records.")))
    if not (message or "").strip():
        problems.append(str(_l("Please say what should be corrected.")))
    still_open = db.session.scalar(
        select(
            exists().where(
                CorrectionRequest.record_id == record.id,
                CorrectionRequest.user_id == user.id,
                CorrectionRequest.answered_at.is_(None),
            )
        )
    )
    if still_open:
        problems.append(
            str(_l("You have already asked about this record; please wait for the answer."))
        )
    if problems:
        raise ServiceError(problems)
    item = CorrectionRequest(
        user_id=user.id, record_id=record.id, message=message.strip()[:1000], created_at=now
    )
    db.session.add(item)
    db.session.flush()
    audit.record("hours.ask_correction", actor=user, ip=ip, obj=item, record=record.id)
    return item


def answer_request(
    actor: User,
    item: CorrectionRequest,
    answer: str,
    *,
    now: datetime,
    delta_minutes: int | None = None,
    ip: str | None = None,
) -> ServiceRecord | None:
    """An organiser of the record's host answers; with a change in minutes, the answer is
    also the reason of a correction (a new pending row). Returns the correction, if any."""
    record = item.record
    if not correction_requests.can(actor, item):
        raise ServiceError(_l("You may not answer this request."))
    problems = []
    if item.answered_at is not None:
        problems.append(str(_l("This request has already been answered.")))
    if not (answer or "").strip():
        problems.append(str(_l("Please write an answer.")))
    if problems:
        raise ServiceError(problems)
    correction = None
    if delta_minutes:
        correction = add_correction(actor, record, delta_minutes, answer.strip(), ip=ip)
    item.answer = answer.strip()[:1000]
    item.answered_by_id = actor.id
    item.answered_at = now
    db.session.flush()
    notices.correction_answered(item, now=now)
    audit.record(
        "hours.answer_request",
        actor=actor,
        ip=ip,
        obj=item,
        correction=correction.id if correction else None,
    )
    return correction


# ---------------------------------------------------------------- correction requests


def correction_requests_query(user: User):
    return (
        select(CorrectionRequest)
        .join(ServiceRecord, ServiceRecord.id == CorrectionRequest.record_id)
        .where(correction_requests.visible(user))
    )


def open_requests_count(user: User) -> int:
    if not user.has_role(Role.ORGANISER, Role.ADMIN):
        return 0
    query = correction_requests_query(user).where(CorrectionRequest.answered_at.is_(None))
    return db.session.scalar(select(func.count()).select_from(query.subquery()))
