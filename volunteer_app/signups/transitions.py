"""The sign-up state machine: the one place a sign-up's status and its shift's counters change.

`Shift.taken` counts the sign-ups that hold a place (confirmed or attended) and
`Shift.waitlisted` those on the waitlist. Every status change goes through `transition()`
(or `transition_many()` for a batch on one shift), which looks the move up in `TRANSITIONS`
and changes the counters in the same transaction by one UPDATE of the shift row. A move that
claims room (a new place, a new waitlist slot, a promotion) is a conditional UPDATE, so the
database itself refuses to overbook: the move returns False and nothing changes.

`verify_counters()` (`flask shifts verify`) recounts the rows and lists every shift whose
counters differ from them; `repair_counters()` sets them to the count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import bindparam, case, func, inspect, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from ..extensions import db
from ..models import PLACE_STATUSES, Shift, Signup, SignupStatus, User

S = SignupStatus


@dataclass(frozen=True)
class Move:
    """What a transition does to its shift's counters."""

    taken: int = 0
    waitlisted: int = 0
    #: Only if there is room: a free place (taken < capacity) for `taken` +1, a free
    #: waitlist slot for `waitlisted` +1. Otherwise the move is refused and nothing changes.
    claims: bool = False


#: Every allowed (from, to) and its counter change. `None` is a sign-up not yet made.
TRANSITIONS: dict[tuple[SignupStatus | None, SignupStatus], Move] = {
    (None, S.CONFIRMED): Move(taken=+1, claims=True),  # sign-up; an organiser may force it
    (None, S.WAITLISTED): Move(waitlisted=+1, claims=True),  # sign-up when the shift is full
    (S.WAITLISTED, S.CONFIRMED): Move(taken=+1, waitlisted=-1, claims=True),  # promotion
    (S.CONFIRMED, S.CANCELLED): Move(taken=-1),  # cancel; event or shift cancelled
    (S.WAITLISTED, S.CANCELLED): Move(waitlisted=-1),  # cancel; the waitlist expires
    (S.NO_SHOW, S.CANCELLED): Move(),  # account merge: a no-show holds no place
    (S.CONFIRMED, S.ATTENDED): Move(),  # check-in (scan, walk-in, paper times)
    (S.NO_SHOW, S.ATTENDED): Move(taken=+1),  # marked absent too early: the place is held again
    (S.CONFIRMED, S.NO_SHOW): Move(taken=-1),  # after the shift: never came
}


class InvalidTransition(Exception):
    """A move that is not in the table: a programming error, never a user's."""


def move_for(current: SignupStatus | None, to: SignupStatus) -> Move:
    try:
        return TRANSITIONS[(current, to)]
    except KeyError:
        raise InvalidTransition(f"sign-up status {current} → {to} is not allowed") from None


def _change_counters(shift_id: int, taken: int, waitlisted: int, *, claims: bool) -> bool:
    """One UPDATE of the shift row; a claiming move only if there is room. True when done."""
    if not taken and not waitlisted:
        return True
    result = db.session.execute(
        _counter_update(taken, waitlisted, claims), {"counter_shift_id": shift_id}
    )
    if result.rowcount != 1:
        return False
    # A Shift loaded in this session reads its new counters on next access.
    loaded = db.session.identity_map.get(identity_key(Shift, shift_id))
    if loaded is not None:
        db.session.expire(loaded, ["taken", "waitlisted"])
    return True


@lru_cache(maxsize=64)
def _counter_update(taken: int, waitlisted: int, claims: bool):
    """The UPDATE of a move's counters, built once per kind of move (the shift id bound);
    on the table, so that it runs as a plain statement (no ORM bulk-update work)."""
    shift = Shift.__table__.c
    statement = update(Shift.__table__).where(shift.id == bindparam("counter_shift_id"))
    values: dict = {}
    if taken:
        values["taken"] = shift.taken + taken
    if waitlisted:
        values["waitlisted"] = shift.waitlisted + waitlisted
    if claims:
        statement = statement.where(shift.cancelled.is_(False))
        if taken > 0:
            statement = statement.where(shift.taken + taken <= shift.capacity)
        if waitlisted > 0:
            statement = statement.where(
                shift.waitlist_enabled.is_(True),
                shift.waitlisted + waitlisted <= shift.waitlist_limit,
            )
        if waitlisted < 0:
            statement = statement.where(shift.waitlisted + waitlisted >= 0)
    return statement.values(values)


def _set_status(
    signup: Signup,
    to: SignupStatus,
    *,
    now: datetime,
    actor: User | None,
    reason: str | None,
) -> None:
    values: dict[str, object] = {}
    if signup.status is S.WAITLISTED and to is S.CONFIRMED:
        values["promoted_at"] = now
    if to is S.CANCELLED:
        values["cancelled_at"] = now
        values["cancel_reason"] = (reason or "")[:200] or None
        values["cancelled_by_id"] = actor.id if actor is not None else None
    values["status"] = to
    if not inspect(signup).persistent:
        for name, value in values.items():  # a new sign-up: its INSERT carries them
            setattr(signup, name, value)
        return
    # A stored sign-up: one UPDATE now, and the object told that it holds these values (no
    # unit-of-work flush to work out what changed).
    db.session.execute(_status_update(tuple(values)), {"signup_id": signup.id, **values})
    for name, value in values.items():
        set_committed_value(signup, name, value)


@lru_cache(maxsize=16)
def _status_update(names: tuple[str, ...]):
    """UPDATE signups SET <names> WHERE id = :signup_id, built once per set of columns."""
    table = Signup.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("signup_id"))
        .values({name: bindparam(name) for name in names})
    )


def transition(
    signup: Signup,
    to: SignupStatus,
    *,
    now: datetime,
    actor: User | None = None,
    reason: str | None = None,
    force: bool = False,
) -> bool:
    """Move `signup` to `to` and change its shift's counters as `TRANSITIONS` says.

    Returns False, changing nothing, when a claiming move finds no room; `force` (an
    organiser adding a volunteer past the capacity) takes the place anyway. The caller
    holds the shift row (or the SQLite write transaction) and flushes."""
    move = move_for(signup.status, to)
    if not _change_counters(
        signup.shift_id, move.taken, move.waitlisted, claims=move.claims and not force
    ):
        return False
    _set_status(signup, to, now=now, actor=actor, reason=reason)
    return True


def transition_many(
    signups: Iterable[Signup],
    to: SignupStatus,
    *,
    now: datetime,
    actor: User | None = None,
    reason: str | None = None,
) -> int:
    """Move a batch of sign-ups to `to` with one counter UPDATE per shift (no claiming
    moves: a batch never takes room). Returns how many moved."""
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    moved = 0
    for signup in signups:
        move = move_for(signup.status, to)
        if move.claims:
            raise InvalidTransition(f"{signup.status} → {to} claims room: one at a time")
        totals[signup.shift_id][0] += move.taken
        totals[signup.shift_id][1] += move.waitlisted
        _set_status(signup, to, now=now, actor=actor, reason=reason)
        moved += 1
    for shift_id, (taken, waitlisted) in totals.items():
        _change_counters(shift_id, taken, waitlisted, claims=False)
    return moved


# ---------------------------------------------------------------- verify and repair


@dataclass(frozen=True)
class CounterProblem:
    shift_id: int
    counter: str  # "taken" or "waitlisted"
    stored: int
    counted: int


def _counted(shift_ids: Iterable[int] | None):
    held = func.count(case((Signup.status.in_(PLACE_STATUSES), 1)))
    waiting = func.count(case((Signup.status == S.WAITLISTED, 1)))
    query = (
        select(Shift.id, Shift.taken, Shift.waitlisted, held, waiting)
        .outerjoin(Signup, Signup.shift_id == Shift.id)
        .group_by(Shift.id, Shift.taken, Shift.waitlisted)
        .order_by(Shift.id)
    )
    if shift_ids is not None:
        query = query.where(Shift.id.in_(list(shift_ids)))
    return db.session.execute(query)


def verify_counters(shift_ids: Iterable[int] | None = None) -> list[CounterProblem]:
    """Every shift whose `taken` or `waitlisted` differs from a count of its sign-ups."""
    problems: list[CounterProblem] = []
    for shift_id, taken, waitlisted, held, waiting in _counted(shift_ids):
        if taken != held:
            problems.append(CounterProblem(shift_id, "taken", taken, held))
        if waitlisted != waiting:
            problems.append(CounterProblem(shift_id, "waitlisted", waitlisted, waiting))
    return problems


def repair_counters(shift_ids: Iterable[int] | None = None) -> list[CounterProblem]:
    """Set every differing counter to the count of its rows; returns what was wrong."""
    problems = verify_counters(shift_ids)
    for problem in problems:
        db.session.execute(
            update(Shift)
            .where(Shift.id == problem.shift_id)
            .values({problem.counter: problem.counted})
            .execution_options(synchronize_session=False)
        )
    db.session.flush()
    return problems
