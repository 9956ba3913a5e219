"""`flask seed scale`: district-scale data for the benchmarks, in bulk.

The demo's org trees enlarged to 20 communities per town (each with a Party branch), then
volunteers with valid, encrypted ID numbers, events with one shift each over the past year,
and the ledger (most rows approved) — inserted with executemany in large batches, after
which the tally tables are rebuilt from the ledger in SQL."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

from sqlalchemy import insert, select, text

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
from .services.hours import rebuild_tallies
from .services.idnumbers import make_resident_number, mask
from .services.passwords import hash_password
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


def _closing(cursor):
    from contextlib import closing

    return closing(cursor)


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
    profile_info: list[tuple[int, int, int | None, str]] = []  # id, community, branch, political

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
        db.session.execute(insert(User), batch)
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
            profile_info.append((user_id, community.id, branch, political))
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
        db.session.execute(insert(VolunteerProfile), batch)
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

    def ledger() -> Iterator[dict]:
        for i in range(records):
            user_id, community_id, branch_id, political = profile_info[i % volunteers]
            k = i // volunteers
            s = (user_id * 31 + k * 997) % shifts_count
            event = event_rows[s]
            yield {
                "user_id": user_id,
                "kind": RecordKind.SERVICE.value,
                "status": (RecordStatus.PENDING if i % 20 == 0 else RecordStatus.APPROVED).value,
                "shift_id": first_shift + s,
                "event_id": event["id"],
                "activity": event["title"],
                "service_date": event["starts_at"].date(),
                "place": "即墨区",
                "content": "岗位",
                "minutes": 60 + (i * 37) % 180,
                "organisation": "",
                "lead_name": "",
                "community_id": community_id,
                "branch_id": branch_id,
                "host_id": event["host_id"],
                "service_area_id": event["area_id"],
                "category": event["category"],
                "political_status": political,
                "created_at": now,
            }

    # On an empty ledger, load first and index afterwards: building each index once over
    # sorted data is far cheaper than keeping five indexes up to date row by row.
    indexes = list(ServiceRecord.__table__.indexes)
    empty = db.session.scalar(select(ServiceRecord.id).limit(1)) is None
    if empty:
        for index in indexes:
            db.session.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
        db.session.commit()
    done = 0
    columns = list(next(ledger()).keys())
    # The driver's own executemany with plain tuples: several times faster than the ORM's
    # insert for millions of rows (the statement is built from the column names above).
    statement = (
        f"INSERT INTO service_records ({', '.join(columns)}) "  # noqa: S608 - constant names
        f"VALUES ({', '.join(['%s' if _is_pg() else '?'] * len(columns))})"
    )
    for batch in _batches(ledger()):
        raw = db.session.connection().connection.driver_connection
        with _closing(raw.cursor()) as cursor:
            cursor.executemany(statement, [tuple(row[c] for c in columns) for row in batch])
        done += len(batch)
        if done % 200_000 == 0:
            db.session.commit()
            echo(f"  {done} ledger rows")
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
    # Fresh statistics for the planner after millions of new rows.
    db.session.execute(text("ANALYZE"))
    rebuild_tallies()
    db.session.commit()
    timings["tallies"] = time.perf_counter() - phase
    echo(f"  tallies rebuilt in {timings['tallies']:.1f}s")
    timings["total"] = time.perf_counter() - started
    return timings
