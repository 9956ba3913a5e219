"""Bench fixtures on a freshly seeded scale database (run after `flask seed scale`).

Adds, through the product's own models and seed helpers: the demo logins (a lead and a town
organiser), and under 环秀街道:
  - check-in shifts open now, each with `--checkin-per-shift` confirmed volunteers and the
    demo lead assigned;
  - a roster shift with 500 confirmed sign-ups;
  - the storm shift: 50 places and a waitlist of 20, for `--storm` volunteers;
  - `--sustained-shifts` open shifts with room for everyone (sustained sign-ups), and as
    many twin shifts for the baseline app's conditional UPDATE;
  - for the in-process figures (bench/inprocess.py): one check-in shift open now with
    `--inprocess-checkin` confirmed volunteers and the demo lead, and
    `--inprocess-signup-shifts` shifts (one a day, far ahead) for `--inprocess-volunteers`
    volunteers of their own;
and the baseline app's two bench tables (bench_scans, bench_signups). Prints a JSON object.

Volunteers are taken from the scale seed (phones 16xxxxxxxxx, complete profiles), each in
one group only, so no sign-up of the bench overlaps another of the same volunteer."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select, text

from volunteer_app import create_app
from volunteer_app import demo_data as data
from volunteer_app.demo import find_node, seed_accounts
from volunteer_app.extensions import db
from volunteer_app.models import (
    Event,
    EventStatus,
    OrgLevel,
    OrgUnit,
    Shift,
    ShiftLead,
    Signup,
    SignupStatus,
    User,
    VolunteerProfile,
)
from volunteer_app.timeutil import utcnow

LEAD_PHONE = "13800000005"
ORGANISER_PHONE = "13800000004"  # organiser of 环秀街道, the host of every bench event

BENCH_TABLES = {
    "bench_scans": (
        "CREATE TABLE bench_scans (id {pk}, nonce VARCHAR(64) NOT NULL, "
        "token VARCHAR(80) NOT NULL, scanned_at BIGINT, created_at TIMESTAMP NOT NULL)"
    ),
    "bench_signups": (
        "CREATE TABLE bench_signups (id {pk}, shift_id INTEGER NOT NULL, "
        "user_id INTEGER NOT NULL, created_at TIMESTAMP NOT NULL)"
    ),
}


def _event(host: OrgUnit, area: OrgUnit, title: str, starts, ends) -> Event:
    event = Event(
        host_id=host.id,
        area_id=area.id,
        title=title,
        description="bench",
        category="env_sanitation",
        address="即墨区",
        status=EventStatus.PUBLISHED,
        starts_at=starts,
        ends_at=ends,
    )
    db.session.add(event)
    db.session.flush()
    return event


def _shift(event: Event, post: str, starts, ends, **values) -> Shift:
    shift = Shift(
        event_id=event.id,
        post=post,
        starts_at=starts,
        ends_at=ends,
        checkin_opens_minutes=120,
        checkin_closes_minutes=120,
        **values,
    )
    db.session.add(shift)
    db.session.flush()
    return shift


def _confirm(shift: Shift, user_ids: list[int], now) -> None:
    rows = [
        {
            "shift_id": shift.id,
            "user_id": uid,
            "status": SignupStatus.CONFIRMED.value,
            "queued_at": now,
            "created_at": now,
            "over_capacity": False,
            "source": "self",
        }
        for uid in user_ids
    ]
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(Signup), rows[start : start + 5000])
    shift.taken = len(user_ids)


def resync_sequences() -> list[str]:
    """PostgreSQL: the scale seed inserts users, events and shifts with explicit ids, which
    leaves their id sequences behind (the next ORM insert fails on the primary key); move
    every id sequence past the largest id. Nothing to do on SQLite."""
    if db.engine.dialect.name != "postgresql":
        return []
    moved = []
    for table in db.metadata.sorted_tables:
        column = table.c.get("id")
        if column is None or not column.primary_key or not column.autoincrement:
            continue
        sequence = db.session.scalar(
            text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}
        )
        if sequence is None:
            continue
        db.session.execute(
            text(
                f"SELECT setval(:s, COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"  # noqa: S608
            ),
            {"s": sequence},
        )
        moved.append(table.name)
    db.session.commit()
    return moved


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkin-shifts", type=int, required=True)
    parser.add_argument("--checkin-per-shift", type=int, default=500)
    parser.add_argument("--roster", type=int, default=500)
    parser.add_argument("--storm", type=int, required=True)
    parser.add_argument("--sustained-shifts", type=int, required=True)
    parser.add_argument("--inprocess-checkin", type=int, default=0)
    parser.add_argument("--inprocess-signup-shifts", type=int, default=0)
    parser.add_argument("--inprocess-volunteers", type=int, default=0)
    args = parser.parse_args()

    app = create_app()
    with app.app_context():
        resync_sequences()
        seed_accounts(app.config["DEMO_PASSWORD"])
        now = utcnow().replace(microsecond=0)
        town = find_node((data.DISTRICT, "环秀街道"))
        community = db.session.scalar(
            select(OrgUnit)
            .where(OrgUnit.parent_id == town.id, OrgUnit.level == OrgLevel.COMMUNITY)
            .order_by(OrgUnit.id)
        )
        lead = db.session.scalar(select(User).where(User.phone == LEAD_PHONE))
        volunteers = db.session.execute(
            select(User.id, User.phone)
            .join(VolunteerProfile, VolunteerProfile.user_id == User.id)
            .where(User.phone.like("16%"))
            .order_by(User.id)
        ).all()
        need = (
            args.checkin_shifts * args.checkin_per_shift
            + args.roster
            + args.storm
            + args.inprocess_checkin
            + args.inprocess_volunteers
        )
        if len(volunteers) < need:
            raise SystemExit(f"fixtures need {need} seeded volunteers, found {len(volunteers)}")
        pool = iter(volunteers)

        def take(n: int) -> list[tuple[int, str]]:
            return [next(pool) for _ in range(n)]

        # Check-in: shifts open now (window from 2 h before the start to 2 h after the end).
        checkin = []
        event = _event(town, community, "基准测试·扫码签到", now - timedelta(hours=1), now)
        for k in range(args.checkin_shifts):
            shift = _shift(
                event,
                f"签到岗{k + 1}",
                now - timedelta(hours=1),
                now + timedelta(hours=6),
                capacity=args.checkin_per_shift,
                waitlist_enabled=False,
                waitlist_limit=0,
            )
            db.session.add(ShiftLead(shift_id=shift.id, user_id=lead.id))
            members = take(args.checkin_per_shift)
            _confirm(shift, [uid for uid, _p in members], now)
            checkin.append({"shift": shift.id, "users": [uid for uid, _p in members]})
        event.ends_at = now + timedelta(hours=6)

        # Roster: one shift with 500 confirmed sign-ups, two days ahead.
        day = now + timedelta(days=2)
        event = _event(town, community, "基准测试·名单", day, day + timedelta(hours=3))
        roster = _shift(event, "名单岗", day, day + timedelta(hours=3), capacity=args.roster)
        _confirm(roster, [uid for uid, _p in take(args.roster)], now)

        # The storm: 50 places and a waitlist of 20, three days ahead.
        day = now + timedelta(days=3)
        event = _event(town, community, "基准测试·抢报名", day, day + timedelta(hours=3))
        storm = _shift(
            event,
            "抢报岗",
            day,
            day + timedelta(hours=3),
            capacity=50,
            waitlist_enabled=True,
            waitlist_limit=20,
        )
        storm_people = take(args.storm)

        # Sustained sign-ups: one shift a day from four days ahead, room for everyone;
        # the baseline app's twins get the same capacity.
        first = now + timedelta(days=4)
        event = _event(town, community, "基准测试·持续报名", first, first)
        twins = _event(town, community, "基准测试·基线", first, first)
        sustained, baseline = [], []
        for k in range(args.sustained_shifts):
            day = first + timedelta(days=k)
            for ev, out in ((event, sustained), (twins, baseline)):
                shift = _shift(
                    ev,
                    f"报名岗{k + 1}",
                    day,
                    day + timedelta(hours=3),
                    capacity=1_000_000,
                    waitlist_enabled=False,
                    waitlist_limit=0,
                )
                out.append(shift.id)
        event.ends_at = twins.ends_at = first + timedelta(days=args.sustained_shifts)

        # In-process figures: a check-in shift of their own, and sign-up shifts one a day
        # after the sustained ones (no overlap with any other sign-up of the bench).
        inprocess: dict = {"checkin_shift": None, "checkin_users": [], "signup_shifts": []}
        if args.inprocess_checkin:
            event = _event(town, community, "基准测试·进程内签到", now - timedelta(hours=1), now)
            shift = _shift(
                event,
                "进程内签到岗",
                now - timedelta(hours=1),
                now + timedelta(hours=6),
                capacity=args.inprocess_checkin,
                waitlist_enabled=False,
                waitlist_limit=0,
            )
            db.session.add(ShiftLead(shift_id=shift.id, user_id=lead.id))
            members = take(args.inprocess_checkin)
            _confirm(shift, [uid for uid, _p in members], now)
            event.ends_at = now + timedelta(hours=6)
            inprocess["checkin_shift"] = shift.id
            inprocess["checkin_users"] = [uid for uid, _p in members]
        if args.inprocess_signup_shifts and args.inprocess_volunteers:
            first = now + timedelta(days=args.sustained_shifts + 10)
            event = _event(town, community, "基准测试·进程内报名", first, first)
            for k in range(args.inprocess_signup_shifts):
                day = first + timedelta(days=k)
                shift = _shift(
                    event,
                    f"进程内报名岗{k + 1}",
                    day,
                    day + timedelta(hours=3),
                    capacity=1_000_000,
                    waitlist_enabled=False,
                    waitlist_limit=0,
                )
                inprocess["signup_shifts"].append(shift.id)
            event.ends_at = first + timedelta(days=args.inprocess_signup_shifts)
            people = take(args.inprocess_volunteers)
            inprocess["signup_phones"] = [p for _uid, p in people]

        dialect = db.engine.dialect.name
        pk = "INTEGER PRIMARY KEY" if dialect == "sqlite" else "SERIAL PRIMARY KEY"
        for name, ddl in BENCH_TABLES.items():
            db.session.execute(text(f"DROP TABLE IF EXISTS {name}"))
            db.session.execute(text(ddl.format(pk=pk)))
        db.session.commit()
        if dialect == "postgresql":
            # What autovacuum does soon after a bulk load anyway; without it the planner's
            # choices (the baselines' above all) depend on whether it has run yet. SQLite
            # gets no ANALYZE: the app never runs one.
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        print(
            json.dumps(
                {
                    "lead_phone": LEAD_PHONE,
                    "organiser_phone": ORGANISER_PHONE,
                    "checkin": checkin,
                    "roster_shift": roster.id,
                    "storm_shift": storm.id,
                    "storm_phones": [p for _uid, p in storm_people],
                    "storm_users": [uid for uid, _p in storm_people],
                    "sustained_shifts": sustained,
                    "baseline_shifts": baseline,
                    "inprocess": inprocess,
                }
            )
        )


if __name__ == "__main__":
    main()
