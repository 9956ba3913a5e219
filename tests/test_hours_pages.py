"""The hours ledger and its pages: confirming a shift, approvals, corrections, manual
records, star levels, overdue records, a volunteer's hours and correction requests, scope."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tests.conftest import Auth
from volunteer_app import hours, tallies
from volunteer_app.extensions import db
from volunteer_app.models import (
    Attendance,
    CorrectionRequest,
    RecordKind,
    RecordStatus,
    Role,
    ScanMethod,
    ServiceRecord,
    ShiftLead,
    Signup,
    SignupStatus,
    TrainingRecord,
    VolunteerProfile,
)
from volunteer_app.services import ServiceError, volunteers
from volunteer_app.tallies import Period
from volunteer_app.timeutil import local_today, to_local, utcnow

#: These tests pin other rules; the four-eyes rule: tests/test_national_record.py.
pytestmark = pytest.mark.config(FOUR_EYES_APPROVAL=False)


def text(response) -> str:
    return response.get_data(as_text=True)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def login(app, user, lang: str = "en"):
    client = app.test_client()
    response = Auth(client).login(user.phone)
    assert response.status_code == 302
    client.set_cookie("lang", lang)
    return client


def post(client, path: str, data: dict | None = None):
    return Auth(client).post(path, data)


def attend(shift, volunteer, came_after: int, left_before: int) -> None:
    """The volunteer signed up, came `came_after` minutes after the start (negative:
    early) and left `left_before` minutes before the end (negative: stayed late)."""
    signup = Signup(shift_id=shift.id, user_id=volunteer.id, status=SignupStatus.ATTENDED)
    db.session.add(signup)
    db.session.flush()
    db.session.add(
        Attendance(
            signup_id=signup.id,
            shift_id=shift.id,
            user_id=volunteer.id,
            checked_in_at=shift.starts_at + timedelta(minutes=came_after),
            checked_out_at=shift.ends_at - timedelta(minutes=left_before),
            in_method=ScanMethod.MANUAL,
            out_method=ScanMethod.MANUAL,
        )
    )
    shift.taken += 1
    db.session.commit()


def month_of(day: date) -> Period:
    ym = day.year * 100 + day.month
    return Period(ym, ym, "month")


@pytest.fixture(autouse=True)
def english(app):
    """Service refusals in English (pages choose theirs by the lang cookie)."""
    with force_locale("en"):
        yield


@pytest.fixture
def organiser(make_user, tree):
    return make_user(Role.ORGANISER, tree.town_a, name="环秀组织者")


@pytest.fixture
def past(make_event, make_volunteer, tree):
    """A 3-hour shift that ended two hours ago: a Party member of 东关 stayed the whole
    shift (and a little more), a resident of 西关 came 30 minutes late and left 30 early,
    and a third volunteer signed up but never came."""
    _event, shift = make_event(starts_in=timedelta(hours=-5), hours=3)
    member = make_volunteer(tree.community_a1, party=True)
    resident = make_volunteer(tree.community_a2)
    absent = make_volunteer(tree.community_a1)
    attend(shift, member, -10, -10)
    attend(shift, resident, 30, 30)
    db.session.add(Signup(shift_id=shift.id, user_id=absent.id, status=SignupStatus.CONFIRMED))
    shift.taken += 1
    db.session.commit()
    return shift, member, resident, absent


def records_of(user) -> list[ServiceRecord]:
    return list(
        db.session.scalars(
            select(ServiceRecord).where(ServiceRecord.user_id == user.id).order_by(ServiceRecord.id)
        )
    )


def manual(organiser, volunteer, tree, *, minutes=90, days_ago=3, reason="纸质签到表", **kw):
    record = hours.add_manual(
        organiser,
        volunteer,
        host=kw.pop("host", tree.town_a),
        activity=kw.pop("activity", "敬老院探访"),
        service_date=local_today() - timedelta(days=days_ago),
        minutes=minutes,
        place="东关敬老院",
        content="陪伴老人",
        category=kw.pop("category", "other"),
        reason=reason,
        today=local_today(),
    )
    db.session.commit()
    return record


# ---------------------------------------------------------------- confirming a shift


def test_confirming_a_shift_writes_one_pending_record_per_attended_volunteer_with_credited_minutes_and_attribution(  # noqa: E501
    app, past, login_as, tree
):
    shift, member, resident, absent = past
    client, lead = login_as(Role.LEAD, tree.community_a1)
    shift.leads.append(ShiftLead(user_id=lead.id))
    db.session.commit()
    client.set_cookie("lang", "en")

    page = text(client.get(f"/hours/shifts/{shift.id}"))
    assert "Confirm shift" in page and "3:00" in page and "2:00" in page

    response = post(client, f"/hours/shifts/{shift.id}/confirm")
    assert response.status_code == 302
    (first,) = records_of(member)
    (second,) = records_of(resident)
    assert records_of(absent) == []
    assert (first.minutes, second.minutes) == (180, 120)  # the window only, no grace
    for record in (first, second):
        assert record.status is RecordStatus.PENDING and record.kind is RecordKind.SERVICE
        assert record.shift_id == shift.id and record.host_id == tree.town_a.id
        assert record.service_date == to_local(shift.starts_at).date()
        assert record.category == "env_sanitation" and record.organisation == "环秀街道"
        assert "街巷清洁" in record.activity
    assert (first.community_id, first.branch_id, first.political_status) == (
        tree.community_a1.id,
        tree.branch.id,
        "01",
    )
    assert (second.community_id, second.branch_id, second.political_status) == (
        tree.community_a2.id,
        None,
        "13",
    )
    page = text(client.get(f"/hours/shifts/{shift.id}"))
    assert 'data-testid="confirmed"' in page and "Confirm shift" not in page


@pytest.mark.config(CREDIT_GRACE_MINUTES=15)
def test_the_confirm_button_credits_the_configured_grace(app, past, login_as, tree):
    shift, member, _resident, _absent = past
    client, _user = login_as(Role.ORGANISER, tree.town_a)
    assert post(client, f"/hours/shifts/{shift.id}/confirm").status_code == 302
    assert records_of(member)[0].minutes == 180 + 10 + 10


def test_confirming_a_shift_twice_is_refused(app, past, organiser, login_as, tree):
    shift, *_ = past
    hours.confirm_shift(organiser, shift, now=utcnow())
    db.session.commit()
    with pytest.raises(ServiceError, match="already been confirmed"):
        hours.confirm_shift(organiser, shift, now=utcnow())
    db.session.rollback()

    client, _user = login_as(Role.ORGANISER, tree.town_a)
    client.set_cookie("lang", "en")
    response = post(client, f"/hours/shifts/{shift.id}/confirm")
    assert response.status_code == 302
    assert "This shift has already been confirmed." in text(client.get(response.location))
    assert count(ServiceRecord) == 2


def test_a_shift_cannot_be_confirmed_before_it_ends_or_with_someone_still_checked_in(
    app, make_event, make_volunteer, organiser
):
    _event, running = make_event(starts_in=timedelta(hours=-1), hours=3)
    with pytest.raises(ServiceError, match="after it has ended"):
        hours.confirm_shift(organiser, running, now=utcnow())
    db.session.rollback()
    _event, ended = make_event(starts_in=timedelta(hours=-5), hours=3)
    volunteer = make_volunteer()
    attend(ended, volunteer, 0, 0)
    db.session.scalar(select(Attendance)).checked_out_at = None
    db.session.commit()
    with pytest.raises(ServiceError, match="not checked out"):
        hours.confirm_shift(organiser, ended, now=utcnow())
    db.session.rollback()
    assert count(ServiceRecord) == 0


def test_a_volunteer_who_moves_community_keeps_past_records_where_earned(
    app, past, organiser, make_event, tree
):
    shift, member, _resident, _absent = past
    records = hours.confirm_shift(organiser, shift, now=utcnow())
    hours.decide(organiser, records, True, now=utcnow())
    db.session.commit()

    volunteers.set_residence(member, tree.community_b1, now=utcnow())
    _event, later = make_event(starts_in=timedelta(hours=-4), hours=2, title="交通劝导")
    attend(later, member, 0, 0)
    hours.decide(organiser, hours.confirm_shift(organiser, later, now=utcnow()), True, now=utcnow())
    db.session.commit()

    old, new = records_of(member)
    assert (old.community_id, new.community_id) == (tree.community_a1.id, tree.community_b1.id)
    period = month_of(old.service_date)
    if new.service_date != old.service_date:  # a run just after midnight
        period = Period(period.first, month_of(new.service_date).last, "custom")
    area = tallies.figures("area", [tree.community_a1.id, tree.community_b1.id], period)
    assert area[tree.community_a1.id].minutes == 180  # the member's first shift
    assert area[tree.community_b1.id].minutes == 120


# ---------------------------------------------------------------- approvals and the ledger


def test_approving_updates_the_volunteers_total_and_the_tallies(app, past, organiser, tree):
    shift, member, resident, _absent = past
    records = hours.confirm_shift(organiser, shift, now=utcnow())
    db.session.commit()
    assert db.session.get(VolunteerProfile, member.id).approved_minutes == 0

    assert hours.decide(organiser, records, True, now=utcnow()) == 2
    db.session.commit()
    assert db.session.get(VolunteerProfile, member.id).approved_minutes == 180
    assert db.session.get(VolunteerProfile, resident.id).approved_minutes == 120
    assert hours.approved_minutes(member.id) == 180
    period = month_of(records[0].service_date)
    area = tallies.figures("area", [tree.community_a1.id, tree.town_a.id, tree.district.id], period)
    assert area[tree.community_a1.id].minutes == 180
    assert area[tree.town_a.id].minutes == area[tree.district.id].minutes == 300
    assert area[tree.town_a.id].volunteers == 2 and area[tree.town_a.id].sessions == 2
    assert tallies.figures("party", [tree.branch.id], period)[tree.branch.id].minutes == 180
    assert tallies.figures("host", [tree.town_a.id], period)[tree.town_a.id].minutes == 300
    assert tallies.verify_tallies() == []


def test_rejected_records_do_not_count(app, past, organiser, tree):
    shift, member, resident, _absent = past
    first, second = hours.confirm_shift(organiser, shift, now=utcnow())
    hours.decide(organiser, [first], True, now=utcnow())
    hours.decide(organiser, [second], False, now=utcnow())
    db.session.commit()
    assert second.status is RecordStatus.REJECTED
    assert hours.approved_minutes(resident.id) == 0
    assert db.session.get(VolunteerProfile, resident.id).approved_minutes == 0
    period = month_of(first.service_date)
    area = tallies.figures("area", [tree.community_a2.id, tree.town_a.id], period)
    assert area[tree.community_a2.id].minutes == 0 and area[tree.town_a.id].minutes == 180
    # A decided record is not decided again (no double counting either way).
    assert hours.decide(organiser, [first, second], True, now=utcnow()) == 0
    assert hours.approved_minutes(member.id) == 180


def test_a_correction_is_a_new_row_and_the_original_row_is_unchanged(app, past, organiser, tree):
    shift, member, _resident, _absent = past
    record = hours.confirm_shift(organiser, shift, now=utcnow())[0]
    with pytest.raises(ServiceError, match="approved record"):
        hours.add_correction(organiser, record, -30, "少记")
    hours.decide(organiser, [record], True, now=utcnow())
    db.session.commit()

    with pytest.raises(ServiceError, match="negative"):
        hours.add_correction(organiser, record, -181, "太多")
    with pytest.raises(ServiceError, match="reason"):
        hours.add_correction(organiser, record, -30, " ")
    correction = hours.add_correction(organiser, record, -30, "提前离开")
    db.session.commit()
    assert correction.id != record.id and correction.kind is RecordKind.CORRECTION
    assert (correction.minutes, correction.corrects_id) == (-30, record.id)
    assert correction.status is RecordStatus.PENDING
    assert (correction.community_id, correction.host_id) == (record.community_id, record.host_id)
    assert correction.service_date == record.service_date
    db.session.expire_all()
    assert (record.minutes, record.status) == (180, RecordStatus.APPROVED)
    assert hours.approved_minutes(member.id) == 180  # until the correction is approved

    hours.decide(organiser, [correction], True, now=utcnow())
    db.session.commit()
    assert hours.approved_minutes(member.id) == 150
    assert db.session.get(VolunteerProfile, member.id).approved_minutes == 150
    # The total of a record and its corrections never goes below zero.
    with pytest.raises(ServiceError, match="negative"):
        hours.add_correction(organiser, record, -151, "再减")
    assert hours.add_correction(organiser, record, -150, "全部无效").minutes == -150


def test_an_organiser_corrects_an_approved_record_from_the_records_page(
    app, past, organiser, login_as, tree
):
    shift, _member, _resident, _absent = past
    record = hours.confirm_shift(organiser, shift, now=utcnow())[0]
    hours.decide(organiser, [record], True, now=utcnow())
    db.session.commit()
    client, _user = login_as(Role.ORGANISER, tree.town_a)
    client.set_cookie("lang", "en")
    page = text(client.get("/hours/records"))
    assert f'id="record-{record.id}"' in page and "Add the correction" in page

    response = post(client, f"/hours/records/{record.id}/correct", {"delta": "15", "reason": ""})
    assert "Please give a reason." in text(client.get(response.location))
    response = post(
        client, f"/hours/records/{record.id}/correct", {"delta": "15", "reason": "补记收尾时间"}
    )
    assert "awaits approval" in text(client.get(response.location))
    correction = db.session.scalar(
        select(ServiceRecord).where(ServiceRecord.kind == RecordKind.CORRECTION)
    )
    assert (correction.minutes, correction.corrects_id, correction.reason) == (
        15,
        record.id,
        "补记收尾时间",
    )
    assert "+0:15" in text(client.get("/hours/records"))


def test_editing_an_approved_records_minutes_through_the_orm_raises(app, past, organiser):
    shift, *_ = past
    record = hours.confirm_shift(organiser, shift, now=utcnow())[0]
    hours.decide(organiser, [record], True, now=utcnow())
    db.session.commit()
    record.minutes = 600
    with pytest.raises(ValueError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    assert record.status is RecordStatus.APPROVED  # loaded: the guard sees the old value
    record.status = RecordStatus.REJECTED
    with pytest.raises(ValueError, match="decided"):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(ServiceRecord, record.id).minutes == 180


def test_re_deciding_an_expired_approved_record_raises(app, past, organiser):
    """The guard sees the stored status even when the attribute was expired by a commit."""
    shift, *_ = past
    record = hours.confirm_shift(organiser, shift, now=utcnow())[0]
    hours.decide(organiser, [record], True, now=utcnow())
    db.session.commit()  # expires every attribute
    record.status = RecordStatus.REJECTED
    try:
        with pytest.raises(ValueError, match="decided"):
            db.session.flush()
    finally:
        db.session.rollback()


# ---------------------------------------------------------------- stars and overdue


def test_star_thresholds_at_the_edges(app):
    assert hours.stars_for(0).level == 0
    assert hours.stars_for(100 * 60 - 1).level == 0  # 99:59
    just = hours.stars_for(100 * 60)
    assert (just.level, just.next_at, just.progress) == (1, 300, 0.0)
    assert hours.stars_for(300 * 60 - 1).level == 1
    assert hours.stars_for(300 * 60).level == 2
    assert hours.stars_for(1500 * 60 - 1).level == 4
    top = hours.stars_for(1500 * 60)
    assert (top.level, top.next_at, top.progress) == (5, None, 1.0)
    assert hours.stars_for(50 * 60).progress == pytest.approx(0.5)


def test_a_pending_record_is_overdue_after_ten_working_days_weekends_skipped(app):
    friday = date(2026, 11, 6)
    assert friday.weekday() == 4
    record = ServiceRecord(status=RecordStatus.PENDING, service_date=friday)
    assert not hours.is_overdue(record, friday + timedelta(days=14))  # Fri: 10 working days
    assert not hours.is_overdue(record, friday + timedelta(days=16))  # Sun: still 10
    assert hours.is_overdue(record, friday + timedelta(days=17))  # Mon: 11
    approved = ServiceRecord(status=RecordStatus.APPROVED, service_date=friday)
    assert not hours.is_overdue(approved, friday + timedelta(days=60))


def test_the_approvals_page_counts_overdue_records_and_lists_them_first(
    app, organiser, make_volunteer, login_as, tree
):
    volunteer = make_volunteer()
    recent = manual(organiser, volunteer, tree, days_ago=1, activity="近期活动")
    old = manual(organiser, volunteer, tree, days_ago=30, activity="很久以前")
    client, _user = login_as(Role.ORGANISER, tree.town_a)
    client.set_cookie("lang", "en")
    page = text(client.get("/hours/pending"))
    assert "2 records await approval." in page
    assert "1 records are overdue" in page
    assert page.index(f'data-record="{old.id}"') < page.index(f'data-record="{recent.id}"')
    assert f'data-record="{old.id}" class="table-danger" data-overdue="1"' in page
    assert f'data-record="{recent.id}" class' not in page


def test_an_organiser_approves_selected_records_and_all_of_a_shift(
    app, past, organiser, make_volunteer, login_as, tree
):
    shift, member, resident, _absent = past
    hours.confirm_shift(organiser, shift, now=utcnow())
    extra = manual(organiser, make_volunteer(), tree)
    db.session.commit()
    client, _user = login_as(Role.ORGANISER, tree.town_a)
    client.set_cookie("lang", "en")

    response = post(client, "/hours/pending/decide", {"op": "reject", "record": [str(extra.id)]})
    assert "1 records not approved." in text(client.get(response.location))
    response = client.post(
        f"/hours/pending/decide?shift={shift.id}",
        data={"csrf_token": _csrf(client), "op": "approve"},
    )
    assert "2 records approved." in text(client.get(response.location))
    again = client.post(
        f"/hours/pending/decide?shift={shift.id}",
        data={"csrf_token": _csrf(client), "op": "approve"},
    )
    assert "Nothing to decide" in text(client.get(again.location))  # a second click
    assert hours.approved_minutes(member.id) == 180 and hours.approved_minutes(resident.id) == 120
    assert db.session.get(ServiceRecord, extra.id).status is RecordStatus.REJECTED
    assert "Nothing awaits approval." in text(client.get("/hours/pending"))


def _csrf(client) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client, "/")


def test_a_lead_approves_on_the_shift_page_one_by_one_or_all(
    app, past, login_as, tree, organiser, make_volunteer
):
    shift, member, resident, _absent = past
    elsewhere = manual(organiser, make_volunteer(), tree, activity="别的补录")
    client, lead = login_as(Role.LEAD, tree.community_a1)
    shift.leads.append(ShiftLead(user_id=lead.id))
    db.session.commit()
    client.set_cookie("lang", "en")
    post(client, f"/hours/shifts/{shift.id}/confirm")
    first, second = records_of(member)[0], records_of(resident)[0]

    post(client, f"/hours/shifts/{shift.id}/decide", {"op": "reject", "record": str(second.id)})
    post(client, f"/hours/shifts/{shift.id}/decide", {"op": "approve", "all": "1"})
    db.session.expire_all()
    assert (first.status, second.status) == (RecordStatus.APPROVED, RecordStatus.REJECTED)
    # The lead's approvals page lists the records of the shifts they lead, and no others.
    page = text(client.get("/hours/pending"))
    assert "Nothing awaits approval." in page and "别的补录" not in page
    assert db.session.get(ServiceRecord, elsewhere.id).status is RecordStatus.PENDING


# ---------------------------------------------------------------- scope


def test_another_organisers_scope_cannot_see_or_approve(
    app, past, organiser, make_volunteer, login_as, tree
):
    shift, member, _resident, _absent = past
    confirmed = hours.confirm_shift(organiser, shift, now=utcnow())
    approved = manual(organiser, make_volunteer(), tree, activity="已通过的补录")
    hours.decide(organiser, [approved], True, now=utcnow())
    db.session.commit()
    asker = login(app, member)
    response = post(asker, f"/my/hours/records/{confirmed[0].id}/ask", {"message": "少了"})
    assert response.status_code == 302
    request_id = db.session.scalar(select(CorrectionRequest.id))

    other, _user = login_as(Role.ORGANISER, tree.town_b)
    other.set_cookie("lang", "en")
    page = text(other.get("/hours/pending"))
    assert "Nothing awaits approval." in page and "街巷清洁" not in page
    assert "已通过的补录" not in text(other.get("/hours/records?status=all"))
    assert "少了" not in text(other.get("/hours/requests"))
    assert other.get(f"/hours/shifts/{shift.id}").status_code == 404
    record_id = confirmed[0].id
    for path, data in [
        ("/hours/pending/decide", {"op": "approve", "record": str(record_id)}),
        (f"/hours/pending/decide?shift={shift.id}", {"op": "approve"}),
        (f"/hours/shifts/{shift.id}/confirm", {}),
        (f"/hours/shifts/{shift.id}/decide", {"op": "approve", "all": "1"}),
        (f"/hours/records/{approved.id}/correct", {"delta": "10", "reason": "x"}),
        (f"/hours/requests/{request_id}/answer", {"answer": "好"}),
    ]:
        response = other.post(path, data={"csrf_token": _csrf(other), **data})
        assert response.status_code == 404, path
    db.session.expire_all()
    assert all(r.status is RecordStatus.PENDING for r in confirmed)
    assert count(ServiceRecord, ServiceRecord.kind == RecordKind.CORRECTION) == 0
    assert db.session.get(CorrectionRequest, request_id).answered_at is None
    # A volunteer or a lead without a grant over the host cannot open the organiser pages.
    volunteer_client = login(app, member)
    assert volunteer_client.get("/hours/pending").status_code == 403
    lead_client, _lead = login_as(Role.LEAD, tree.community_a1)
    assert lead_client.get("/hours/manual").status_code == 403
    assert lead_client.get(f"/hours/shifts/{shift.id}").status_code == 404


def test_ids_no_row_can_have_answer_404_not_500(app, login_as, tree):
    client, _user = login_as(Role.ORGANISER, tree.town_a)
    huge = str(2**64)
    assert client.get(f"/hours/shifts/{huge}").status_code == 404
    assert client.get(f"/hours/records?page={huge}").status_code == 200
    assert client.get(f"/hours/requests?page={huge}").status_code == 200
    for path, data in [
        ("/hours/pending/decide", {"op": "approve", "record": huge}),
        (f"/hours/pending/decide?shift={huge}", {"op": "approve"}),
        (f"/hours/records/{huge}/correct", {"delta": "10", "reason": "x"}),
        (f"/hours/requests/{huge}/answer", {"answer": "x"}),
        (f"/my/hours/records/{huge}/ask", {"message": "x"}),
    ]:
        response = client.post(path, data={"csrf_token": _csrf(client), **data})
        assert response.status_code == 404, path


# ---------------------------------------------------------------- manual records


def test_a_manual_record_needs_a_reason(app, make_volunteer, login_as, tree):
    volunteer = make_volunteer(tree.community_a1)
    outsider = make_volunteer(tree.community_b1)
    client, _user = login_as(Role.ORGANISER, tree.town_a)
    client.set_cookie("lang", "en")
    assert "Manual record" in text(client.get("/hours/manual"))
    data = {
        "q": volunteer.phone,
        "host": str(tree.town_a.id),
        "activity": "社区义诊",
        "service_date": (local_today() - timedelta(days=2)).isoformat(),
        "hours": "1",
        "minutes": "30",
        "category": "other",
        "place": "东关社区卫生室",
        "content": "协助测血压",
        "reason": "",
    }
    page = text(post(client, "/hours/manual", data))
    assert "Please give the reason for a manual record." in page
    assert count(ServiceRecord) == 0

    page = text(post(client, "/hours/manual", {**data, "q": outsider.phone, "reason": "纸质表"}))
    assert "No volunteer in your scope matches." in page and count(ServiceRecord) == 0

    response = post(client, "/hours/manual", {**data, "reason": "平台上线前的纸质签到表"})
    assert response.status_code == 302
    record = db.session.scalar(select(ServiceRecord))
    assert (record.kind, record.status, record.minutes) == (
        RecordKind.MANUAL,
        RecordStatus.PENDING,
        90,
    )
    assert (record.user_id, record.host_id, record.reason) == (
        volunteer.id,
        tree.town_a.id,
        "平台上线前的纸质签到表",
    )
    assert record.community_id == tree.community_a1.id


# ---------------------------------------------------------------- the volunteer's page


def test_my_hours_lists_records_totals_stars_corrections_and_training(app, past, organiser, tree):
    shift, member, _resident, _absent = past
    record = hours.confirm_shift(organiser, shift, now=utcnow())[0]
    hours.decide(organiser, [record], True, now=utcnow())
    correction = hours.add_correction(organiser, record, 20, "收尾工作")
    pending = manual(organiser, member, tree, minutes=45, activity="敬老院探访")
    db.session.add(
        TrainingRecord(
            user_id=member.id,
            name="急救培训",
            minutes=120,
            organiser="区红十字会",
            held_on=local_today() - timedelta(days=9),
        )
    )
    db.session.commit()

    client = login(app, member)
    page = text(client.get("/my/hours"))
    assert 'data-testid="approved-total">3:00<' in page
    assert 'data-testid="pending-total">1:05<' in page  # 45 min + the 20 min correction
    assert 'data-level="0"' in page and "Not yet a star volunteer" in page
    assert "街巷清洁" in page and "敬老院探访" in page and "东关社区广场" in page
    assert "+0:20" in page and "收尾工作" in page
    # Newest service first: today's shift, then the visit three days ago.
    assert page.index(f'data-record="{record.id}"') < page.index(f'data-record="{pending.id}"')
    corrections_at = page.index('data-testid="corrections"')
    assert page.index(f'data-record="{record.id}"') < corrections_at
    assert "Pending approval" in page and "Approved" in page
    assert "急救培训" in page and "区红十字会" in page
    training_at = page.index('id="training"')
    assert page.index("急救培训") > training_at
    assert correction.id  # listed under its record, not as a record of its own
    assert f'data-record="{correction.id}"' not in page


def test_a_correction_request_round_trip(app, past, organiser, login_as, tree):
    shift, member, resident, _absent = past
    record = hours.confirm_shift(organiser, shift, now=utcnow())[0]
    hours.decide(organiser, [record], True, now=utcnow())
    db.session.commit()
    theirs = records_of(resident)[0]

    client = login(app, member)
    assert post(client, f"/my/hours/records/{theirs.id}/ask", {"message": "x"}).status_code == 404
    response = post(client, f"/my/hours/records/{record.id}/ask", {"message": "我待到了11点"})
    assert "Your request has been sent" in text(client.get(response.location))
    response = post(client, f"/my/hours/records/{record.id}/ask", {"message": "再问一次"})
    assert "already asked" in text(client.get(response.location))
    assert count(CorrectionRequest) == 1
    page = text(client.get("/my/hours"))
    assert "我待到了11点" in page and "Waiting for an answer" in page

    office, _user = login_as(Role.ORGANISER, tree.town_a)
    office.set_cookie("lang", "en")
    inbox = text(office.get("/hours/requests"))
    assert "我待到了11点" in inbox and member.masked_phone in inbox
    item = db.session.scalar(select(CorrectionRequest))
    response = post(office, f"/hours/requests/{item.id}/answer", {"answer": "", "delta": "15"})
    assert "Please write an answer." in text(office.get(response.location))
    response = post(
        office, f"/hours/requests/{item.id}/answer", {"answer": "已核实，补记15分钟", "delta": "15"}
    )
    assert "the correction awaits approval" in text(office.get(response.location))
    db.session.expire_all()
    item = db.session.get(CorrectionRequest, item.id)
    assert item.answer == "已核实，补记15分钟" and item.answered_at is not None
    assert item.answered_by_id == _user.id
    correction = db.session.scalar(
        select(ServiceRecord).where(ServiceRecord.kind == RecordKind.CORRECTION)
    )
    assert (correction.minutes, correction.corrects_id, correction.reason) == (
        15,
        record.id,
        "已核实，补记15分钟",
    )
    response = post(office, f"/hours/requests/{item.id}/answer", {"answer": "再答"})
    assert "already been answered" in text(office.get(response.location))

    page = text(client.get("/my/hours"))
    assert "已核实，补记15分钟" in page and "Answered" in page and "+0:15" in page
    # Once answered, the volunteer may ask about the record again.
    assert "Ask for a correction" in page
