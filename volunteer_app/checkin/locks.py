"""The shift row a scan holds: locked first (PostgreSQL's `SELECT … FOR UPDATE`; on
SQLite the write transaction holds the whole database), remembered for the transaction so
that it is locked once, whoever locked it first."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from ..extensions import db
from ..models import Shift
from ..services.database import is_sqlite


def hold_shift(shift_id: int) -> None:
    """The shift row before its sign-ups (PostgreSQL; held already by a write on SQLite,
    where FOR UPDATE does not exist and the statement would lock nothing)."""
    if is_sqlite() or shift_id in held_now():
        return
    db.session.execute(_HOLD_SHIFT, {"shift_id": shift_id})
    shift_held(shift_id)


def shift_held(shift_id: int) -> None:
    """Note that this transaction holds the shift row already (the caller loaded it with
    `SELECT … FOR UPDATE`, as the scanner API does): a scan then takes no second lock."""
    held_now().add(shift_id)


def held_now() -> set[int]:
    """The shift rows this transaction has locked (forgotten with the transaction)."""
    transaction = db.session().get_transaction()
    held = db.session.info.get("held_shifts")
    if held is None or held[0] is not transaction:
        held = db.session.info["held_shifts"] = (transaction, set())
    return held[1]


_HOLD_SHIFT = select(Shift.id).where(Shift.id == bindparam("shift_id")).with_for_update()
