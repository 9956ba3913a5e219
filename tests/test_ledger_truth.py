"""The ledger and the tallies tell the exact truth: a record never goes below zero, not
even through corrections approved together or at the same moment; a volunteer counts under
the political status they had when they served (the record's snapshot), alike in the live
tallies, after a rebuild and in a brute-force count, and `tallies verify` checks every
counted column."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest
from concurrency import run_concurrently
from flask_babel import force_locale
from sqlalchemy import select, text, update

from tests.conftest import Auth
from volunteer_app import hours, tallies
from volunteer_app.extensions import db
from volunteer_app.models import (
    OrgUnit,
    PoliticalStatus,
    RecordStatus,
    Role,
    ServiceRecord,
    TallyCell,
    TallyPerson,
    TallyServed,
    User,
    VolunteerProfile,
)
from volunteer_app.services import ServiceError
from volunteer_app.tallies import Period, period_for, quarter_period
from volunteer_app.timeutil import utcnow

#: Tests here confirm and approve as one organiser; four eyes is tested in test_national_record.
pytestmark = pytest.mark.config(FOUR_EYES_APPROVAL=False)

TODAY = date(2026, 12, 31)


@pytest.fixture
def organiser(make_user, tree):
    return make_user(Role.ORGANISER, tree.district, name="区文明办")


def manual(organiser, volunteer, host, day: date, minutes: int, category: str = "other"):
    return hours.add_manual(
        organiser,
        volunteer,
        host=host,
        activity="敬老院探访",
        service_date=day,
        minutes=minutes,
        place="东关敬老院",
        content="陪伴老人",
        category=category,
        reason="纸质签到表",
        today=TODAY,
    )


def approved_record(organiser, volunteer, host, day: date, minutes: int, **kw) -> ServiceRecord:
    record = manual(organiser, volunteer, host, day, minutes, **kw)
    hours.decide(organiser, [record], True, now=utcnow())
    db.session.commit()
    return record


# ---------------------------------------------------------------- never below zero


@pytest.fixture
def two_negative_corrections(organiser, make_volunteer, tree):
    """A 120-minute approved record with two pending corrections of −120 minutes each
    (each one alone is allowed when it is added)."""
    volunteer = make_volunteer(tree.community_a1)
    record = approved_record(organiser, volunteer, tree.town_a, date(2026, 3, 2), 120)
    first = hours.add_correction(organiser, record, -120, "重复录入")
    second = hours.add_correction(organiser, record, -120, "重复录入")
    db.session.commit()
    return volunteer, record, first, second


def test_two_pending_negative_corrections_approved_together_are_refused(
    app, organiser, two_negative_corrections
):
    volunteer, record, first, second = two_negative_corrections
    with pytest.raises(ServiceError):
        hours.decide(organiser, [first, second], True, now=utcnow())
    db.session.rollback()
    assert hours.approved_minutes_of(record) == 120
    assert hours.approved_minutes(volunteer.id) == 120
    assert tallies.verify_tallies() == []


def test_the_second_negative_correction_is_refused_at_approval_with_a_chinese_message(
    app, organiser, two_negative_corrections
):
    volunteer, record, first, second = two_negative_corrections
    assert hours.decide(organiser, [first], True, now=utcnow()) == 1
    db.session.commit()
    with force_locale("zh"), pytest.raises(ServiceError) as refused:
        hours.decide(organiser, [second], True, now=utcnow())
    message = str(refused.value.messages[0])
    assert "负数" in message and "2026-03-02" in message, message
    db.session.rollback()
    assert db.session.get(ServiceRecord, second.id).status is RecordStatus.PENDING
    assert hours.approved_minutes_of(record) == 0
    assert hours.approved_minutes(volunteer.id) == 0
    district = tallies.figures("area", [record.community_id], Period(202603, 202603, "month"))
    assert district[record.community_id].minutes == 0
    # Rejecting it stays possible.
    assert hours.decide(organiser, [second], False, now=utcnow()) == 1


def test_the_approvals_page_refuses_the_negative_pair_in_chinese_and_changes_nothing(
    app, tree, two_negative_corrections, login_as
):
    _volunteer, record, first, second = two_negative_corrections
    client, _user = login_as(Role.ORGANISER, tree.district)
    response = Auth(client).post(
        "/hours/pending/decide", {"op": "approve", "record": [str(first.id), str(second.id)]}
    )
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "负数" in page
    db.session.expire_all()
    assert db.session.get(ServiceRecord, first.id).status is RecordStatus.PENDING
    assert db.session.get(ServiceRecord, second.id).status is RecordStatus.PENDING
    assert hours.approved_minutes_of(record) == 120


def test_concurrent_approvals_of_two_negative_corrections_approve_one_only(
    app, organiser, two_negative_corrections
):
    volunteer, record, first, second = two_negative_corrections
    organiser_id = organiser.id

    def job_for(record_id: int):
        def job():
            correction = db.session.get(ServiceRecord, record_id)
            actor = db.session.get(User, organiser_id)
            return hours.decide(actor, [correction], True, now=utcnow())

        return job

    results, errors = run_concurrently(app, [job_for(first.id), job_for(second.id)])
    assert errors == []
    outcomes = sorted("refused" if isinstance(r, tuple) else f"approved {r}" for r in results)
    assert outcomes == ["approved 1", "refused"]
    db.session.expire_all()
    assert hours.approved_minutes_of(record) == 0
    assert hours.approved_minutes(volunteer.id) == 0
    assert tallies.verify_tallies() == []


def test_concurrent_approvals_of_one_record_count_it_once(app, organiser, make_volunteer, tree):
    volunteer = make_volunteer(tree.community_a1)
    record = manual(organiser, volunteer, tree.town_a, date(2026, 3, 2), 90)
    db.session.commit()
    organiser_id, record_id = organiser.id, record.id

    def job():
        row = db.session.get(ServiceRecord, record_id)
        return hours.decide(db.session.get(User, organiser_id), [row], True, now=utcnow())

    results, errors = run_concurrently(app, [job, job, job])
    assert errors == []
    assert sorted(results) == [0, 0, 1]
    assert hours.approved_minutes(volunteer.id) == 90
    assert tallies.verify_tallies() == []


# ---------------------------------------------------------------- political status at service


def brute_force_served(dim: str, node: OrgUnit, period: Period, political: str | None) -> int:
    """Volunteers whose approved minutes at the node (its subtree) in the period, under the
    status asked for (from the ledger's snapshot), are above zero — straight from the
    ledger."""
    below = {n.id for n in db.session.scalars(select(OrgUnit)) if n.path.startswith(node.path)}
    per_user: dict[int, int] = defaultdict(int)
    for r in db.session.scalars(
        select(ServiceRecord).where(ServiceRecord.status == RecordStatus.APPROVED)
    ):
        home = {"area": r.community_id, "party": r.branch_id}[dim]
        month = r.service_date.year * 100 + r.service_date.month
        if home not in below or not period.first <= month <= period.last:
            continue
        if political and r.political_status != political:
            continue
        per_user[r.user_id] += r.minutes
    return sum(1 for minutes in per_user.values() if minutes > 0)


@pytest.fixture
def joined_the_party(app, organiser, make_volunteer, tree):
    """A resident (群众) serves in February, joins the Party (党员, the branch of 东关) and
    serves again in March; a lifelong member serves in March; a third volunteer served as
    群众 in February and had the time taken back by a correction."""
    from volunteer_app.services import volunteers

    changer = make_volunteer(tree.community_a1)
    member = make_volunteer(tree.community_a2, party=True)
    undone = make_volunteer(tree.community_b1)
    approved_record(organiser, changer, tree.town_a, date(2026, 2, 10), 60)
    volunteers.set_politics(changer, PoliticalStatus.CPC_MEMBER, tree.branch, now=utcnow())
    db.session.commit()
    approved_record(organiser, changer, tree.town_a, date(2026, 3, 10), 90)
    approved_record(organiser, member, tree.town_b, date(2026, 3, 11), 30)
    gone = approved_record(organiser, undone, tree.town_b, date(2026, 2, 12), 45)
    fix = hours.add_correction(organiser, gone, -45, "未到岗")
    hours.decide(organiser, [fix], True, now=utcnow())
    db.session.commit()
    return changer, member, undone


FIGURE_PERIODS = (
    Period(202602, 202602, "month"),
    Period(202603, 202603, "month"),
    quarter_period(2026, 1),
    period_for("year", date(2026, 6, 1)),
    Period(202602, 202603, "custom"),
    Period(202512, 202604, "custom"),
)


def _check_served_against_the_ledger(tree) -> None:
    nodes = list(db.session.scalars(select(OrgUnit).order_by(OrgUnit.id)))
    for dim in ("area", "party"):
        for period in FIGURE_PERIODS:
            for political in (None, PoliticalStatus.CPC_MEMBER.value, "13"):
                got = tallies.figures(dim, [n.id for n in nodes], period, political=political)
                for node in nodes:
                    want = brute_force_served(dim, node, period, political)
                    assert got[node.id].volunteers == want, (dim, node.name, period, political)


def test_status_change_then_service_counts_the_status_at_the_time_live_and_rebuilt(
    app, tree, joined_the_party
):
    q1 = quarter_period(2026, 1)
    district = tallies.figures("area", [tree.district.id], q1, political="01")[tree.district.id]
    assert district.volunteers == 2  # the changer (served as 党员 in March) and the member
    masses = tallies.figures("area", [tree.district.id], q1, political="13")[tree.district.id]
    assert masses.volunteers == 1  # the changer, as 群众 in February
    everyone = tallies.figures("area", [tree.district.id], q1)[tree.district.id]
    assert everyone.volunteers == 2  # once each, whatever their status
    _check_served_against_the_ledger(tree)
    assert tallies.verify_tallies() == []

    tallies.rebuild_tallies()
    db.session.commit()
    _check_served_against_the_ledger(tree)
    assert tallies.verify_tallies() == []


def test_live_tallies_and_the_rebuild_write_the_same_rows(app, tree, joined_the_party):
    def rows():
        return {
            model.__tablename__: sorted(
                tuple(getattr(row, c.name) for c in model.__table__.columns if c.name != "id")
                for row in db.session.scalars(select(model))
                if getattr(row, "minutes", None) or getattr(row, "people", None)
            )
            for model in (TallyCell, TallyPerson, TallyServed)
        }

    live = rows()
    tallies.rebuild_tallies()
    db.session.commit()
    assert rows() == live


@pytest.mark.parametrize(
    "table, column, value",
    [
        ("tally_people", "political", "03"),
        ("tally_served", "political", "03"),
        ("tally_cells", "political", "03"),
        ("tally_cells", "sessions", 7),
        ("tally_cells", "category", "traffic_order"),
        ("tally_served", "people", 5),
        ("tally_people", "minutes", 1),
    ],
)
def test_verify_fails_when_a_counted_column_is_corrupted(
    app, tree, joined_the_party, table, column, value
):
    assert tallies.verify_tallies() == []
    row_id = db.session.execute(
        text(f"SELECT MIN(id) FROM {table} WHERE political = '01'")
    ).scalar_one()
    db.session.execute(
        text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
        {"value": value, "id": row_id},
    )
    db.session.commit()
    assert tallies.verify_tallies() != []
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tallies", "verify"])
    assert result.exit_code != 0, result.output
    assert runner.invoke(args=["tallies", "rebuild"]).exit_code == 0
    db.session.expire_all()
    assert tallies.verify_tallies() == []


def test_the_profiles_total_is_checked_too(app, tree, joined_the_party):
    changer, _member, _undone = joined_the_party
    db.session.execute(
        update(VolunteerProfile)
        .where(VolunteerProfile.user_id == changer.id)
        .values(approved_minutes=1)
    )
    db.session.commit()
    assert any("approved totals" in p for p in tallies.verify_tallies())
