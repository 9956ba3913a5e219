"""Keeping the tally tables in step: an approved (or reversed) ledger row is added to every
cell, person and served row it counts in, in the transaction that approves it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, text, update

from ..extensions import db
from ..models import (
    OrgUnit,
    RecordKind,
    ServiceRecord,
    VolunteerProfile,
)
from ..models.hours import ALL_POLITICAL
from ..services.database import upsert_sql

# ---------------------------------------------------------------- tallies


def _paths(record: ServiceRecord) -> dict[str, list[int]]:
    ids = [i for i in (record.community_id, record.branch_id, record.host_id) if i]
    nodes = {n.id: n for n in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    paths = {}
    for dim, node_id in (
        ("area", record.community_id),
        ("party", record.branch_id),
        ("host", record.host_id),
    ):
        node = nodes.get(node_id) if node_id else None
        if node is not None:
            paths[dim] = node.ancestor_ids
    return paths


_CELL_SQL = upsert_sql(
    "tally_cells", ["dim", "node_id", "month", "category", "political"], ["minutes", "sessions"]
)
_PERSON_COLUMNS = ("dim", "node_id", "month", "user_id", "political", "minutes")
_SERVED_SQL = upsert_sql("tally_served", ["dim", "node_id", "month", "political"], ["people"])


def _people_upsert(count: int) -> str:
    """One multi-row upsert into tally_people returning each row's new minutes (SQLite ≥ 3.35
    and PostgreSQL): the change of each row is then known exactly, even under concurrency,
    since each row's update is atomic."""
    values = ", ".join(
        "(" + ", ".join(f":{c}_{i}" for c in _PERSON_COLUMNS) + ")" for i in range(count)
    )
    return (
        f"INSERT INTO tally_people ({', '.join(_PERSON_COLUMNS)}) VALUES {values} "  # noqa: S608
        "ON CONFLICT (dim, node_id, month, user_id, political) "
        "DO UPDATE SET minutes = tally_people.minutes + excluded.minutes "
        "RETURNING dim, node_id, month, political, minutes"
    )


def period_keys(day: date) -> tuple[int, int, int]:
    """The tally_people period keys a day belongs to: its month (yyyymm), its quarter
    (yyyy2q: 21…24) and its year (yyyy00). Whole quarters and years are then one row per
    volunteer, so "volunteers who served" is a count, not a DISTINCT over months."""
    return (
        day.year * 100 + day.month,
        day.year * 100 + 20 + (day.month - 1) // 3 + 1,
        day.year * 100,
    )


def is_month_key(column):
    """Rows of tally_people that are single months (not quarter or year totals)."""
    return (column % 100).between(1, 12)


def apply_to_tallies(record: ServiceRecord) -> None:
    """Add an approved record to every tally cell on its paths (one statement per cell,
    an upsert on both databases)."""
    month = record.service_date.year * 100 + record.service_date.month
    sessions = 1 if record.kind is not RecordKind.CORRECTION else 0
    cells, people = [], []
    for dim, node_ids in _paths(record).items():
        for node_id in node_ids:
            cells.append(
                {
                    "dim": dim,
                    "node_id": node_id,
                    "month": month,
                    "category": record.category,
                    "political": record.political_status,
                    "minutes": record.minutes,
                    "sessions": sessions,
                }
            )
            if dim != "host":
                # The volunteer under the status of the record's snapshot, and under all.
                people.extend(
                    {
                        "dim": dim,
                        "node_id": node_id,
                        "month": key,
                        "user_id": record.user_id,
                        "political": political,
                        "minutes": record.minutes,
                    }
                    for key in period_keys(record.service_date)
                    for political in (record.political_status, ALL_POLITICAL)
                )
    if cells:
        db.session.execute(text(_CELL_SQL), cells)
    if people:
        params = {f"{c}_{i}": row[c] for i, row in enumerate(people) for c in _PERSON_COLUMNS}
        served = []
        for dim, node_id, key, political, minutes in db.session.execute(
            text(_people_upsert(len(people))), params
        ):
            # Served = net minutes above zero: count the volunteer in or out on a crossing.
            change = (minutes > 0) - (minutes - record.minutes > 0)
            if change:
                served.append(
                    {
                        "dim": dim,
                        "node_id": node_id,
                        "month": key,
                        "political": political,
                        "people": change,
                    }
                )
        if served:
            db.session.execute(text(_SERVED_SQL), served)
    db.session.execute(
        update(VolunteerProfile)
        .where(VolunteerProfile.user_id == record.user_id)
        .values(approved_minutes=VolunteerProfile.approved_minutes + record.minutes)
        .execution_options(synchronize_session=False)
    )


# The same sums in bulk, straight from the ledger: for rebuilding after a bulk load and for
# checking the tables. `node_paths` expands every node into its ancestors (itself included).
