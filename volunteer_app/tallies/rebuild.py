"""The tally tables rebuilt in bulk from the ledger (after a bulk load) and checked against
it (`flask tallies verify`)."""

from __future__ import annotations

from sqlalchemy import select, text, update

from ..extensions import db
from ..models import (
    OrgUnit,
    TallyCell,
    TallyPerson,
    TallyServed,
    VolunteerProfile,
)
from ..models.hours import ALL_POLITICAL
from ..services import registrations

# The same sums in bulk, straight from the ledger: for rebuilding after a bulk load and for
# checking the tables. `node_paths` expands every node into its ancestors (itself included).

_DIMENSION_COLUMNS = {"area": "community_id", "party": "branch_id", "host": "host_id"}


def _month_sql(dialect: str) -> str:
    if dialect == "sqlite":
        return "CAST(strftime('%Y%m', r.service_date) AS INTEGER)"
    return (
        "CAST(EXTRACT(YEAR FROM r.service_date) * 100 "
        "+ EXTRACT(MONTH FROM r.service_date) AS INTEGER)"
    )


def _fill_node_paths() -> None:
    db.session.execute(text("DELETE FROM tally_node_paths"))
    rows = [
        {"node_id": node_id, "ancestor_id": ancestor}
        for node_id, path in db.session.execute(select(OrgUnit.id, OrgUnit.path))
        for ancestor in (int(p) for p in path.strip("/").split("/") if p)
    ]
    if rows:
        db.session.execute(
            text(
                "INSERT INTO tally_node_paths (node_id, ancestor_id) "
                "VALUES (:node_id, :ancestor_id)"
            ),
            rows,
        )


def _cells_select(dim: str, dialect: str) -> str:
    column = _DIMENSION_COLUMNS[dim]
    return (
        f"SELECT '{dim}' AS dim, np.ancestor_id AS node_id, {_month_sql(dialect)} AS month, "  # noqa: S608
        "r.category AS category, r.political_status AS political, "
        "SUM(r.minutes) AS minutes, "
        "SUM(CASE WHEN r.kind = 'correction' THEN 0 ELSE 1 END) AS sessions "
        f"FROM service_records r JOIN tally_node_paths np ON np.node_id = r.{column} "
        "WHERE r.status = 'approved' "
        "GROUP BY np.ancestor_id, month, r.category, r.political_status"
    )


def _period_sql(dialect: str, kind: str) -> str:
    """SQL for the period key of r.service_date (see period_keys)."""
    if dialect == "sqlite":
        year = "CAST(strftime('%Y', r.service_date) AS INTEGER)"
        month = "CAST(strftime('%m', r.service_date) AS INTEGER)"
    else:
        year = "CAST(EXTRACT(YEAR FROM r.service_date) AS INTEGER)"
        month = "CAST(EXTRACT(MONTH FROM r.service_date) AS INTEGER)"
    if kind == "month":
        return f"({year} * 100 + {month})"
    if kind == "quarter":
        return f"({year} * 100 + 20 + ({month} - 1) / 3 + 1)"
    return f"({year} * 100)"


def _people_select(dim: str, dialect: str) -> str:
    """tally_people in one stage from the ledger: per period key, each volunteer's minutes
    under each status of the records' snapshots and under all statuses."""
    column = _DIMENSION_COLUMNS[dim]
    return " UNION ALL ".join(
        f"SELECT '{dim}' AS dim, np.ancestor_id AS node_id, "  # noqa: S608 - constant names
        f"{_period_sql(dialect, kind)} AS month, "
        f"r.user_id AS user_id, {political} AS political, SUM(r.minutes) AS minutes "
        f"FROM service_records r JOIN tally_node_paths np ON np.node_id = r.{column} "
        "WHERE r.status = 'approved' "
        f"GROUP BY np.ancestor_id, {_period_sql(dialect, kind)}, r.user_id{group}"
        for kind in ("month", "quarter", "year")
        for political, group in (
            ("r.political_status", ", r.political_status"),
            (f"'{ALL_POLITICAL}'", ""),
        )
    )


#: Each volunteer's approved total in one pass (UPDATE … FROM: PostgreSQL, SQLite ≥ 3.33).
_TOTALS_UPDATE = (
    "UPDATE volunteer_profiles SET approved_minutes = t.total FROM ("
    "SELECT user_id, SUM(minutes) AS total FROM service_records WHERE status = 'approved' "
    "GROUP BY user_id) AS t WHERE t.user_id = volunteer_profiles.user_id"
)
_TOTALS_CHECK = (
    "SELECT COUNT(*) FROM volunteer_profiles p LEFT JOIN ("
    "SELECT user_id, SUM(minutes) AS total FROM service_records WHERE status = 'approved' "
    "GROUP BY user_id) AS t ON t.user_id = p.user_id "
    "WHERE p.approved_minutes != COALESCE(t.total, 0)"
)


def _rebuild_cells(dim: str, dialect: str) -> None:
    """tally_cells for one dimension in bulk, in two stages: the ledger summed per node
    first (one pass over it), then those few rows rolled up the node paths. The same sums
    as _cells_select's one stage (which verify_tallies uses), three to four times faster:
    the join with the paths multiplies a few thousand rows, not the ledger."""
    column = _DIMENSION_COLUMNS[dim]
    db.session.execute(
        text(
            "INSERT INTO tally_cells (dim, node_id, month, category, political, minutes, "  # noqa: S608
            f"sessions) SELECT '{dim}', np.ancestor_id, g.month, g.category, g.political, "
            "SUM(g.minutes), SUM(g.sessions) FROM ("
            f"SELECT r.{column} AS node_id, {_month_sql(dialect)} AS month, "
            "r.category AS category, r.political_status AS political, "
            "SUM(r.minutes) AS minutes, "
            "SUM(CASE WHEN r.kind = 'correction' THEN 0 ELSE 1 END) AS sessions "
            f"FROM service_records r WHERE r.status = 'approved' AND r.{column} IS NOT NULL "
            f"GROUP BY r.{column}, {_month_sql(dialect)}, r.category, r.political_status"
            ") g JOIN tally_node_paths np ON np.node_id = g.node_id "
            "GROUP BY np.ancestor_id, g.month, g.category, g.political"
        )
    )


#: The quarter and year keys of a month key (see period_keys), in SQL.
_QUARTER_AND_YEAR_OF_MONTH = (
    "(g.month / 100) * 100 + 20 + (g.month % 100 - 1) / 3 + 1",
    "(g.month / 100) * 100",
)


def _rebuild_people(dim: str, dialect: str) -> None:
    """tally_people for one dimension in bulk, in two stages: each volunteer's minutes per
    node, month and snapshot status from the ledger into a scratch table (one pass over
    it), then for each period those rows summed by period and rolled up the node paths.
    verify_tallies checks the result against _people_select's one stage, passes over the
    ledger."""
    column = _DIMENSION_COLUMNS[dim]
    month = _period_sql(dialect, "month")
    db.session.execute(
        text(
            "CREATE TEMPORARY TABLE tally_scratch AS "  # noqa: S608
            f"SELECT r.{column} AS node_id, {month} AS month, r.user_id AS user_id, "
            "r.political_status AS political, SUM(r.minutes) AS minutes "
            f"FROM service_records r WHERE r.status = 'approved' AND r.{column} IS NOT NULL "
            f"GROUP BY r.{column}, {month}, r.user_id, r.political_status"
        )
    )
    # Per period key, the scratch rows summed by their key (months: as they are) and rolled
    # up the paths, once per status of the snapshots and once for all statuses together.
    for key in ("g.month", *_QUARTER_AND_YEAR_OF_MONTH):
        for political, group in (("g.political", ", g.political"), (f"'{ALL_POLITICAL}'", "")):
            db.session.execute(
                text(
                    "INSERT INTO tally_people (dim, node_id, month, user_id, political, "  # noqa: S608
                    f"minutes) SELECT '{dim}', np.ancestor_id, {key}, "
                    f"g.user_id, {political}, SUM(g.minutes) FROM tally_scratch g "
                    "JOIN tally_node_paths np ON np.node_id = g.node_id "
                    f"GROUP BY np.ancestor_id, {key}, g.user_id{group}"
                )
            )
    db.session.execute(text("DROP TABLE tally_scratch"))


#: tally_people's unique key (the upserts of every approval rely on it).
_PEOPLE_KEY = next(i for i in TallyPerson.__table__.indexes if i.name == "uq_tally_people_key")

#: The served counters as tally_people has them (rebuild and verify).
_SERVED_SELECT = (
    "SELECT dim, node_id, month, political, COUNT(*) AS people FROM tally_people "
    "WHERE minutes > 0 GROUP BY dim, node_id, month, political"
)


def rebuild_tallies() -> None:
    """Recompute every tally table from the approved ledger rows in bulk (INSERT … SELECT),
    and the registration counters from the profiles."""
    dialect = db.session.get_bind().dialect.name
    _fill_node_paths()
    db.session.execute(text("DELETE FROM tally_cells"))
    if dialect == "sqlite":
        # The sorts of the GROUP BYs below may use a second core (per connection; reset).
        db.session.execute(text("PRAGMA threads = 2"))
    # tally_people's unique key is dropped for the load and built again after it (in the
    # same transaction: a failed rebuild leaves it as it was). Tens of millions of rows
    # inserted into the index one by one cost a third more than one sort of them; the
    # GROUP BYs make each key once, and building the unique index checks that they did.
    # Writers of the tallies wait: on SQLite for the write lock, on PostgreSQL for the
    # table (DROP INDEX locks it until the commit).
    connection = db.session.connection()
    _PEOPLE_KEY.drop(bind=connection)
    db.session.execute(text("DELETE FROM tally_people"))
    for dim in _DIMENSION_COLUMNS:
        _rebuild_cells(dim, dialect)
        if dim != "host":
            _rebuild_people(dim, dialect)
    db.session.execute(text("DELETE FROM tally_served"))
    db.session.execute(
        text(f"INSERT INTO tally_served (dim, node_id, month, political, people) {_SERVED_SELECT}")
    )
    _PEOPLE_KEY.create(bind=connection)
    db.session.execute(update(VolunteerProfile).values(approved_minutes=0))
    db.session.execute(text(_TOTALS_UPDATE))
    registrations.rebuild()
    if dialect == "sqlite":
        db.session.execute(text("PRAGMA threads = 0"))
    db.session.flush()


def verify_tallies() -> list[str]:
    """Differences between the tally tables (and the volunteers' totals) and sums computed
    from the ledger; empty when they agree. The caller's pending work is left alone: the
    scratch path table is filled in a savepoint that is rolled back."""
    dialect = db.session.get_bind().dialect.name
    scratch = db.session.begin_nested()
    _fill_node_paths()
    problems: list[str] = []
    for dim in _DIMENSION_COLUMNS:
        expected = {
            (row.node_id, row.month, row.category, row.political): (
                int(row.minutes),
                int(row.sessions),
            )
            for row in db.session.execute(text(_cells_select(dim, dialect)))
        }
        actual = {
            (c.node_id, c.month, c.category, c.political): (int(c.minutes), int(c.sessions))
            for c in db.session.scalars(select(TallyCell).where(TallyCell.dim == dim))
        }
        for key in set(expected) | set(actual):
            if expected.get(key, (0, 0)) != actual.get(key, (0, 0)):
                problems.append(
                    f"{dim} cell {key}: ledger {expected.get(key)} tally {actual.get(key)}"
                )
        if dim == "host":
            continue
        expected_people = {
            (row.node_id, row.month, row.user_id, row.political): int(row.minutes)
            for row in db.session.execute(text(_people_select(dim, dialect)))
        }
        actual_people = {
            (p.node_id, p.month, p.user_id, p.political): int(p.minutes)
            for p in db.session.scalars(select(TallyPerson).where(TallyPerson.dim == dim))
        }
        differing = set(expected_people.items()) ^ set(actual_people.items())
        if differing:
            problems.append(f"{dim} people: {len(differing)} rows differ from the ledger")
    expected_served = {
        tuple(row[:4]): int(row[4]) for row in db.session.execute(text(_SERVED_SELECT))
    }
    actual_served = {
        (c.dim, c.node_id, c.month, c.political): c.people
        for c in db.session.scalars(select(TallyServed).where(TallyServed.people != 0))
    }
    for key in sorted(set(expected_served) | set(actual_served)):
        if expected_served.get(key, 0) != actual_served.get(key, 0):
            problems.append(
                f"served {key}: people {expected_served.get(key, 0)} "
                f"counter {actual_served.get(key, 0)}"
            )
    stale = db.session.execute(text(_TOTALS_CHECK)).scalar()
    if stale:
        problems.append(f"{stale} volunteers' approved totals differ from the ledger")
    problems.extend(registrations.verify())
    scratch.rollback()
    return sorted(problems)
