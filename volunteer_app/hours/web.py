"""What the hours pages share: limits, the h:mm filter, loading by id, flashing a form's
errors and a service's refusal, deciding a batch of records."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    request,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import ColumnElement, select

from .. import hours
from ..extensions import db
from ..models import (
    RecordStatus,
    ServiceRecord,
)
from ..permissions import MAX_ID
from ..timeutil import utcnow
from ..web import attempt
from .blueprint import bp

#: Most pending records the approvals page lists at once (oldest first).
PENDING_LIMIT = 300


STAR_LABELS = {
    0: _l("Not yet a star volunteer"),
    1: _l("One-star volunteer"),
    2: _l("Two-star volunteer"),
    3: _l("Three-star volunteer"),
    4: _l("Four-star volunteer"),
    5: _l("Five-star volunteer"),
}


@bp.app_template_filter("hm")
def hm(minutes: int | None, signed: bool = False) -> str:
    """Minutes as h:mm (125 -> "2:05"); with a sign for corrections when `signed`."""
    minutes = int(minutes or 0)
    sign = "-" if minutes < 0 else ("+" if signed and minutes > 0 else "")
    return f"{sign}{abs(minutes) // 60}:{abs(minutes) % 60:02d}"


#: Ids beyond this are no row's (a 32-bit key on PostgreSQL); SQLite cannot even bind
#: integers past 2**63, so such ids answer 404 before any query.
#: Pages beyond this are empty anyway; a huge number would overflow the OFFSET.
MAX_PAGE = 10_000


def _ip() -> str | None:
    return request.remote_addr


def _records(ids: list[int], *where: ColumnElement) -> list[ServiceRecord]:
    """The records with these ids, all of them matching `where`; 404 if any is missing
    (or outside the caller's scope)."""
    wanted = set(ids)
    if any(not 0 < i <= MAX_ID for i in wanted):
        abort(404)
    found = db.session.scalars(
        select(ServiceRecord).where(ServiceRecord.id.in_(wanted), *where)
    ).all()
    if len(found) != len(wanted):
        abort(404)
    return list(found)


def _op() -> bool:
    """True to approve, False to reject; 400 for anything else."""
    op = request.form.get("op")
    if op not in ("approve", "reject"):
        abort(400)
    return op == "approve"


def _decide(records: list[ServiceRecord], approve: bool) -> None:
    pending = [r for r in records if r.status is RecordStatus.PENDING]
    if not pending:
        flash(_("Nothing to decide: the records have been decided already."), "info")
        return
    n = len(pending)
    message = (
        _("%(n)d records approved.", n=n) if approve else _("%(n)d records not approved.", n=n)
    )
    attempt(lambda: hours.decide(current_user, pending, approve, now=utcnow(), ip=_ip()), message)
