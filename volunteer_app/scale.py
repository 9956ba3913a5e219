"""`flask seed scale`: district-scale data for the benchmarks, in bulk.

The demo's org trees enlarged to 20 communities per town (each with a Party branch), then
volunteers with valid, encrypted ID numbers, events with one shift each over the past year,
and the ledger (most rows approved) — users and profiles by executemany in large batches,
the ledger by one INSERT … SELECT in the database, after which the tally tables are rebuilt
from the ledger in SQL."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from functools import lru_cache

from psycopg.types.json import Json
from sqlalchemy import DateTime, bindparam, insert, select, text

from . import demo_data as data
from .demo import find_node, seed_org_trees
from .extensions import db
from .models import (
    Event,
    EventStatus,
    OrgLevel,
    OrgUnit,
    RecordKind,
    RecordStatus,
    ServiceRecord,
    Shift,
    User,
    VolunteerProfile,
)
from .services import orgs, pii
from .services.idnumbers import make_resident_number, mask
from .services.passwords import hash_password
from .tallies.rebuild import rebuild_tallies
from .timeutil import utcnow

REGIONS = [f"3702{n:02d}" for n in (2, 3, 11, 12, 13, 14, 81, 82, 83, 85)] + [
    f"3706{n:02d}" for n in (2, 11, 12, 13, 81, 82, 83, 84, 85, 86)
]
COMMUNITIES_PER_TOWN = 20
BATCH = 20_000


def enlarge_trees() -> tuple[list[OrgUnit], list[OrgUnit], list[OrgUnit]]:
    """Communities up to 20 per town, a branch for each; returns (communities, branches,
    hosts)."""
    seed_org_trees()
    party_root = find_node((data.DISTRICT, data.PARTY_ROOT))
    towns = db.session.scalars(
        select(OrgUnit).where(OrgUnit.level == OrgLevel.TOWN).order_by(OrgUnit.id)
    ).all()
    for town in towns:
        have = [c for c in town.children if c.level is OrgLevel.COMMUNITY]
        committee_name = f"中共{town.name}规模测试工作委员会"
        committee = db.session.scalar(select(OrgUnit).where(OrgUnit.name == committee_name))
        if committee is None:
            committee = orgs.create_node(committee_name, OrgLevel.PARTY_COMMITTEE, party_root)
        existing_branches = {c.name for c in committee.children}
        for k in range(len(have), COMMUNITIES_PER_TOWN):
            have.append(
                orgs.create_node(
                    f"{town.name[:2]}第{k + 1}社区", OrgLevel.COMMUNITY, town, sort_order=k
                )
            )
        for community in have:
            name = f"{community.name}联合党支部"
            if name not in existing_branches:
                orgs.create_node(name, OrgLevel.PARTY_BRANCH, committee)
    db.session.flush()
    communities = db.session.scalars(
        select(OrgUnit).where(OrgUnit.level == OrgLevel.COMMUNITY).order_by(OrgUnit.id)
    ).all()
    branches = db.session.scalars(
        select(OrgUnit).where(OrgUnit.level == OrgLevel.PARTY_BRANCH).order_by(OrgUnit.id)
    ).all()
    hosts = db.session.scalars(
        select(OrgUnit)
        .where(OrgUnit.level.in_([OrgLevel.TOWN, OrgLevel.ORGANISER, OrgLevel.PRACTICE_STATION]))
        .order_by(OrgUnit.id)
    ).all()
    return list(communities), list(branches), list(hosts)


def _is_pg() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


@lru_cache(maxsize=4096)
def _sqlite_datetime(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores it on SQLite


def _converter(value: object, pg: bool) -> Callable[[object], object] | None:
    """How a column's values go to the driver, from one of them; None: as they are."""
    if isinstance(value, list | dict):
        return Json if pg else json.dumps
    if pg:
        return None
    if isinstance(value, datetime):
        return _sqlite_datetime
    if isinstance(value, date):
        return date.isoformat
    return None


def _insert_plain(table: str, rows: list[dict]) -> None:
    """executemany straight to the driver with plain tuples: for hundreds of thousands of
    rows several times faster than the ORM's insert, which processes every value. Each
    column's values are all of one type (the first row's)."""
    pg = _is_pg()
    columns = list(rows[0])
    convert = [(c, _converter(rows[0][c], pg)) for c in columns]
    mark = "%s" if pg else "?"
    db.session.connection().exec_driver_sql(
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - constant names
        f"VALUES ({', '.join([mark] * len(columns))})",
        [tuple(f(row[c]) if f else row[c] for c, f in convert) for row in rows],
    )


def _batches(rows: Iterator[dict], size: int = BATCH) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def seed_scale(
    volunteers: int,
    records: int,
    *,
    password: str,
    year: int | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, float]:
    """Fill the database; returns seconds per phase."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    rng = random.Random(2026)
    now = utcnow()
    year = year or now.year
    communities, branches, hosts = enlarge_trees()
    db.session.commit()
    timings["trees"] = time.perf_counter() - started

    phase = time.perf_counter()
    first_id = (db.session.scalar(select(db.func.max(User.id))) or 0) + 1
    password_hash = hash_password(password)
    political_codes = ["01"] * 25 + ["02"] * 3 + ["03"] * 15 + ["13"] * 50 + ["12", "05", "10"] * 2

    def users() -> Iterator[dict]:
        for i in range(volunteers):
            yield {
                "id": first_id + i,
                "phone": f"16{i:09d}",
                "password_hash": password_hash,
                "display_name": "",
                "active": True,
                "large_text": False,
                "created_at": now,
                "phone_verified_at": now,
                "notify_sms": True,
                "notify_email": False,
                "quiet_start": 22,
                "quiet_end": 7,
            }

    for batch in _batches(users()):
        _insert_plain(User.__table__.name, batch)
    db.session.commit()

    def profiles() -> Iterator[dict]:
        for i in range(volunteers):
            user_id = first_id + i
            born = date(1950, 1, 1) + timedelta(days=(i // len(REGIONS)) % 20_000)
            number = make_resident_number(
                REGIONS[i % len(REGIONS)], born, 2 * (i // (len(REGIONS) * 20_000)) + 1, True
            )
            community = communities[i % len(communities)]
            political = political_codes[i % len(political_codes)]
            branch = branches[(i * 7) % len(branches)].id if political in ("01", "02") else None
            name = rng.choice(data.SURNAMES) + rng.choice(data.GIVEN_CHARS)
            yield {
                "user_id": user_id,
                "real_name": name,
                "id_type": "resident",
                "id_number_encrypted": pii.encrypt(number),
                "id_hash": pii.keyed_hash(f"resident:{number}"),
                "id_masked": mask(number),
                "gender": "male",
                "birth_date": born,
                "community_id": community.id,
                "political_status": political,
                "branch_id": branch,
                "skills": [],
                "service_categories": ["env_sanitation"],
                "availability": [],
                "emergency_name": "家属",
                "emergency_phone": "13700000000",
                "privacy_version": "2026-11",
                "consented_at": now,
                "sensitive_consented_at": now,
                "approved_minutes": 0,
                "created_at": now,
                "updated_at": now,
            }

    for batch in _batches(profiles(), 10_000):
        _insert_plain(VolunteerProfile.__table__.name, batch)
    db.session.commit()
    timings["volunteers"] = time.perf_counter() - phase
    echo(f"  {volunteers} volunteers in {timings['volunteers']:.1f}s")

    phase = time.perf_counter()
    shifts_count = max(records // 200, 50)
    categories = [c for c, _label in data.CATEGORIES]
    first_event = (db.session.scalar(select(db.func.max(Event.id))) or 0) + 1
    first_shift = (db.session.scalar(select(db.func.max(Shift.id))) or 0) + 1
    start_of_year = datetime(year, 1, 1, 0, 0)
    shift_rows = []
    event_rows = []
    for k in range(shifts_count):
        starts = start_of_year + timedelta(days=(k * 365) // shifts_count, hours=8)
        host = hosts[k % len(hosts)]
        event_rows.append(
            {
                "id": first_event + k,
                "host_id": host.id,
                "area_id": communities[k % len(communities)].id,
                "title": f"规模测试活动{k}",
                "description": "",
                "category": categories[k % 8],
                "address": "即墨区",
                "contact_name": "",
                "contact_phone": "",
                "adults_only": False,
                "party_only": False,
                "team_only": False,
                "dangerous": False,
                "visibility": "public",
                "status": EventStatus.COMPLETED.value,
                "starts_at": starts,
                "ends_at": starts + timedelta(hours=3),
                "created_at": now,
                "updated_at": now,
            }
        )
        shift_rows.append(
            {
                "id": first_shift + k,
                "event_id": first_event + k,
                "post": "岗位",
                "duties": "",
                "starts_at": starts,
                "ends_at": starts + timedelta(hours=3),
                "capacity": 500,
                "taken": 0,
                "waitlist_enabled": False,
                "waitlist_limit": 0,
                "waitlisted": 0,
                "cancel_deadline_hours": 2,
                "checkin_opens_minutes": 30,
                "checkin_closes_minutes": 30,
                "cancelled": False,
                "created_at": now,
            }
        )
    for batch in _batches(iter(event_rows)):
        db.session.execute(insert(Event), batch)
    for batch in _batches(iter(shift_rows)):
        db.session.execute(insert(Shift), batch)
    db.session.commit()

    # The ledger: volunteer number n (from 0) has records n, n + V, n + 2V, … (V volunteers)
    # below `records`; record i's shift is (user_id * 31 + k * 997) mod the shift count for
    # its k = i // V, every 20th record is pending, and its minutes are 60 + (i * 37) mod 180.
    # One INSERT … SELECT over the profiles, a run of k and the events: generated in the
    # database, millions of rows without a Python object each.
    # On an empty ledger, load first and index afterwards: building each index once over
    # sorted data is far cheaper than keeping five indexes up to date row by row.
    indexes = list(ServiceRecord.__table__.indexes)
    empty = db.session.scalar(select(ServiceRecord.id).limit(1)) is None
    if empty:
        for index in indexes:
            db.session.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
        db.session.commit()
    service_date = "date(e.starts_at)" if not _is_pg() else "CAST(e.starts_at AS DATE)"
    number = "(p.user_id - :first_id + ks.k * :volunteers)"  # i, the record's number
    db.session.execute(
        text(
            "WITH RECURSIVE ks(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM ks "  # noqa: S608
            "WHERE (k + 1) * :volunteers < :records) "
            "INSERT INTO service_records (user_id, kind, status, shift_id, event_id, activity, "
            "service_date, place, content, minutes, organisation, lead_name, community_id, "
            "branch_id, host_id, service_area_id, category, political_status, created_at) "
            f"SELECT p.user_id, :kind, CASE WHEN {number} % 20 = 0 THEN :pending "
            "ELSE :approved END, e.id - :first_event + :first_shift, e.id, e.title, "
            f"{service_date}, '即墨区', '岗位', 60 + ({number} * 37) % 180, '', '', "
            "p.community_id, p.branch_id, e.host_id, e.area_id, e.category, "
            "p.political_status, :now "
            "FROM volunteer_profiles p CROSS JOIN ks JOIN events e ON e.id = :first_event + "
            "(p.user_id * 31 + ks.k * 997) % :shifts "
            "WHERE p.user_id BETWEEN :first_id AND :first_id + :volunteers - 1 "
            f"AND {number} < :records"
        ).bindparams(bindparam("now", type_=DateTime())),
        {
            "first_id": first_id,
            "volunteers": volunteers,
            "records": records,
            "kind": RecordKind.SERVICE.value,
            "pending": RecordStatus.PENDING.value,
            "approved": RecordStatus.APPROVED.value,
            "first_event": first_event,
            "first_shift": first_shift,
            "shifts": shifts_count,
            "now": now,
        },
    )
    db.session.commit()
    if empty:
        connection = db.session.connection()
        for index in indexes:
            index.create(connection)
        db.session.commit()
    timings["ledger"] = time.perf_counter() - phase
    echo(f"  {records} ledger rows in {timings['ledger']:.1f}s")

    if _is_pg():
        # The bulk inserts gave explicit ids: move the sequences past them.
        for table in ("users", "events", "shifts", "service_records"):
            db.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                )
            )
        db.session.commit()
    phase = time.perf_counter()
    # Fresh statistics for the planner after millions of new rows (on SQLite from a sample
    # of each index, as `PRAGMA optimize` does: seconds instead of a full scan of each).
    if not _is_pg():
        db.session.execute(text("PRAGMA analysis_limit = 1000"))
    db.session.execute(text("ANALYZE"))
    rebuild_tallies()
    db.session.commit()
    timings["tallies"] = time.perf_counter() - phase
    echo(f"  tallies rebuilt in {timings['tallies']:.1f}s")
    timings["total"] = time.perf_counter() - started
    return timings
