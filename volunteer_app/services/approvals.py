"""Segregation of duties (four eyes) for the hours ledger: whoever confirmed a shift or
entered a record cannot approve it; the approver is another person holding the organiser
role over the record's host. On by default; FOUR_EYES_APPROVAL=0 turns it off (then the
shift's leads and the host's organisers approve, as before)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models import OrgUnit, Role, ServiceRecord, Shift, User
from .scope import covers

_waived: ContextVar[bool] = ContextVar("four_eyes_waived", default=False)


def four_eyes() -> bool:
    return bool(current_app.config.get("FOUR_EYES_APPROVAL", True)) and not _waived.get()


@contextmanager
def waived() -> Iterator[None]:
    """Without the rule, for loading history that predates it (the demo's past ledger)."""
    token = _waived.set(True)
    try:
        yield
    finally:
        _waived.reset(token)


def entered_by(record: ServiceRecord) -> set[int]:
    """Who wrote the record: its creator, and for a shift's record whoever confirmed it."""
    people = {record.created_by_id} if record.created_by_id else set()
    if record.shift_id is not None:
        shift = db.session.get(Shift, record.shift_id)
        if shift is not None and shift.confirmed_by_id:
            people.add(shift.confirmed_by_id)
    return people


def may_approve(actor: User, record: ServiceRecord) -> bool:
    """An organiser of the record's host who did not write it."""
    if actor.id in entered_by(record):
        return False
    host = db.session.get(OrgUnit, record.host_id) if record.host_id else None
    return host is not None and covers(actor, host, [Role.ORGANISER])


def refusal(actor: User, record: ServiceRecord):
    """Why `actor` may not decide `record`."""
    if four_eyes() and actor.id in entered_by(record):
        return _l(
            "You confirmed or entered these records yourself; another organiser of the host "
            "must approve them."
        )
    return _l("You may not approve these records.")
