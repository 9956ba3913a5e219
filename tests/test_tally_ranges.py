"""Custom date ranges count exact days (whole months from the tallies, the days around them
from the ledger) and equal a brute-force sum over the ledger; "all time" counts everything;
an invalid range says so on the page instead of silently showing another period."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.test_tallies import approved
from volunteer_app import tallies
from volunteer_app.extensions import db
from volunteer_app.models import (
    OrgUnit,
    RecordKind,
    RecordStatus,
    Role,
    ServiceRecord,
    VolunteerProfile,
)
from volunteer_app.tallies import period_for
from volunteer_app.timeutil import from_local, to_local

#: Tests here confirm and approve as one organiser; four eyes is tested in test_national_record.
pytestmark = pytest.mark.config(FOUR_EYES_APPROVAL=False)

TODAY = date(2026, 9, 15)
RANGES = [
    (date(2026, 3, 17), date(2026, 8, 2)),  # the example: partial months at both ends
    (date(2026, 3, 5), date(2026, 3, 20)),  # inside one month
    (date(2026, 3, 1), date(2026, 5, 31)),  # whole months
    (date(2025, 12, 31), date(2026, 1, 1)),  # two days across the new year
    (date(2026, 2, 28), date(2026, 3, 1)),
    (date(2026, 8, 3), date(2026, 8, 3)),
]
DAYS = [
    date(2025, 12, 31),
    date(2026, 1, 1),
    date(2026, 2, 28),
    date(2026, 3, 1),
    date(2026, 3, 16),
    date(2026, 3, 17),
    date(2026, 3, 20),
    date(2026, 3, 21),
    date(2026, 5, 31),
    date(2026, 6, 15),
    date(2026, 8, 2),
    date(2026, 8, 3),
]


@pytest.fixture
def spread(app, tree, make_volunteer):
    """Volunteers (members and not) with records on the days around every range's edges,
    corrections among them, registered on edge days too."""
    homes = [tree.community_a1, tree.community_a2, tree.community_b1]
    users = []
    for i in range(6):
        user = make_volunteer(homes[i % 3], party=i % 2 == 0)
        user.created_at = from_local(
            datetime.combine(DAYS[(i * 5) % len(DAYS)], datetime.min.time())
            + timedelta(hours=23, minutes=30)
        )
        users.append(user)
    db.session.commit()
    hosts = [tree.town_a, tree.town_b, tree.youth_league]
    for n, day in enumerate(DAYS):
        for k, user in enumerate(users):
            if (n + k) % 3:
                continue
            profile = db.session.get(VolunteerProfile, user.id)
            record = approved(
                user,
                community=profile.community,
                branch=profile.branch,
                host=hosts[(n + k) % 3],
                day=day,
                minutes=30 + 7 * n + k,
                category=("env_sanitation", "traffic_order")[(n + k) % 2],
                political=profile.political_status.value,
            )
            if (n + k) % 4 == 0:
                approved(
                    user,
                    community=profile.community,
                    branch=profile.branch,
                    host=hosts[(n + k) % 3],
                    day=day,
                    minutes=-record.minutes,  # taken back: this volunteer did not serve here
                    category=record.category,
                    political=profile.political_status.value,
                    kind=RecordKind.CORRECTION,
                )
    db.session.commit()
    return users


def brute_force(dim, node, start: date, end: date, political=None, category=None):
    """(minutes, sessions, volunteers, new registrations) at the node over [start, end],
    straight from the ledger and the accounts."""
    below = {n.id for n in db.session.scalars(select(OrgUnit)) if n.path.startswith(node.path)}
    minutes = sessions = 0
    per_user: dict[int, int] = defaultdict(int)
    for r in db.session.scalars(
        select(ServiceRecord).where(ServiceRecord.status == RecordStatus.APPROVED)
    ):
        unit = {"area": r.community_id, "party": r.branch_id, "host": r.host_id}[dim]
        if unit not in below or not start <= r.service_date <= end:
            continue
        if political and r.political_status != political:
            continue
        per_user[r.user_id] += r.minutes
        if category and r.category != category:
            continue
        minutes += r.minutes
        sessions += r.kind is not RecordKind.CORRECTION
    volunteers = sum(1 for m in per_user.values() if m > 0) if dim != "host" else 0
    new = 0
    if dim != "host":
        for profile in db.session.scalars(select(VolunteerProfile)):
            home = profile.community_id if dim == "area" else profile.branch_id
            if home not in below or (political and profile.political_status.value != political):
                continue
            new += start <= to_local(profile.user.created_at).date() <= end
    return minutes, sessions, volunteers, new


def test_custom_ranges_count_exact_days_equal_to_a_brute_force_sum(app, tree, spread):
    nodes = list(db.session.scalars(select(OrgUnit).order_by(OrgUnit.id)))
    for start, end in RANGES:
        period = period_for("custom", TODAY, start, end)
        for dim in tallies.DIMENSIONS:
            for political in (None, "01", "13"):
                got = tallies.figures(dim, [n.id for n in nodes], period, political=political)
                for node in nodes:
                    f = got[node.id]
                    want = brute_force(dim, node, start, end, political)
                    have = (f.minutes, f.sessions, f.volunteers if dim != "host" else 0)
                    have += (f.new_registrations,)
                    assert have == want, (start, end, dim, political, node.name)
            got = tallies.figures(dim, [tree.district.id], period, category="traffic_order")
            want = brute_force(dim, tree.district, start, end, category="traffic_order")
            assert (got[tree.district.id].minutes, got[tree.district.id].sessions) == want[:2]
        per_category = tallies.by_category("area", tree.district.id, period)
        for category in ("env_sanitation", "traffic_order"):
            want = brute_force("area", tree.district, start, end, category=category)[0]
            assert per_category.get(category, 0) == want, (start, end, category)
        minutes = tallies.person_minutes("area", tree.community_a1.id, period, None)
        for user in spread:
            want = sum(
                r.minutes
                for r in db.session.scalars(
                    select(ServiceRecord).where(
                        ServiceRecord.user_id == user.id,
                        ServiceRecord.community_id == tree.community_a1.id,
                        ServiceRecord.status == RecordStatus.APPROVED,
                        ServiceRecord.service_date.between(start, end),
                    )
                )
            )
            assert minutes.get(user.id, 0) == want
    # The same after a rebuild of the tallies.
    tallies.rebuild_tallies()
    db.session.commit()
    start, end = RANGES[0]
    period = period_for("custom", TODAY, start, end)
    got = tallies.figures("area", [tree.district.id], period, political="01")[tree.district.id]
    want = brute_force("area", tree.district, start, end, "01")
    assert (got.minutes, got.sessions, got.volunteers, got.new_registrations) == want


def test_all_time_counts_every_approved_record(app, tree, spread):
    period = period_for("all", TODAY)
    for dim in tallies.DIMENSIONS:
        for political in (None, "01"):
            got = tallies.figures(dim, [tree.district.id], period, political=political)
            f = got[tree.district.id]
            want = brute_force(dim, tree.district, date(1900, 1, 1), date(2999, 12, 31), political)
            assert (f.minutes, f.sessions, f.volunteers if dim != "host" else 0) == want[:3]


def test_the_page_shows_exact_days_and_all_time(login_as, tree, spread):
    client, _ = login_as(Role.ADMIN, tree.district)
    start, end = RANGES[0]
    html = client.get(f"/tallies/?period=custom&start={start}&end={end}").get_data(True)
    assert "2026-03-17 – 2026-08-02" in html
    minutes = brute_force("area", tree.district, start, end)[0]
    assert f'data-testid="fig-hours">{minutes / 60:,.1f}<' in html
    export = client.get(f"/tallies/?period=custom&start={start}&end={end}&format=csv")
    assert (
        export.status_code == 200 and "20260317-20260802" in export.headers["Content-Disposition"]
    )
    html = client.get("/tallies/?period=all").get_data(True)
    assert "全部时间" in html
    minutes = brute_force("area", tree.district, date(1900, 1, 1), date(2999, 12, 31))[0]
    assert f'data-testid="fig-hours">{minutes / 60:,.1f}<' in html
    assert client.get("/tallies/leaderboard?period=all").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "period=custom&start=2026-03-10&end=2026-02-20",  # reversed
        "period=custom&start=2026-03-10",  # half a range
        "period=custom&start=2016-01-01&end=2026-02-20",  # too long
        "period=custom&start=2026-02-30&end=2026-03-01",  # no such day
        "period=custom&start=2026-02-01&end=2026-03-01&political=*",  # tampered
    ],
)
def test_an_invalid_range_says_so_on_the_page(login_as, tree, query):
    client, _ = login_as(Role.ORGANISER, tree.town_a)
    response = client.get(f"/tallies/?{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-testid="period-fallback"' in html
    assert "近12个月" in html.split('data-testid="period-fallback"', 1)[1][:300]
    assert "Not a valid" not in html
