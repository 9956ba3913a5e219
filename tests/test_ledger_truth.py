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
from volunteer_app.services import ServiceError, hours, tallies
from volunteer_app.services.tallies import Period, period_for, quarter_period
from volunteer_app.timeutil import utcnow

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
    assert hours.verify_tallies() == []


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
    assert hours.verify_tallies() == []


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
    assert hours.verify_tallies() == []
