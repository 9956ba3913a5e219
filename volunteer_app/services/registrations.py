"""Registered volunteers per community and per Party branch (tally_registrations), kept in
step with the profiles in the same transaction as every change.

A volunteer counts as registered while their profile is consented and their account is not
deleted; they count under their community (area) and, for Party members, their branch
(party), by political status and by the local month their account was created. Every flush
that touches a profile's community, branch, political status or consent, or an account's
deletion or creation time, is diffed: the affected volunteers' counted state is read from
the database before the flush and again after it, and the difference is added to the
counters with one upsert. Reading the state from the database (not from attribute history)
means every ORM path is covered, whatever it loaded or set. Bulk loads that bypass the ORM
(the scale seed) call `rebuild()`; `verify()` compares the table with a fresh count."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import delete, event, select, text
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import TallyRegistration, User, VolunteerProfile
from ..timeutil import to_local
from .database import upsert_sql

#: A volunteer's counted state: ((dim, node_id, month, political), ...) — empty when not counted.
Key = tuple[str, int, int, str]

_PROFILE_FIELDS = ("community_id", "branch_id", "political_status", "consented_at")
_USER_FIELDS = ("deleted_at", "created_at")

_UPSERT = upsert_sql("tally_registrations", ["dim", "node_id", "month", "political"], ["people"])


def month_key(created_at: datetime) -> int:
    local = to_local(created_at)
    return local.year * 100 + local.month


def _keys(community_id: int | None, branch_id: int | None, political: Any, created: datetime):
    political = str(political.value if hasattr(political, "value") else political or "")
    month = month_key(created)
    keys: list[Key] = []
    for dim, node_id in (("area", community_id), ("party", branch_id)):
        if node_id is not None:
            keys.append((dim, node_id, 0, political))
            keys.append((dim, node_id, month, political))
    return keys


def _state_select():
    return (
        select(
            VolunteerProfile.user_id,
            VolunteerProfile.community_id,
            VolunteerProfile.branch_id,
            VolunteerProfile.political_status,
            User.created_at,
        )
        .join(User, User.id == VolunteerProfile.user_id)
        .where(VolunteerProfile.consented_at.is_not(None), User.deleted_at.is_(None))
    )


def _counted(session: Session, user_ids: set[int]) -> Counter:
    """The counters the given volunteers contribute to, as the database has them now."""
    counts: Counter = Counter()
    if not user_ids:
        return counts
    ordered = sorted(user_ids)
    connection = session.connection()
    for start in range(0, len(ordered), 500):
        for _uid, community, branch, political, created in connection.execute(
            _state_select().where(VolunteerProfile.user_id.in_(ordered[start : start + 500]))
        ):
            counts.update(_keys(community, branch, political, created))
    return counts


def _changed(obj: Any, fields: tuple[str, ...]) -> bool:
    state = db.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in fields)


def _affected(session: Session) -> tuple[set[int], list[Any]]:
    """Volunteers whose counted state this flush may change: ids known now, and new
    objects whose id is only known after the flush."""
    ids: set[int] = set()
    pending: list[Any] = []
    for obj in session.new:
        if isinstance(obj, (VolunteerProfile, User)):
            pending.append(obj)
    for obj in session.deleted:
        if isinstance(obj, VolunteerProfile):
            ids.add(obj.user_id)
        elif isinstance(obj, User):
            ids.add(obj.id)
    for obj in session.dirty:
        if isinstance(obj, VolunteerProfile) and _changed(obj, (*_PROFILE_FIELDS, "user_id")):
            ids.add(obj.user_id)
        elif isinstance(obj, User) and _changed(obj, _USER_FIELDS):
            ids.add(obj.id)
    ids.discard(None)  # type: ignore[arg-type]
    return ids, pending


def _before_flush(session: Session, context, _instances) -> None:
    ids, pending = _affected(session)
    if ids or pending:
        waiting = session.info.setdefault("registrations_before", {})
        waiting[id(context)] = (ids, pending, _counted(session, ids))


def _after_flush(session: Session, context) -> None:
    found = session.info.get("registrations_before", {}).pop(id(context), None)
    if found is None:
        return
    ids, pending, old = found
    for obj in pending:
        user_id = obj.user_id if isinstance(obj, VolunteerProfile) else obj.id
        if user_id is not None:
            ids.add(user_id)
    delta = _counted(session, ids)
    delta.subtract(old)
    rows = [
        {"dim": d, "node_id": n, "month": m, "political": p, "people": people}
        for (d, n, m, p), people in sorted(delta.items())
        if people
    ]
    if rows:
        session.connection().execute(text(_UPSERT), rows)


def install(session_class: type[Session]) -> None:
    """Keep the counters with every flush of sessions of this class (the app's)."""
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)
        event.listen(session_class, "after_flush", _after_flush)


def _expected() -> Counter:
    counts: Counter = Counter()
    for _uid, community, branch, political, created in db.session.execute(
        _state_select().execution_options(yield_per=5000)
    ):
        counts.update(_keys(community, branch, political, created))
    return counts


def rebuild() -> None:
    """Recount every registered volunteer (after a bulk load)."""
    db.session.execute(delete(TallyRegistration))
    rows = [
        {"dim": d, "node_id": n, "month": m, "political": p, "people": people}
        for (d, n, m, p), people in sorted(_expected().items())
        if people
    ]
    for start in range(0, len(rows), 5000):
        db.session.execute(text(_UPSERT), rows[start : start + 5000])


def verify() -> list[str]:
    """Differences between the counters and a fresh count; empty when they agree."""
    expected = {key: n for key, n in _expected().items() if n}
    actual = {
        (r.dim, r.node_id, r.month, r.political): r.people
        for r in db.session.scalars(select(TallyRegistration))
        if r.people
    }
    problems = []
    for key in sorted(set(expected) | set(actual)):
        if expected.get(key, 0) != actual.get(key, 0):
            problems.append(
                f"registrations {key}: profiles {expected.get(key, 0)} tally {actual.get(key, 0)}"
            )
    return problems
