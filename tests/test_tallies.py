"""Tallies: roll-ups equal the ledger, periods, scope of every page and export, charts with
tables, the 双报到 split, leaderboards, and no query per row."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime

import pytest
from concurrency import run_concurrently
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, inspect, select, update

from volunteer_app import hours, tallies
from volunteer_app.extensions import db
from volunteer_app.models import (
    AuditLog,
    OrgLevel,
    OrgUnit,
    RecordKind,
    RecordStatus,
    Role,
    ServiceRecord,
    TallyCell,
    TallyPerson,
    TallyServed,
    User,
    VolunteerProfile,
)
from volunteer_app.services import charts, orgs
from volunteer_app.tallies import Period, period_for, quarter_period
from volunteer_app.tallies.web import mask_name
from volunteer_app.timeutil import from_local, utcnow

#: These tests pin other rules; the four-eyes rule: tests/test_national_record.py.
pytestmark = pytest.mark.config(FOUR_EYES_APPROVAL=False)

CATEGORIES = ("env_sanitation", "traffic_order", "other")
DAYS = (
    date(2025, 11, 3),
    date(2025, 12, 31),
    date(2026, 1, 1),
    date(2026, 2, 14),
    date(2026, 3, 31),
    date(2026, 6, 1),
)
PERIODS = (
    Period(202601, 202601, "month"),
    quarter_period(2026, 1),
    period_for("year", date(2026, 5, 1)),
    Period(202511, 202603, "custom"),
)
#: A custom range covering every day above, for page tests independent of today.
ALL_TIME = "period=custom&start=2025-11-01&end=2026-06-30"


def approved(
    user: User,
    *,
    community: OrgUnit | None,
    host: OrgUnit,
    day: date,
    minutes: int,
    branch: OrgUnit | None = None,
    category: str = "env_sanitation",
    political: str = "13",
    kind: RecordKind = RecordKind.MANUAL,
    service_area: OrgUnit | None = None,
    status: RecordStatus = RecordStatus.APPROVED,
) -> ServiceRecord:
    """An approved ledger row entered into the tallies (as hours.decide does)."""
    record = ServiceRecord(
        user_id=user.id,
        kind=kind,
        status=status,
        activity="街巷清洁",
        service_date=day,
        minutes=minutes,
        community_id=community.id if community else None,
        branch_id=branch.id if branch else None,
        host_id=host.id,
        service_area_id=service_area.id if service_area else None,
        category=category,
        political_status=political,
    )
    db.session.add(record)
    db.session.flush()
    if status is RecordStatus.APPROVED:
        tallies.apply_to_tallies(record)
    return record


def _tally_tables() -> dict[str, set]:
    """Every non-zero row of the tally tables, without ids."""
    return {
        model.__tablename__: {
            tuple(getattr(row, c.name) for c in model.__table__.columns if c.name != "id")
            for row in db.session.scalars(select(model))
            if getattr(row, "minutes", getattr(row, "people", 1)) or getattr(row, "sessions", 0)
        }
        for model in (TallyCell, TallyPerson, TallyServed)
    }


def reset_ledger() -> None:
    db.session.execute(delete(TallyCell))
    db.session.execute(delete(TallyPerson))
    db.session.execute(delete(TallyServed))
    db.session.execute(update(ServiceRecord).values(corrects_id=None))
    db.session.execute(delete(ServiceRecord))
    db.session.execute(update(VolunteerProfile).values(approved_minutes=0))
    db.session.flush()


def all_nodes() -> list[OrgUnit]:
    return list(db.session.scalars(select(OrgUnit).order_by(OrgUnit.id)))


# ---------------------------------------------------------------- periods


def test_period_for_month_quarter_year_and_custom_boundaries():
    month = period_for("month", date(2026, 12, 31))
    assert (month.first, month.last, month.kind) == (202612, 202612, "month")
    assert month.start_date == date(2026, 12, 1)
    assert month.end_date == date(2027, 1, 1)
    assert period_for("month", date(2026, 1, 1)).end_date == date(2026, 2, 1)

    for day, first, last in [
        (date(2026, 1, 1), 202601, 202603),
        (date(2026, 3, 31), 202601, 202603),
        (date(2026, 4, 1), 202604, 202606),
        (date(2026, 11, 15), 202610, 202612),
    ]:
        quarter = period_for("quarter", day)
        assert (quarter.first, quarter.last) == (first, last), day
    assert period_for("quarter", date(2026, 12, 31)).end_date == date(2027, 1, 1)
    assert quarter_period(2026, 4) == Period(202610, 202612, "quarter")
    assert quarter_period(2026, 1).months() == [202601, 202602, 202603]

    year = period_for("year", date(2026, 7, 9))
    assert (year.first, year.last) == (202601, 202612)
    assert (year.start_date, year.end_date) == (date(2026, 1, 1), date(2027, 1, 1))
    assert len(year.months()) == 12

    custom = period_for("custom", date(2026, 7, 9), date(2025, 11, 30), date(2026, 2, 1))
    assert (custom.first, custom.last, custom.kind) == (202511, 202602, "custom")
    assert custom.months() == [202511, 202512, 202601, 202602]
    # Exact days: the whole months inside from the tallies, the days around from the ledger.
    assert (custom.start_date, custom.end_date) == (date(2025, 11, 30), date(2026, 2, 2))
    assert custom.whole_months() == (202512, 202601)
    assert custom.edges() == [
        (date(2025, 11, 30), date(2025, 12, 1)),
        (date(2026, 2, 1), date(2026, 2, 2)),
    ]
    aligned = period_for("custom", date(2026, 7, 9), date(2026, 4, 1), date(2026, 6, 30))
    assert aligned.whole_months() == (202604, 202606) and aligned.edges() == []
    inside = period_for("custom", date(2026, 7, 9), date(2026, 3, 5), date(2026, 3, 20))
    assert inside.whole_months() is None
    assert inside.edges() == [(date(2026, 3, 5), date(2026, 3, 21))]
    assert period_for("all", date(2026, 7, 9)).kind == "all"
    # A range ending before it starts (or half a range) is not a custom period.
    assert period_for("custom", date(2026, 7, 9), date(2026, 3, 1), date(2026, 2, 1)).kind == "year"
    assert period_for("custom", date(2026, 7, 9), date(2026, 3, 1), None).kind == "year"


def test_custom_period_on_the_page_and_a_reversed_range_is_refused(login_as, tree):
    client, _ = login_as(Role.ORGANISER, tree.town_a)
    html = client.get("/tallies/?period=custom&start=2026-01-10&end=2026-02-20").get_data(True)
    assert "2026-01-10 – 2026-02-20" in html
    html = client.get("/tallies/?period=custom&start=2026-01-01&end=2026-02-28").get_data(True)
    assert "2026-01 – 2026-02" in html
    html = client.get("/tallies/?period=custom&start=2026-03-10&end=2026-02-20").get_data(True)
    assert "is-invalid" in html  # the form says why, and the page falls back to this month
    assert 'data-testid="period-fallback"' in html


# ---------------------------------------------------------------- roll-ups against the ledger


@pytest.fixture
def people(app, tree, make_volunteer):
    """Six volunteers: even ones Party members of the branch; known registration times."""
    homes = [tree.community_a1, tree.community_a2, tree.community_b1]
    users = []
    for i in range(6):
        user = make_volunteer(homes[i % 3], party=i % 2 == 0)
        user.created_at = from_local(
            datetime(2025, 12, 2, 10) if i < 3 else datetime(2026, 2, 5, 9)
        )
        users.append(user)
    db.session.commit()
    return users


def brute_force(records, profiles, nodes, dim, node, period, category=None, political=None):
    """Figures for one node, summed in Python from the ledger rows and the profiles."""
    by_id = {n.id: n for n in nodes}
    minutes = sessions = 0
    person_month: dict[tuple[int, int], int] = defaultdict(int)
    for r in records:
        attr = {"area": r.community_id, "party": r.branch_id, "host": r.host_id}[dim]
        if attr is None or node.id not in by_id[attr].ancestor_ids:
            continue
        month = r.service_date.year * 100 + r.service_date.month
        if not period.first <= month <= period.last:
            continue
        if political and r.political_status != political:
            continue
        person_month[(r.user_id, month)] += r.minutes
        if category and r.category != category:
            continue
        minutes += r.minutes
        sessions += r.kind is not RecordKind.CORRECTION
    volunteers = registered = new = 0
    if dim != "host":
        if not category:
            # Served: net approved minutes over the whole period are positive.
            per_user = defaultdict(int)
            for (user, _m), total in person_month.items():
                per_user[user] += total
            volunteers = sum(1 for total in per_user.values() if total > 0)
        start = from_local(datetime.combine(period.start_date, datetime.min.time()))
        end = from_local(datetime.combine(period.end_date, datetime.min.time()))
        for profile, created in profiles:
            home = profile.community_id if dim == "area" else profile.branch_id
            if home is None or node.id not in by_id[home].ancestor_ids:
                continue
            if political and profile.political_status.value != political:
                continue
            registered += 1
            new += start <= created < end
    return minutes, sessions, volunteers, registered, new


record_rows = st.lists(
    st.tuples(
        st.integers(0, 5),  # volunteer
        st.integers(0, 3),  # residence snapshot: their home, or another community (moved)
        st.integers(0, 3),  # host
        st.sampled_from(DAYS),
        st.integers(1, 600),
        st.sampled_from(CATEGORIES),
        st.integers(-1, 1),  # -1: a correction taking minutes away, 1: one adding
    ),
    max_size=20,
)


def test_rollups_equal_a_brute_force_sum_over_random_ledger_rows(app, tree, people):
    communities = [tree.community_a1, tree.community_a2, tree.community_b1]
    hosts = [tree.town_a, tree.town_b, tree.youth_league, tree.womens_federation]
    profiles = {p.user_id: p for p in db.session.scalars(select(VolunteerProfile))}
    registrations = [(profiles[u.id], u.created_at) for u in people]
    nodes = all_nodes()

    @settings(max_examples=12, deadline=None, database=None)
    @given(rows=record_rows)
    def check(rows):
        reset_ledger()
        records = []
        for who, moved, host, day, minutes, category, correction in rows:
            user = people[who]
            profile = profiles[user.id]
            home = communities[moved] if moved < 3 else profile.community
            kind = RecordKind.MANUAL
            if correction and records:
                kind, minutes = RecordKind.CORRECTION, correction * (minutes // 3 + 1)
            records.append(
                approved(
                    user,
                    community=home,
                    branch=profile.branch,
                    host=hosts[host],
                    day=day,
                    minutes=minutes,
                    category=category,
                    political=profile.political_status.value,
                    kind=kind,
                )
            )
        db.session.commit()  # verify_tallies ends with a rollback of its scratch table
        assert tallies.verify_tallies() == []
        # The bulk rebuild (seed scale, `flask tallies rebuild`) gives the same tables.
        kept = _tally_tables()
        tallies.rebuild_tallies()
        db.session.commit()
        assert _tally_tables() == kept
        assert tallies.verify_tallies() == []
        ids = [n.id for n in nodes]
        for dim in tallies.DIMENSIONS:
            for period in PERIODS:
                got = tallies.figures(dim, ids, period)
                for node in nodes:
                    f = got[node.id]
                    actual = (f.minutes, f.sessions, f.volunteers, f.registered)
                    actual += (f.new_registrations,)
                    want = brute_force(records, registrations, nodes, dim, node, period)
                    assert actual == want, (dim, node.name, period)
            period = PERIODS[-1]
            for category, political in (("traffic_order", None), (None, "01"), ("other", "13")):
                got = tallies.figures(dim, ids, period, category=category, political=political)
                for node in nodes:
                    f = got[node.id]
                    actual = (f.minutes, f.sessions, f.volunteers, f.registered)
                    actual += (f.new_registrations,)
                    want = brute_force(
                        records, registrations, nodes, dim, node, period, category, political
                    )
                    assert actual == want, (dim, node.name, category, political)
        # The monthly trend and the categories of the district add up to its figures.
        district = tallies.figures("area", [tree.district.id], PERIODS[-1])[tree.district.id]
        trend = tallies.monthly("area", tree.district.id, PERIODS[-1])
        assert sum(m for _month, m in trend) == district.minutes
        assert sum(tallies.by_category("area", tree.district.id, PERIODS[-1]).values()) == (
            district.minutes
        )

    check()


def test_verify_tallies_after_random_approvals_corrections_and_rejections(
    app, tree, people, make_user
):
    organiser = make_user(Role.ORGANISER, tree.district)
    hosts = [tree.town_a, tree.town_b, tree.youth_league]
    nodes = all_nodes()

    @settings(max_examples=10, deadline=None, database=None)
    @given(
        ops=st.lists(
            st.tuples(
                st.integers(0, 5),
                st.integers(0, 2),
                st.sampled_from(DAYS),
                st.integers(1, 600),
                st.sampled_from(CATEGORIES),
                st.sampled_from(["approve", "reject", "pending"]),
                st.integers(-700, 300),  # a correction after approval (0: none)
                st.booleans(),  # is the correction approved?
            ),
            max_size=10,
        )
    )
    def check(ops):
        reset_ledger()
        now = utcnow()
        for who, host, day, minutes, category, decision, delta, approve_fix in ops:
            record = hours.add_manual(
                organiser,
                people[who],
                host=hosts[host],
                activity="补录",
                service_date=day,
                minutes=minutes,
                place="",
                content="",
                category=category,
                reason="线下服务",
                today=date(2026, 12, 31),
            )
            if decision == "pending":
                continue
            hours.decide(organiser, [record], decision == "approve", now=now)
            delta = max(delta, -hours.approved_minutes_of(record))
            if decision == "approve" and delta:
                fix = hours.add_correction(organiser, record, delta, "更正")
                hours.decide(organiser, [fix], approve_fix, now=now)
        db.session.commit()  # verify_tallies ends with a rollback of its scratch table
        assert tallies.verify_tallies() == []
        # The bulk rebuild (seed scale, `flask tallies rebuild`) gives the same tables.
        kept = _tally_tables()
        tallies.rebuild_tallies()
        db.session.commit()
        assert _tally_tables() == kept
        assert tallies.verify_tallies() == []
        ledger = list(
            db.session.scalars(
                select(ServiceRecord).where(ServiceRecord.status == RecordStatus.APPROVED)
            )
        )
        period = PERIODS[-1]
        got = tallies.figures("area", [n.id for n in nodes], period)
        for node in nodes:
            want = brute_force(ledger, [], nodes, "area", node, period)
            assert (got[node.id].minutes, got[node.id].sessions) == want[:2]
        totals = {
            p.user_id: p.approved_minutes for p in db.session.scalars(select(VolunteerProfile))
        }
        for user in people:
            assert totals[user.id] == hours.approved_minutes(user.id)

    check()


def test_concurrent_approvals_of_one_volunteer_count_them_once_as_served(
    app, tree, people, make_user
):
    organiser = make_user(Role.ORGANISER, tree.district)
    volunteer = people[0]
    records = [
        hours.add_manual(
            organiser,
            volunteer,
            host=tree.town_a,
            activity="补录",
            service_date=date(2026, 3, 2 + i),
            minutes=60,
            place="",
            content="",
            category="env_sanitation",
            reason="线下服务",
            today=date(2026, 12, 31),
        ).id
        for i in range(6)
    ]
    db.session.commit()
    organiser_id = organiser.id  # read here: a thread must not load through this session

    def job_for(record_id):
        def job():
            record = db.session.get(ServiceRecord, record_id)
            return hours.decide(db.session.get(User, organiser_id), [record], True, now=utcnow())

        return job

    results, errors = run_concurrently(app, [job_for(r) for r in records])
    assert errors == []
    assert sorted(results) == [1] * 6
    assert tallies.verify_tallies() == []
    for period in (Period(202603, 202603, "month"), quarter_period(2026, 1), PERIODS[2]):
        got = tallies.figures("area", [tree.district.id], period)[tree.district.id]
        assert (got.volunteers, got.minutes) == (1, 360)


def _people_key() -> dict | None:
    return next(
        (
            i
            for i in inspect(db.session.connection()).get_indexes("tally_people")
            if i["name"] == "uq_tally_people_key"
        ),
        None,
    )


def test_a_rebuild_builds_tally_peoples_unique_key_again_and_a_failed_one_keeps_it(
    app, tree, people, make_user, monkeypatch
):
    """The bulk rebuild loads tally_people without its unique key and builds it after the
    load, in its own transaction: the key is there afterwards (approvals upsert on it), and
    a rebuild that fails half-way leaves the key and the rows as they were."""
    organiser = make_user(Role.ORGANISER, tree.district)

    def approve(day: int, minutes: int) -> None:
        record = hours.add_manual(
            organiser,
            people[0],
            host=tree.town_a,
            activity="补录",
            service_date=date(2026, 3, day),
            minutes=minutes,
            place="",
            content="",
            category="env_sanitation",
            reason="线下服务",
            today=date(2026, 12, 31),
        )
        hours.decide(organiser, [record], True, now=utcnow())

    approve(2, 60)
    db.session.commit()
    rows = _tally_tables()
    tallies.rebuild_tallies()
    db.session.commit()
    key = _people_key()
    assert key is not None and key["unique"]
    assert key["column_names"] == ["dim", "node_id", "month", "user_id", "political"]
    assert _tally_tables() == rows

    def broken(dim: str, dialect: str) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr("volunteer_app.tallies.rebuild._rebuild_people", broken)
    with pytest.raises(RuntimeError):
        tallies.rebuild_tallies()
    db.session.rollback()
    assert _people_key() == key
    assert _tally_tables() == rows
    # An approval after both upserts on the key as before.
    approve(3, 30)
    db.session.commit()
    assert tallies.verify_tallies() == []


def test_a_registration_on_the_boundary_counts_in_one_period_only(app, tree, make_volunteer):
    user = make_volunteer(tree.community_a1)
    user.created_at = from_local(datetime(2026, 2, 1))
    db.session.commit()
    january = tallies.figures("area", [tree.community_a1.id], Period(202601, 202601, "month"))
    february = tallies.figures("area", [tree.community_a1.id], Period(202602, 202602, "month"))
    total = january[tree.community_a1.id].new_registrations
    total += february[tree.community_a1.id].new_registrations
    assert total == 1


# ---------------------------------------------------------------- scope


def _urls(tree, node: OrgUnit, dim: str = "area") -> list[str]:
    base = f"/tallies/{dim}/{node.id}"
    return [base, base + "?format=csv", base + "?format=xlsx", base + "?format=csv&table=people"]


def test_town_organiser_gets_404_outside_their_town_and_for_its_exports(login_as, tree):
    town_a, _ = login_as(Role.ORGANISER, tree.town_a)
    outside = [
        *_urls(tree, tree.town_b),
        *_urls(tree, tree.community_b1),
        *_urls(tree, tree.district),
        *_urls(tree, tree.town_b, "host"),
        *_urls(tree, tree.branch, "party"),
        f"/tallies/party/{tree.branch.id}/dual",
        f"/tallies/party/{tree.branch.id}/dual?format=xlsx",
        f"/tallies/leaderboard?area={tree.town_b.id}",
        f"/tallies/nonsense/{tree.town_a.id}",
        f"/tallies/party/{tree.town_a.id}",  # an area node is not in the Party tree
    ]
    for url in outside:
        assert town_a.get(url).status_code == 404, url
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "export.tally")) is None
    for url in [*_urls(tree, tree.town_a), *_urls(tree, tree.community_a1), "/tallies/"]:
        assert town_a.get(url).status_code == 200, url
    assert town_a.get(f"/tallies/host/{tree.town_a.id}").status_code == 200
    assert town_a.get("/tallies/leaderboard").status_code == 200


def test_branch_secretary_sees_the_party_tree_only_from_their_branch_down(login_as, tree):
    secretary, _ = login_as(Role.BRANCH_SECRETARY, tree.branch)
    for url in [
        *_urls(tree, tree.district),
        *_urls(tree, tree.town_a),
        *_urls(tree, tree.community_a1),
        *_urls(tree, tree.committee, "party"),  # above the branch
        *_urls(tree, tree.party_root, "party"),
        f"/tallies/host/{tree.branch.id}",
        f"/tallies/party/{tree.committee.id}/dual",
    ]:
        assert secretary.get(url).status_code == 404, url
    html = secretary.get("/tallies/").get_data(as_text=True)
    assert tree.branch.name in html
    assert 'data-testid="dim-area"' not in html and 'data-testid="dim-host"' not in html
    for url in [
        *_urls(tree, tree.branch, "party"),
        f"/tallies/party/{tree.branch.id}/dual",
        f"/tallies/party/{tree.branch.id}/dual?format=csv",
        "/tallies/leaderboard",
    ]:
        assert secretary.get(url).status_code == 200, url


def test_anonymous_is_sent_to_log_in_and_a_volunteer_is_refused(login_as, tree, client):
    urls = [
        "/tallies/",
        "/tallies/leaderboard",
        *_urls(tree, tree.town_a),
        f"/tallies/party/{tree.branch.id}/dual",
        f"/tallies/party/{tree.branch.id}/dual?format=xlsx",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.location, url
    volunteer, _ = login_as(None)
    for url in urls:
        assert volunteer.get(url).status_code == 403, url


def test_dimensions_offered_by_role(login_as, tree):
    admin, _ = login_as(Role.ADMIN, tree.district)
    html = admin.get("/tallies/").get_data(as_text=True)
    for dim in ("area", "party", "host"):
        assert f'data-testid="dim-{dim}"' in html
    party = admin.get("/tallies/?dim=party").get_data(as_text=True)
    assert tree.party_root.name in re.search(r"<h1.*?</h1>", party, re.S).group(0)
    league, _ = login_as(Role.ORGANISER, tree.youth_league)
    html = league.get("/tallies/").get_data(as_text=True)
    assert 'data-testid="dim-host"' in html and 'data-testid="dim-area"' not in html
    assert league.get(f"/tallies/area/{tree.community_a1.id}").status_code == 404


# ---------------------------------------------------------------- pages, charts, tables


@pytest.fixture
def ledger(app, tree, make_volunteer):
    """Approved hours in both towns, in January 2026."""
    a1 = [make_volunteer(tree.community_a1) for _ in range(3)]
    a2 = [make_volunteer(tree.community_a2)]
    b1 = [make_volunteer(tree.community_b1) for _ in range(2)]
    plan = [(a1[0], 300), (a1[1], 120), (a1[2], 45), (a2[0], 600), (b1[0], 90), (b1[1], 30)]
    for user, minutes in plan:
        community = db.session.get(VolunteerProfile, user.id).community
        approved(
            user, community=community, host=tree.town_a, day=date(2026, 1, 10), minutes=minutes
        )
    approved(
        a1[0],
        community=tree.community_a1,
        host=tree.town_a,
        day=date(2026, 1, 20),
        minutes=60,
        category="traffic_order",
    )
    db.session.commit()
    return {"a1": a1, "a2": a2, "b1": b1}


def _section(html: str, testid: str) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index("</div>", start) if "chart" in testid else None]


def test_charts_are_svg_with_a_title_and_the_table_has_the_same_numbers(login_as, tree, ledger):
    admin, _ = login_as(Role.ADMIN, tree.district)
    html = admin.get(f"/tallies/?{ALL_TIME}").get_data(as_text=True)
    chart = _section(html, "units-chart")
    assert "<svg" in chart and 'role="img"' in chart
    assert '<title id="chart-units-title">' in chart
    assert 'aria-labelledby="chart-units-title chart-units-desc"' in chart
    assert "style=" not in html.split("<main", 1)[1]
    bars = re.findall(r'class="chart-value">([^<]+)<', chart)
    table = html[html.index('data-testid="units"') :]
    table = table[: table.index("</table>")]
    cells = re.findall(r'data-testid="hours">([^<]+)<', table)
    assert bars == cells == ["18.8", "2.0"]  # 环秀街道 (a1 + a2), 潮海街道
    assert "<table" in html and 'data-testid="trend"' in html
    trend = _section(html, "trend-chart")
    assert "<svg" in trend and "<title" in trend and "20.8" in trend
    assert re.search(r"2026-01</th><td[^>]*>20\.8<", html)
    categories = _section(html, "category-chart")
    assert "<title" in categories and "19.8" in categories and "1.0" in categories


def test_chart_functions_escape_labels_and_handle_no_data():
    svg = charts.bar_chart(
        [("<script>alert(1)</script>", 3), ("东关社区", 1.5)],
        chart_id="c1",
        title="T & <b>",
        desc="D",
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert '<title id="c1-title">T &amp; &lt;b&gt;</title>' in svg
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "style=" not in svg
    empty = charts.bar_chart([], chart_id="c2", title="T", desc="D", empty_text="无数据")
    assert "无数据" in empty and "<title" in empty
    trend = charts.trend_chart(
        [("1月", 0), ("2月", 2.5)], chart_id="c3", title="T", desc="D", year_marks=["2026", ""]
    )
    assert "<polyline" in trend and "2026" in trend and 'role="img"' in trend
    assert charts.nice_max(37) == 50 and charts.nice_max(0) == 1
    assert charts.fit("中共环秀街道工作委员会", 60).endswith("…")


def test_units_are_sortable_on_the_server(login_as, tree, ledger):
    town_a, _ = login_as(Role.ORGANISER, tree.town_a)
    page = town_a.get(f"/tallies/area/{tree.town_a.id}?{ALL_TIME}&sort=hours&order=asc")
    html = page.get_data(as_text=True)
    order = re.findall(r'<tr data-node="(\d+)">', html)
    assert order == [str(tree.community_a1.id), str(tree.community_a2.id)]  # 8.75 h, 10 h
    assert 'aria-sort="ascending"' in html
    html = town_a.get(f"/tallies/area/{tree.town_a.id}?{ALL_TIME}&sort=hours").get_data(True)
    assert re.findall(r'<tr data-node="(\d+)">', html) == [
        str(tree.community_a2.id),
        str(tree.community_a1.id),
    ]
    html = town_a.get(f"/tallies/area/{tree.town_a.id}?{ALL_TIME}&sort=volunteers").get_data(True)
    assert re.findall(r'<tr data-node="(\d+)">', html)[0] == str(tree.community_a1.id)
    # The drill-down keeps the filters.
    assert f"/tallies/area/{tree.community_a1.id}?period=custom" in html


def test_a_community_page_lists_its_volunteers_masked_with_their_hours(login_as, tree, ledger):
    town_a, _ = login_as(Role.ORGANISER, tree.town_a)
    html = town_a.get(f"/tallies/area/{tree.community_a1.id}?{ALL_TIME}").get_data(True)
    people = html[html.index('data-testid="people"') :]
    for user in ledger["a1"]:
        assert f"{user.phone[:3]}****{user.phone[-4:]}" in people
        assert user.phone not in people
    assert ">6.0<" in people and ">2.0<" in people and ">0.8<" in people
    # Another month: the volunteers are listed, with no hours.
    html = town_a.get(
        f"/tallies/area/{tree.community_a1.id}?period=custom&start=2026-03-01&end=2026-03-31"
    ).get_data(True)
    assert html.count(">0.0<") >= 3


def test_leaderboard_masks_names_and_ranks_units_per_registered_volunteer(login_as, tree, ledger):
    profile = db.session.get(VolunteerProfile, ledger["a2"][0].id)
    profile.real_name = "王小明"
    db.session.commit()
    admin, _ = login_as(Role.ADMIN, tree.district)
    html = admin.get("/tallies/leaderboard?period=custom&start=2026-01-01&end=2026-01-31").get_data(
        True
    )
    assert "王*明" in html and "王小明" not in html
    leaders = html[html.index('data-testid="leaders"') :]
    assert leaders.index("王*明") < leaders.index("志*")
    ranking = html[html.index('data-testid="rank-area"') :]
    # 环秀街道: 1125 min / 4 volunteers = 4.69 h; 潮海街道: 120 min / 2 = 1.00 h.
    assert ranking.index(tree.town_a.name) < ranking.index(tree.town_b.name)
    assert "4.69" in ranking and "1.00" in ranking


def test_mask_name():
    assert mask_name("王小明") == "王*明"
    assert mask_name("欧阳小明") == "欧**明"
    assert mask_name("王明") == "王*"
    assert mask_name("王") == "王"
    assert mask_name("") == "—"


def test_host_dimension_shows_sessions_and_hours(login_as, tree, ledger):
    admin, _ = login_as(Role.ADMIN, tree.district)
    html = admin.get(f"/tallies/host/{tree.district.id}?{ALL_TIME}").get_data(True)
    assert 'data-testid="fig-hours">20.8<' in html
    assert 'data-testid="fig-volunteers"' not in html


# ---------------------------------------------------------------- 双报到


def test_dual_report_splits_home_and_elsewhere(login_as, tree, make_volunteer):
    member = make_volunteer(tree.community_a1, party=True)
    other = make_volunteer(tree.community_b1, party=True)
    outsider = make_volunteer(tree.community_a1)  # not a Party member of the branch
    grid = orgs.create_node("东关一网格", OrgLevel.COMMUNITY, tree.town_a)
    db.session.flush()
    # A node under the residence community counts as home.
    grid.parent_id, grid.path = tree.community_a1.id, f"{tree.community_a1.path}{grid.id}/"
    db.session.commit()

    def serve(user, area, minutes, day=date(2026, 2, 10), **kw):
        home = db.session.get(VolunteerProfile, user.id).community
        approved(
            user,
            community=home,
            branch=tree.branch if user is not outsider else None,
            host=tree.town_a,
            day=day,
            minutes=minutes,
            political="01",
            service_area=area,
            **kw,
        )

    serve(member, tree.community_a1, 120)  # home
    serve(member, grid, 30)  # home: inside the residence community
    serve(member, tree.community_a2, 60)  # elsewhere
    serve(member, tree.town_a, 45)  # elsewhere: the town is not inside the community
    serve(member, None, 15)  # elsewhere: no service area
    serve(member, tree.community_a1, 600, day=date(2026, 4, 1))  # next quarter
    serve(member, tree.community_a1, 999, status=RecordStatus.REJECTED)
    serve(other, tree.community_b1, 90)  # home
    serve(outsider, tree.community_a1, 500)
    db.session.commit()

    rows = {r.user_id: r for r in tallies.dual_report(tree.branch, quarter_period(2026, 1))}
    assert set(rows) == {member.id, other.id}
    assert (rows[member.id].home_minutes, rows[member.id].elsewhere_minutes) == (150, 120)
    assert (rows[other.id].home_minutes, rows[other.id].elsewhere_minutes) == (90, 0)

    secretary, _ = login_as(Role.BRANCH_SECRETARY, tree.branch)
    html = secretary.get(f"/tallies/party/{tree.branch.id}/dual?year=2026&quarter=1").get_data(True)
    row = html[html.index(f'data-user="{member.id}"') :]
    row = row[: row.index("</tr>")]
    assert 'data-testid="home">2.5<' in row and 'data-testid="away">2.0<' in row
    assert 'data-testid="home-total">4.0<' in html
    export = secretary.get(f"/tallies/party/{tree.branch.id}/dual?year=2026&quarter=1&format=csv")
    text = export.get_data().decode("utf-8-sig")
    assert "2.5,2.0,4.5" in text and "1.5,0.0,1.5" in text
    log = db.session.scalar(select(AuditLog).where(AuditLog.action == "export.tally"))
    assert log.detail["scope"] == tree.branch.id and log.detail["rows"] == 2


# ---------------------------------------------------------------- speed


def test_the_node_page_does_not_query_per_row(app, login_as, tree, ledger):
    admin, _ = login_as(Role.ADMIN, tree.district)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    def queries() -> int:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert admin.get(f"/tallies/?{ALL_TIME}").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    before = queries()
    for i in range(6):
        orgs.create_node(f"新镇{i}", OrgLevel.TOWN, tree.district)
    db.session.commit()
    after = queries()
    # At most one query (the registrations) for each further unit.
    assert after - before <= 6, (before, after)
