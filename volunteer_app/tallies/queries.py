"""Tallies read from the tally tables (kept in step with the ledger by tallies.operations):
by community up the area tree, by Party branch up the Party tree, by organiser and by
category; volunteers who served, sessions, approved hours, per registered volunteer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import (
    OrgUnit,
    RecordKind,
    RecordStatus,
    ServiceRecord,
    TallyCell,
    TallyPerson,
    TallyRegistration,
    TallyServed,
    User,
    VolunteerProfile,
)
from ..models.hours import ALL_POLITICAL
from ..timeutil import from_local
from .operations import is_month_key
from .periods import Period, whole_period_key


@dataclass
class Figures:
    minutes: int = 0
    sessions: int = 0
    volunteers: int = 0
    registered: int = 0
    new_registrations: int = 0

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 1)

    @property
    def hours_per_volunteer(self) -> float:
        """Approved hours per registered volunteer."""
        return round(self.minutes / 60 / self.registered, 2) if self.registered else 0.0


def _cell_filter(dim: str, period: Period, category: str | None, political: str | None):
    """tally_cells of the period's whole months (nothing when it has none)."""
    whole = period.whole_months()
    if whole is None:
        return literal(False)
    conditions = [TallyCell.dim == dim, TallyCell.month.between(*whole)]
    if category:
        conditions.append(TallyCell.category == category)
    if political:
        conditions.append(TallyCell.political == political)
    return and_(*conditions)


_LEDGER_COLUMNS = {
    "area": ServiceRecord.community_id,
    "party": ServiceRecord.branch_id,
    "host": ServiceRecord.host_id,
}


def _edge_rows(
    dim: str,
    node_ids: list[int],
    period: Period,
    category: str | None,
    political: str | None,
    *columns,
):
    """A select of (node id, *columns) over the approved ledger rows of the period's days
    outside its whole months, each row once for every asked node holding its unit in its
    subtree; None when the period has no such days (then nothing is read)."""
    edges = period.edges()
    if not edges or not node_ids:
        return None
    leaf, node = aliased(OrgUnit), aliased(OrgUnit)
    query = (
        select(node.id.label("node_id"), *columns)
        .select_from(ServiceRecord)
        .join(leaf, leaf.id == _LEDGER_COLUMNS[dim])
        .join(node, leaf.path.startswith(node.path))
        .where(
            node.id.in_(node_ids),
            ServiceRecord.status == RecordStatus.APPROVED,
            or_(
                *(
                    and_(ServiceRecord.service_date >= a, ServiceRecord.service_date < b)
                    for a, b in edges
                )
            ),
        )
    )
    if category:
        query = query.where(ServiceRecord.category == category)
    if political:
        query = query.where(ServiceRecord.political_status == political)
    return query


_SESSION = case((ServiceRecord.kind == RecordKind.CORRECTION, 0), else_=1)


def _served_counts(
    dim: str, node_ids: list[int], period: Period, political: str | None
) -> dict[int, int]:
    """Volunteers whose net approved minutes in the period (under the status asked for,
    as at the time of service) are positive, per node: the whole months (or, for all time,
    the years) from tally_people, the edge days from the ledger."""
    status = political or ALL_POLITICAL
    whole = period.whole_months()
    parts = []
    if whole is not None:
        keys = (
            TallyPerson.month % 100 == 0
            if period.kind == "all"
            else and_(TallyPerson.month.between(*whole), is_month_key(TallyPerson.month))
        )
        parts.append(
            select(
                TallyPerson.node_id.label("node_id"),
                TallyPerson.user_id.label("user_id"),
                TallyPerson.minutes.label("minutes"),
            ).where(
                TallyPerson.dim == dim,
                TallyPerson.node_id.in_(node_ids),
                TallyPerson.political == status,
                keys,
            )
        )
    edge = _edge_rows(
        dim,
        node_ids,
        period,
        None,
        political,
        ServiceRecord.user_id.label("user_id"),
        ServiceRecord.minutes.label("minutes"),
    )
    if edge is not None:
        parts.append(edge)
    if not parts:
        return {}
    rows = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    served = (
        select(rows.c.node_id, rows.c.user_id)
        .group_by(rows.c.node_id, rows.c.user_id)
        .having(func.sum(rows.c.minutes) > 0)
        .subquery()
    )
    return {
        node_id: int(count)
        for node_id, count in db.session.execute(
            select(served.c.node_id, func.count()).group_by(served.c.node_id)
        )
    }


def figures(
    dim: str,
    node_ids: list[int],
    period: Period,
    *,
    category: str | None = None,
    political: str | None = None,
) -> dict[int, Figures]:
    """Figures for each node (the node and everything below it)."""
    out = {node_id: Figures() for node_id in node_ids}
    if not node_ids:
        return out
    for node_id, minutes, sessions in db.session.execute(
        select(TallyCell.node_id, func.sum(TallyCell.minutes), func.sum(TallyCell.sessions))
        .where(TallyCell.node_id.in_(node_ids), _cell_filter(dim, period, category, political))
        .group_by(TallyCell.node_id)
    ):
        out[node_id].minutes = int(minutes or 0)
        out[node_id].sessions = int(sessions or 0)
    edge = _edge_rows(
        dim,
        node_ids,
        period,
        category,
        political,
        func.sum(ServiceRecord.minutes),
        func.sum(_SESSION),
    )
    if edge is not None:
        for node_id, minutes, sessions in db.session.execute(edge.group_by("node_id")):
            out[node_id].minutes += int(minutes or 0)
            out[node_id].sessions += int(sessions or 0)
    if dim != "host" and not category:
        key = whole_period_key(period)
        if key is not None:
            # A whole month, quarter or year: the served counters, a row per node (of
            # the status asked for, or of all statuses).
            people = select(TallyServed.node_id, TallyServed.people).where(
                TallyServed.dim == dim,
                TallyServed.node_id.in_(node_ids),
                TallyServed.month == key,
                TallyServed.political == (political or ALL_POLITICAL),
            )
            for node_id, count in db.session.execute(people):
                out[node_id].volunteers = int(count or 0)
        else:
            # Any other range: volunteers whose net approved minutes over it are positive.
            for node_id, count in _served_counts(dim, node_ids, period, political).items():
                out[node_id].volunteers = count
    if dim != "host":
        _registrations(dim, node_ids, period, political, out)
    return out


def _registrations(
    dim: str, node_ids: list[int], period: Period, political: str | None, out: dict[int, Figures]
) -> None:
    """Registered volunteers (and new ones in the period) per node, from the counters per
    community (or branch) kept by services.registrations, rolled up the tree in Python."""
    base = [TallyRegistration.dim == dim]
    if political:
        base.append(TallyRegistration.political == political)
    leaves: dict[int, list[int]] = {}
    whole = period.whole_months()
    counters = [(TallyRegistration.month == 0, 0)]
    if whole is not None:
        counters.append((TallyRegistration.month.between(*whole), 1))
    for months, slot in counters:
        for leaf, people in db.session.execute(
            select(TallyRegistration.node_id, func.sum(TallyRegistration.people))
            .where(*base, months)
            .group_by(TallyRegistration.node_id)
        ):
            leaves.setdefault(leaf, [0, 0])[slot] = int(people or 0)
    for leaf, people in _new_on_edge_days(dim, period, political):
        leaves.setdefault(leaf, [0, 0])[1] += people
    if not leaves:
        return
    wanted = set(node_ids)
    for leaf_id, path in db.session.execute(
        select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(leaves))
    ):
        registered, new = leaves[leaf_id]
        for ancestor in (int(p) for p in path.strip("/").split("/") if p):
            if ancestor in wanted:
                out[ancestor].registered += registered
                out[ancestor].new_registrations += new


def _new_on_edge_days(dim: str, period: Period, political: str | None) -> list[tuple[int, int]]:
    """(community or branch, volunteers) registered on the period's days outside its whole
    months, counted as the registration counters count (consented, account not deleted,
    by the local time the account was made)."""
    edges = period.edges()
    if not edges:
        return []
    column = VolunteerProfile.community_id if dim == "area" else VolunteerProfile.branch_id

    def utc(day: date) -> datetime:
        return from_local(datetime.combine(day, datetime.min.time()))

    query = (
        select(column, func.count())
        .join(User, User.id == VolunteerProfile.user_id)
        .where(
            column.is_not(None),
            VolunteerProfile.consented_at.is_not(None),
            User.deleted_at.is_(None),
            or_(*(and_(User.created_at >= utc(a), User.created_at < utc(b)) for a, b in edges)),
        )
        .group_by(column)
    )
    if political:
        query = query.where(VolunteerProfile.political_status == political)
    return [(leaf, int(people)) for leaf, people in db.session.execute(query)]
