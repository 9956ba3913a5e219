"""tally_ratio, measured in-process (no HTTP): the year's figures of every town and the
district (area tree) and of every Party committee and the Party root (Party tree), by
tallies.figures, against the same numbers computed by raw GROUP BYs over the
ledger and the profiles, with only the ordinary indexes, joined to the org paths the naive
way (`node.path LIKE ancestor.path || '%'`). Both warm (one untimed pass first), median of
`--repeat` passes, same database, same process. The two answers are compared."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text

from volunteer_app import create_app, tallies
from volunteer_app.extensions import db
from volunteer_app.models import OrgLevel, OrgUnit
from volunteer_app.tallies import queries as tallies_queries
from volunteer_app.timeutil import from_local, local_today

# The ledger side: one GROUP BY per tree over the approved rows of the year.
LEDGER_SQL = """
SELECT a.id AS node_id, SUM(r.minutes) AS minutes,
       SUM(CASE WHEN r.kind = 'correction' THEN 0 ELSE 1 END) AS sessions,
       COUNT(DISTINCT r.user_id) AS volunteers
FROM service_records r
JOIN org_units n ON n.id = r.{column}
JOIN org_units a ON n.path LIKE a.path || '%'
WHERE r.status = 'approved' AND r.service_date >= :start AND r.service_date < :end
  AND a.id IN ({ids})
GROUP BY a.id
"""

# Registered volunteers (and new in the period) below each node, the same naive way.
PEOPLE_SQL = """
SELECT a.id AS node_id, COUNT(*) AS registered,
       SUM(CASE WHEN u.created_at BETWEEN :since AND :until THEN 1 ELSE 0 END) AS new
FROM volunteer_profiles p
JOIN users u ON u.id = p.user_id
JOIN org_units n ON n.id = p.{column}
JOIN org_units a ON n.path LIKE a.path || '%'
WHERE u.deleted_at IS NULL AND p.consented_at IS NOT NULL AND a.id IN ({ids})
GROUP BY a.id
"""

COLUMNS = {"area": ("community_id", "community_id"), "party": ("branch_id", "branch_id")}


def raw_figures(dim: str, node_ids: list[int], period: tallies.Period) -> dict[int, tuple]:
    ledger_column, profile_column = COLUMNS[dim]
    ids = ", ".join(str(int(i)) for i in node_ids)
    out = {i: [0, 0, 0, 0, 0] for i in node_ids}
    params = {"start": period.start_date, "end": period.end_date}
    for node_id, minutes, sessions, people in db.session.execute(
        text(LEDGER_SQL.format(column=ledger_column, ids=ids)), params
    ):
        out[node_id][0:3] = [int(minutes or 0), int(sessions or 0), int(people or 0)]
    since = from_local(datetime.combine(period.start_date, dtime()))
    until = from_local(datetime.combine(period.end_date, dtime()))
    for node_id, registered, new in db.session.execute(
        text(PEOPLE_SQL.format(column=profile_column, ids=ids)),
        {"since": since, "until": until},
    ):
        out[node_id][3:5] = [int(registered or 0), int(new or 0)]
    return {k: tuple(v) for k, v in out.items()}


def app_figures(dim: str, node_ids: list[int], period: tallies.Period) -> dict[int, tuple]:
    return {
        k: (f.minutes, f.sessions, f.volunteers, f.registered, f.new_registrations)
        for k, f in tallies.figures(dim, node_ids, period).items()
    }


def timed(fn, nodes: dict[str, list[int]], period, repeat: int) -> tuple[float, list, dict]:
    fn("area", nodes["area"], period)  # warm
    fn("party", nodes["party"], period)
    times, answer = [], {}
    for _ in range(repeat):
        started = time.perf_counter()
        answer = {dim: fn(dim, ids, period) for dim, ids in nodes.items()}
        times.append(time.perf_counter() - started)
        db.session.rollback()  # a fresh transaction per pass, as a request would have
    return statistics.median(times), times, answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-repeat", type=int, default=3)
    args = parser.parse_args()
    app = create_app()
    with app.app_context():
        period = tallies.period_for("year", local_today())

        def ids(*levels: OrgLevel) -> list[int]:
            return list(
                db.session.scalars(
                    select(OrgUnit.id).where(OrgUnit.level.in_(levels)).order_by(OrgUnit.id)
                )
            )

        nodes = {
            "area": ids(OrgLevel.TOWN, OrgLevel.DISTRICT),
            "party": ids(OrgLevel.PARTY_COMMITTEE, OrgLevel.PARTY_ROOT),
        }
        app_s, app_times, app_answer = timed(app_figures, nodes, period, args.repeat)
        base_s, base_times, base_answer = timed(raw_figures, nodes, period, args.baseline_repeat)
        # Per part of figures(), to show where the time goes.
        parts = {}
        for dim, node_ids in nodes.items():
            started = time.perf_counter()
            blank = {i: tallies.Figures() for i in node_ids}
            tallies_queries._registrations(dim, node_ids, period, None, blank)
            parts[f"{dim}_registrations_ms"] = round((time.perf_counter() - started) * 1000, 2)
        db.session.rollback()
        differ = [
            f"{dim} {node}: app {app_answer[dim][node]} raw {base_answer[dim][node]}"
            for dim in nodes
            for node in nodes[dim]
            if app_answer[dim][node] != base_answer[dim][node]
        ]
        print(
            json.dumps(
                {
                    "period": [period.first, period.last],
                    "nodes": {k: len(v) for k, v in nodes.items()},
                    "app_ms": round(app_s * 1000, 2),
                    "app_times_ms": [round(t * 1000, 2) for t in app_times],
                    "baseline_ms": round(base_s * 1000, 2),
                    "baseline_times_ms": [round(t * 1000, 2) for t in base_times],
                    "ratio": app_s / base_s if base_s else None,
                    "parts": parts,
                    "agree": not differ,
                    "differences": differ[:10],
                }
            )
        )


if __name__ == "__main__":
    main()
