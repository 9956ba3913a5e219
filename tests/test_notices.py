"""Every message that matters reaches the volunteer on the channels they chose: each event
(sign-up, promotion, removal, cancellation, time and place change, waitlist expiry, no-show
hold, correction answer and decision) goes in-app, by SMS through Aliyun's template model
(a local fake Dysmsapi that checks the signature, the template code and the parameters) and
by e-mail (a local aiosmtpd), with an absolute link, quiet hours kept, once per event."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from tests import fake_providers
from tests.conftest import csrf_token
from tests.fake_providers import ACCESS_KEY_ID, ACCESS_KEY_SECRET
from volunteer_app import hours, jobs, signups
from volunteer_app.extensions import db
from volunteer_app.models import (
    AuditLog,
    Channel,
    CodePurpose,
    CorrectionRequest,
    DeliveryStatus,
    Notification,
    RecordStatus,
    Role,
    Shift,
    Signup,
    SignupStatus,
    User,
)
from volunteer_app.services import events, messages, notify, sms, sms_backends
from volunteer_app.services.channels import MAX_ATTEMPTS
from volunteer_app.services.events import EventFields, ShiftFields
from volunteer_app.timeutil import from_local, local_today, to_local, utcnow

#: Tests here confirm and approve as one organiser; four eyes is tested in test_national_record.
pytestmark = pytest.mark.config(FOUR_EYES_APPROVAL=False)

BASE = "https://vol.jimo.example.cn"

#: The templates as approved on the (fake) Aliyun account: key -> (code, parameter names).
#: Written out by hand from the filed texts, so a drift in the table shows up here.
APPROVED = {
    "signup_confirmed": ("SMS_480001", {"event", "post", "time", "place", "url"}),
    "signup_waitlisted": ("SMS_480002", {"event", "post", "time", "position", "url"}),
    "signup_promoted": ("SMS_480003", {"event", "post", "time", "url"}),
    "signup_removed": ("SMS_480004", {"event", "post", "reason", "url"}),
    "event_cancelled": ("SMS_480005", {"event", "time", "reason", "url"}),
    "shift_cancelled": ("SMS_480006", {"event", "post", "time", "reason", "url"}),
    "shift_changed": ("SMS_480007", {"event", "post", "time", "url"}),
    "place_changed": ("SMS_480008", {"event", "time", "place", "url"}),
    "waitlist_expired": ("SMS_480009", {"event", "post", "time", "url"}),
    "noshow_hold": ("SMS_480010", {"until", "url"}),
    "correction_answered": ("SMS_480011", {"activity", "answer", "url"}),
    "correction_decided": ("SMS_480012", {"activity", "minutes", "result", "url"}),
}


# ---------------------------------------------------------------- servers and settings


@pytest.fixture(scope="module")
def aliyun():
    fake, server, thread = fake_providers.start_aliyun()
    fake.approved = dict(APPROVED.values())
    try:
        yield fake
    finally:
        fake_providers.stop(server, thread)


@pytest.fixture(scope="module")
def smtp():
    mailbox, controller = fake_providers.start_smtp()
    try:
        yield mailbox, controller
    finally:
        controller.stop()


@pytest.fixture
def wired(app, aliyun, smtp):
    """The app sending SMS through the fake Aliyun and e-mail through the local SMTP."""
    mailbox, controller = smtp
    aliyun.reset()
    mailbox.envelopes.clear()
    app.config.update(
        SMS_BACKEND="aliyun",
        SMS_ALIYUN_ACCESS_KEY_ID=ACCESS_KEY_ID,
        SMS_ALIYUN_ACCESS_KEY_SECRET=ACCESS_KEY_SECRET,
        SMS_ALIYUN_ENDPOINT=aliyun.url,
        SMS_SIGN="志愿先行",
        SMS_TEMPLATE_IDS=json.dumps({key: code for key, (code, _p) in APPROVED.items()}),
        SMS_TIMEOUT=5,
        MAIL_SERVER=controller.hostname,
        MAIL_PORT=controller.port,
        MAIL_FROM="志愿先行 <noreply@jimo.example.cn>",
        PUBLIC_BASE_URL=BASE + "/",
    )
    return aliyun, mailbox


@pytest.fixture
def organiser(make_user, tree) -> User:
    return make_user(Role.ORGANISER, tree.town_a)


def person(make_volunteer, *, sms=True, email=True) -> User:
    """A volunteer without quiet hours (the clock does not matter) taking the channels."""
    user = make_volunteer()
    user.notify_sms = sms
    user.notify_email = email
    user.email = f"v{user.id}@example.cn" if email else None
    user.quiet_start = user.quiet_end = 0
    db.session.commit()
    return user


def deliver() -> int:
    """The outbox job, late enough for anything queued by these tests."""
    db.session.commit()
    return jobs.deliver_outbox(utcnow() + timedelta(days=40))


def rows(user: User, template: str) -> dict[Channel, Notification]:
    found = db.session.scalars(
        select(Notification).where(
            Notification.user_id == user.id, Notification.template == template
        )
    )
    return {row.channel: row for row in found}


def assert_reached(wired, user: User, template: str, expected: dict) -> None:
    """In-app, SMS (the template's code and exactly these values, signed) and e-mail, each
    sent once, each with the absolute link."""
    aliyun, mailbox = wired
    by_channel = rows(user, template)
    assert set(by_channel) == {Channel.IN_APP, Channel.SMS, Channel.EMAIL}, by_channel
    assert all(r.status is DeliveryStatus.SENT for r in by_channel.values()), [
        (r.channel, r.status, r.last_error) for r in by_channel.values()
    ]
    url = expected["url"]
    assert url.startswith(BASE + "/")
    assert url in by_channel[Channel.IN_APP].body
    code, _params = APPROVED[template]
    [sms] = [s for s in aliyun.to(user.phone) if s.code == code]
    assert sms.params == expected
    assert sms.out_id == str(by_channel[Channel.SMS].id)
    assert by_channel[Channel.SMS].provider_ref.startswith("biz")
    assert by_channel[Channel.SMS].body.startswith("【志愿先行】")
    assert url in by_channel[Channel.SMS].body
    mails = [m for m in mailbox.to(user.email) if m.strip() == by_channel[Channel.EMAIL].body]
    assert len(mails) == 1 and url in mails[0]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return from_local(datetime(day.year, day.month, day.day, hour, minute))


def when(shift: Shift) -> str:
    return to_local(shift.starts_at).strftime("%Y-%m-%d %H:%M")


def sign(user: User, shift: Shift) -> Signup:
    result = signups.sign_up(user, shift, now=utcnow(), today=local_today())
    db.session.commit()
    return result.signup


# ---------------------------------------------------------------- each event, each channel


def test_a_sign_up_is_confirmed_on_every_channel(wired, make_event, make_volunteer):
    _event, shift = make_event()
    volunteer = person(make_volunteer)
    sign(volunteer, shift)
    deliver()
    assert_reached(
        wired,
        volunteer,
        "signup_confirmed",
        {
            "event": "街巷清洁",
            "post": "清扫组",
            "time": when(shift),
            "place": "东关社区广场",
            "url": f"{BASE}/my/shifts",
        },
    )


def test_a_waitlisted_sign_up_is_told_its_number(wired, make_event, make_volunteer):
    _event, shift = make_event(capacity=1)
    sign(person(make_volunteer), shift)
    waiting = person(make_volunteer)
    sign(waiting, shift)
    deliver()
    expected = {"event": "街巷清洁", "post": "清扫组", "time": when(shift), "position": "1"}
    assert_reached(wired, waiting, "signup_waitlisted", {**expected, "url": f"{BASE}/my/shifts"})


def test_promotion_from_the_waitlist_reaches_in_app_sms_and_email(
    wired, make_event, make_volunteer
):
    _event, shift = make_event(capacity=1)
    first = person(make_volunteer)
    first_signup = sign(first, shift)
    waiting = person(make_volunteer)
    sign(waiting, shift)
    signups.cancel(first_signup, actor=first, now=utcnow())
    db.session.commit()
    deliver()
    assert_reached(
        wired,
        waiting,
        "signup_promoted",
        {"event": "街巷清洁", "post": "清扫组", "time": when(shift), "url": f"{BASE}/my/shifts"},
    )


def test_removal_by_the_organiser_reaches_every_channel_with_the_reason(
    wired, organiser, make_event, make_volunteer
):
    event, shift = make_event()
    volunteer = person(make_volunteer)
    signup = sign(volunteer, shift)
    signups.cancel(signup, actor=organiser, now=utcnow(), reason="重复报名", as_organiser=True)
    db.session.commit()
    deliver()
    assert_reached(
        wired,
        volunteer,
        "signup_removed",
        {
            "event": "街巷清洁",
            "post": "清扫组",
            "reason": "重复报名",
            "url": f"{BASE}/events/{event.id}#shift-{shift.id}",
        },
    )


def test_cancelling_the_event_reaches_every_channel(wired, organiser, make_event, make_volunteer):
    event, shift = make_event()
    volunteer = person(make_volunteer)
    sign(volunteer, shift)
    events.cancel_event(organiser, event, "台风预警", now=utcnow())
    db.session.commit()
    deliver()
    assert_reached(
        wired,
        volunteer,
        "event_cancelled",
        {
            "event": "街巷清洁",
            "time": when(shift),
            "reason": "台风预警",
            "url": f"{BASE}/events/{event.id}#shift-{shift.id}",
        },
    )


def test_cancelling_a_shift_reaches_every_channel(wired, organiser, make_event, make_volunteer):
    event, shift = make_event()
    volunteer = person(make_volunteer)
    sign(volunteer, shift)
    events.cancel_shift(organiser, shift, "人手已满", now=utcnow())
    db.session.commit()
    deliver()
    assert_reached(
        wired,
        volunteer,
        "shift_cancelled",
        {
            "event": "街巷清洁",
            "post": "清扫组",
            "time": when(shift),
            "reason": "人手已满",
            "url": f"{BASE}/events/{event.id}#shift-{shift.id}",
        },
    )


def _fields(shift: Shift, **changes) -> ShiftFields:
    return ShiftFields(
        post=shift.post,
        starts_at=changes.get("starts_at", shift.starts_at),
        ends_at=changes.get("ends_at", shift.ends_at),
        capacity=shift.capacity,
        waitlist_limit=shift.waitlist_limit,
        signup_opens_days=None,
    )


def test_a_change_of_time_reaches_every_channel(wired, organiser, make_event, make_volunteer):
    _event, shift = make_event()
    volunteer = person(make_volunteer)
    sign(volunteer, shift)
    later = {"starts_at": shift.starts_at + timedelta(hours=1), "ends_at": shift.ends_at}
    events.update_shift(organiser, shift, _fields(shift, **later), now=utcnow())
    db.session.commit()
    deliver()
    assert_reached(
        wired,
        volunteer,
        "shift_changed",
        {"event": "街巷清洁", "post": "清扫组", "time": when(shift), "url": f"{BASE}/my/shifts"},
    )


def test_a_change_of_place_reaches_every_channel_and_a_same_place_edit_nobody(
    wired, organiser, make_event, make_volunteer
):
    event, shift = make_event()
    volunteer = person(make_volunteer)
    sign(volunteer, shift)
    same = EventFields(title=event.title, category=event.category, address=event.address)
    events.update_event(organiser, event, same)
    db.session.commit()
    assert rows(volunteer, "place_changed") == {}
    moved = EventFields(title=event.title, category=event.category, address="西关社区活动中心")
    events.update_event(organiser, event, moved)
    db.session.commit()
    deliver()
    assert_reached(
        wired,
        volunteer,
        "place_changed",
        {
            "event": "街巷清洁",
            "time": when(shift),
            "place": "西关社区活动中心",
            "url": f"{BASE}/my/shifts",
        },
    )


def test_waitlist_expiry_reaches_every_channel(wired, make_event, make_volunteer):
    _event, shift = make_event(capacity=1, starts_in=timedelta(hours=5))
    sign(person(make_volunteer), shift)
    waiting = person(make_volunteer)
    sign(waiting, shift)
    assert jobs.expire_waitlists(shift.starts_at + timedelta(minutes=1)) == 1
    deliver()
    assert_reached(
        wired,
        waiting,
        "waitlist_expired",
        {"event": "街巷清洁", "post": "清扫组", "time": when(shift), "url": f"{BASE}/events"},
    )


def test_the_no_show_hold_reaches_every_channel_once(wired, make_event, make_volunteer):
    volunteer = person(make_volunteer)
    ended = []
    for days in (6, 4, 2):  # three missed shifts within 90 days: a hold of 30 days
        _event, shift = make_event(starts_in=timedelta(days=-days), hours=2, opens_days=None)
        db.session.add(
            Signup(shift_id=shift.id, user_id=volunteer.id, status=SignupStatus.CONFIRMED)
        )
        shift.taken = 1
        ended.append(shift)
    db.session.commit()
    now = utcnow()
    assert jobs.mark_no_shows(now) == 3
    assert jobs.mark_no_shows(now) == 0
    deliver()
    until_local = to_local(ended[-1].ends_at + timedelta(days=30)).strftime("%Y-%m-%d")
    assert_reached(
        wired, volunteer, "noshow_hold", {"until": until_local, "url": f"{BASE}/my/shifts"}
    )


def test_correction_answer_and_decision_reach_every_channel(wired, organiser, tree, make_volunteer):
    from volunteer_app.hours.requests import answer_request, ask_correction

    volunteer = person(make_volunteer)
    record = hours.add_manual(
        organiser,
        volunteer,
        host=tree.town_a,
        activity="交通劝导",
        service_date=local_today() - timedelta(days=3),
        minutes=90,
        place="东关路口",
        content="文明劝导",
        category="traffic_order",
        reason="纸质签到表",
        today=local_today(),
    )
    hours.decide(organiser, [record], True, now=utcnow())
    item = ask_correction(volunteer, record, "少记了半小时", now=utcnow())
    correction = answer_request(
        organiser, item, "已核实，补记30分钟", now=utcnow(), delta_minutes=30
    )
    hours.decide(organiser, [correction], True, now=utcnow())
    db.session.commit()
    deliver()
    assert db.session.get(CorrectionRequest, item.id).answered_at is not None
    assert_reached(
        wired,
        volunteer,
        "correction_answered",
        {"activity": "交通劝导", "answer": "已核实，补记30分钟", "url": f"{BASE}/my/hours"},
    )
    assert_reached(
        wired,
        volunteer,
        "correction_decided",
        {"activity": "交通劝导", "minutes": "+30", "result": "已批准", "url": f"{BASE}/my/hours"},
    )
    assert db.session.get(type(correction), correction.id).status is RecordStatus.APPROVED


# ---------------------------------------------------------------- preferences


def test_each_volunteer_gets_the_channels_they_chose(wired, make_event, make_volunteer):
    aliyun, mailbox = wired
    _event, shift = make_event(capacity=10)
    app_only = person(make_volunteer, sms=False, email=False)
    sms_only = person(make_volunteer, sms=True, email=False)
    email_only = person(make_volunteer, sms=False, email=True)
    for user in (app_only, sms_only, email_only):
        sign(user, shift)
    deliver()
    assert set(rows(app_only, "signup_confirmed")) == {Channel.IN_APP}
    assert set(rows(sms_only, "signup_confirmed")) == {Channel.IN_APP, Channel.SMS}
    assert set(rows(email_only, "signup_confirmed")) == {Channel.IN_APP, Channel.EMAIL}
    assert aliyun.to(app_only.phone) == [] and aliyun.to(email_only.phone) == []
    assert len(aliyun.to(sms_only.phone)) == 1
    assert len(mailbox.to(email_only.email)) == 1
    assert mailbox.envelopes and all(
        email_only.email in envelope.rcpt_tos for envelope in mailbox.envelopes
    )


# ---------------------------------------------------------------- quiet hours

DAY = date(2030, 6, 1)


def _night_removal(make_event, make_volunteer, organiser, starts_local: datetime, **config):
    """An organiser removes a volunteer at 23:15 (Shanghai) from a shift starting at
    `starts_local`; returns the SMS row."""
    _event, shift = make_event(opens_days=None)
    shift.starts_at = from_local(starts_local)
    shift.ends_at = shift.starts_at + timedelta(hours=2)
    volunteer = make_volunteer()  # quiet hours 22:00–07:00 by default
    signup = Signup(shift_id=shift.id, user_id=volunteer.id, status=SignupStatus.CONFIRMED)
    db.session.add(signup)
    shift.taken = 1
    db.session.commit()
    signups.cancel(signup, actor=organiser, now=local(DAY, 23, 15), as_organiser=True, reason="x")
    db.session.commit()
    return rows(volunteer, "signup_removed")


def test_quiet_hours_hold_the_sms_until_seven_but_not_in_app(
    app, organiser, make_event, make_volunteer
):
    found = _night_removal(make_event, make_volunteer, organiser, datetime(2030, 6, 3, 9, 0))
    assert found[Channel.SMS].not_before == local(DAY + timedelta(days=1), 7, 0)
    assert found[Channel.IN_APP].not_before == local(DAY, 23, 15)


def test_an_urgent_change_to_a_shift_starting_early_next_morning_overrides_quiet_hours(
    app, organiser, make_event, make_volunteer
):
    found = _night_removal(make_event, make_volunteer, organiser, datetime(2030, 6, 2, 8, 0))
    assert found[Channel.SMS].not_before == local(DAY, 23, 15)


@pytest.mark.config(NOTIFY_URGENT_OVERRIDES_QUIET=False)
def test_the_urgent_override_of_quiet_hours_can_be_turned_off(
    app, organiser, make_event, make_volunteer
):
    found = _night_removal(make_event, make_volunteer, organiser, datetime(2030, 6, 2, 8, 0))
    assert found[Channel.SMS].not_before == local(DAY + timedelta(days=1), 7, 0)


def test_a_held_sms_is_not_sent_before_the_quiet_hours_end(
    wired, organiser, make_event, make_volunteer
):
    aliyun, _mailbox = wired
    found = _night_removal(make_event, make_volunteer, organiser, datetime(2030, 6, 3, 9, 0))
    jobs.deliver_outbox(local(DAY, 23, 30))
    db.session.commit()
    assert aliyun.sent == []
    jobs.deliver_outbox(local(DAY + timedelta(days=1), 7, 0))
    db.session.refresh(found[Channel.SMS])
    assert found[Channel.SMS].status is DeliveryStatus.SENT
    assert len(aliyun.sent) == 1


# ---------------------------------------------------------------- dedupe, retry, failure


def test_a_retried_event_tells_nobody_twice(wired, organiser, make_event, make_volunteer):
    aliyun, mailbox = wired
    _event, shift = make_event()
    volunteer = person(make_volunteer)
    signup = sign(volunteer, shift)
    signups.cancel(signup, actor=organiser, now=utcnow(), reason="重复", as_organiser=True)
    db.session.commit()
    from volunteer_app.services import notices

    # The request is retried (a double click, a proxy retry) or the job runs again.
    assert notices.removed(signup, "重复", now=utcnow()) == 0
    db.session.commit()
    deliver()
    deliver()
    assert len(rows(volunteer, "signup_removed")) == 3
    removed = [s for s in aliyun.to(volunteer.phone) if s.code == APPROVED["signup_removed"][0]]
    assert len(removed) == 1
    assert len([m for m in mailbox.to(volunteer.email) if "重复" in m]) == 1


def test_a_refused_sms_is_retried_with_back_off_then_marked_failed_with_the_reason(
    wired, make_event, make_volunteer
):
    aliyun, _mailbox = wired
    _event, shift = make_event()
    volunteer = person(make_volunteer, email=False)
    sign(volunteer, shift)
    db.session.commit()
    sms = rows(volunteer, "signup_confirmed")[Channel.SMS]
    busy = (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发号码天级流控"})
    aliyun.answers.extend([busy] * MAX_ATTEMPTS)
    moment = utcnow()
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        jobs.deliver_outbox(moment)
        db.session.refresh(sms)
        assert sms.attempts == attempt
        assert (
            "isv.BUSINESS_LIMIT_CONTROL" in sms.last_error and "触发号码天级流控" in sms.last_error
        )
        if attempt < MAX_ATTEMPTS:
            assert sms.status is DeliveryStatus.RETRYING
            waits.append(sms.not_before - moment)
            assert jobs.deliver_outbox(moment) == 0  # not due yet: not tried
            moment = sms.not_before
    assert sms.status is DeliveryStatus.FAILED and sms.sent_at is None
    assert waits == sorted(waits) and waits[0] == timedelta(minutes=2)
    jobs.deliver_outbox(moment + timedelta(days=1))
    db.session.refresh(sms)
    assert sms.attempts == MAX_ATTEMPTS  # given up: never tried again
    assert aliyun.sent == []


def test_a_permanent_refusal_is_failed_at_once(wired, make_event, make_volunteer):
    aliyun, _mailbox = wired
    _event, shift = make_event()
    volunteer = person(make_volunteer, email=False)
    sign(volunteer, shift)
    db.session.commit()
    aliyun.answers.append((200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}))
    deliver()
    sms = rows(volunteer, "signup_confirmed")[Channel.SMS]
    assert sms.status is DeliveryStatus.FAILED and sms.attempts == 1
    assert "非法手机号" in sms.last_error


def test_a_wrong_secret_is_refused_by_the_provider_and_retried(wired, make_event, make_volunteer):
    aliyun, _mailbox = wired
    wired_app = current_app
    wired_app.config["SMS_ALIYUN_ACCESS_KEY_SECRET"] = "not-the-secret"
    _event, shift = make_event()
    volunteer = person(make_volunteer, email=False)
    sign(volunteer, shift)
    deliver()
    sms = rows(volunteer, "signup_confirmed")[Channel.SMS]
    assert sms.status is DeliveryStatus.RETRYING
    assert "SignatureDoesNotMatch" in sms.last_error
    assert aliyun.refused[-1][0] == "SignatureDoesNotMatch"


@pytest.mark.config(SMS_DAILY_CAP=2)
def test_the_daily_cap_per_phone_stops_the_third_sms_but_never_a_code(
    wired, make_event, make_volunteer
):
    aliyun, _mailbox = wired
    volunteer = person(make_volunteer, email=False)
    for days in (2, 3, 4):
        _event, shift = make_event(starts_in=timedelta(days=days))
        sign(volunteer, shift)
    deliver()
    statuses = sorted(
        r.status.value
        for r in db.session.scalars(
            select(Notification).where(
                Notification.user_id == volunteer.id, Notification.channel == Channel.SMS
            )
        )
    )
    assert statuses == ["failed", "sent", "sent"]
    failed = db.session.scalar(
        select(Notification).where(Notification.status == DeliveryStatus.FAILED)
    )
    assert "Daily SMS cap" in failed.last_error
    assert len(aliyun.to(volunteer.phone)) == 2
    # A password-reset code is not held back by the cap (it has limits of its own).
    aliyun.approved["VF_CODE"] = {"code"}
    outbox_id = sms.request_code(volunteer.phone, CodePurpose.RESET, now=utcnow())
    db.session.commit()
    assert notify.deliver([outbox_id]) == 1
    [code] = [s for s in aliyun.to(volunteer.phone) if s.code == "VF_CODE"]
    assert code.params["code"].isdigit() and len(code.params["code"]) == 6


def test_deliver_keeps_each_outcome_on_its_row_and_leaves_the_commit_to_its_caller(app):
    outbox_id = sms.request_code("13677770001", CodePurpose.REGISTER, now=utcnow())
    db.session.commit()
    assert notify.deliver([outbox_id]) == 1
    assert db.session.get(Notification, outbox_id).status is DeliveryStatus.SENT
    db.session.rollback()  # a service flushes; the view or job that called it commits
    assert db.session.get(Notification, outbox_id).status is DeliveryStatus.QUEUED


def test_the_outbox_job_commits_what_went_out(app):
    outbox_id = sms.request_code("13677770002", CodePurpose.REGISTER, now=utcnow())
    db.session.commit()
    assert jobs.deliver_outbox(utcnow() + timedelta(minutes=1)) == 1
    db.session.rollback()
    assert db.session.get(Notification, outbox_id).status is DeliveryStatus.SENT


def test_the_aliyun_signature_matches_the_documented_example():
    """Aliyun's SMS documentation signs this SendSms request with AccessKeySecret
    "testSecret" as zJDF+Lrzhj/ThnlvIToysFRq6t4=."""
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert sms_backends.aliyun_signature(params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert fake_providers.pop_signature(list(params.items()), "testSecret") == (
        "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    )
    assert sms_backends.percent_encode("a b*~/") == "a%20b%2A~%2F"


def test_the_template_table_has_code_text_and_parameters_for_every_event():
    from volunteer_app.services import sms_templates

    for key, (_code, params) in APPROVED.items():
        template = sms_templates.get(key)
        assert template is not None and template.code.startswith("VF_")
        assert set(template.params) == params, key
        assert key in notify.TEMPLATES  # the in-app and e-mail text exists too


# ---------------------------------------------------------------- organiser messages


def test_free_text_is_refused_by_sms_at_preview_and_sent_in_app_and_by_email(
    wired, organiser, make_event, make_volunteer
):
    aliyun, mailbox = wired
    event, shift = make_event()
    volunteer = person(make_volunteer)
    sign(volunteer, shift)
    deliver()
    aliyun.reset()
    assert sms_backends.allows_free_text(current_app.config) is False
    assert "模板" in (messages.sms_refusal() or "")
    audience = messages.Audience(event, shift)
    message_id = messages.new_message_id()
    assert messages.send(organiser, audience, "请带手套", message_id, now=utcnow()) == 1
    db.session.commit()
    deliver()
    sent = rows(volunteer, messages.TEMPLATE)
    assert set(sent) == {Channel.IN_APP, Channel.EMAIL}
    assert aliyun.sent == []
    assert any("请带手套" in m for m in mailbox.to(volunteer.email))
    counts = messages.delivery_counts([message_id])[message_id]
    assert counts == {DeliveryStatus.SENT: 2}


def test_the_preview_says_why_free_text_cannot_go_by_sms(
    wired, login_as, tree, make_event, make_volunteer
):
    client, _user = login_as(Role.ORGANISER, tree.town_a)
    _event, shift = make_event()
    sign(person(make_volunteer), shift)
    url = f"/organise/messages/shifts/{shift.id}"
    token = csrf_token(client, url)
    page = client.post(url, data={"csrf_token": token, "text": "请带手套", "preview": "y"})
    html = page.get_data(as_text=True)
    assert 'data-testid="sms-refused"' in html and "只发送事先审核通过的模板" in html
    current_app.config["SMS_BACKEND"] = "http"
    page = client.post(url, data={"csrf_token": token, "text": "请带手套", "preview": "y"})
    assert 'data-testid="sms-refused"' not in page.get_data(as_text=True)


def test_with_the_plain_gateway_free_text_goes_by_sms_too(app, make_event, make_volunteer):
    app.config.update(SMS_BACKEND="http", SMS_GATEWAY_URL="http://127.0.0.1:9/")
    assert messages.sms_refusal() is None
    volunteer = person(make_volunteer, email=False)
    event, shift = make_event()
    sign(volunteer, shift)
    created = notify.fan_out(
        messages.TEMPLATE,
        volunteer,
        messages.payload(messages.Audience(event, shift), "请带手套"),
        dedupe_key="msg:free",
        now=utcnow(),
    )
    sms = next(r for r in created if r.channel is Channel.SMS)
    assert sms.body.startswith("【志愿先行】") and "请带手套" in sms.body


def test_the_organiser_sees_the_delivery_of_each_copy_with_the_providers_reason(
    wired, app, login_as, tree, make_event, make_volunteer
):
    client, organiser_user = login_as(Role.ORGANISER, tree.town_a)
    event, shift = make_event()
    volunteer = person(make_volunteer)
    sign(volunteer, shift)
    deliver()
    # Now e-mail is off and the SMS gateway is down: those copies fail and wait.
    app.config.update(
        MAIL_SERVER=None,
        SMS_BACKEND="http",
        SMS_GATEWAY_URL=f"http://127.0.0.1:{fake_providers.free_port()}/",
        SMS_TIMEOUT=1,
    )
    audience = messages.Audience(event, shift)
    message_id = messages.new_message_id()
    messages.send(organiser_user, audience, "集合点改到东门", message_id, now=utcnow())
    deliver()
    page = client.get("/organise/messages").get_data(as_text=True)
    assert 'data-status="sent"' in page and 'data-status="retrying"' in page
    assert "pagination" not in page
    audit_id = db.session.scalar(select(AuditLog.id).where(AuditLog.action == "message.send"))
    detail = client.get(f"/organise/messages/{audit_id}").get_data(as_text=True)
    assert "MAIL_SERVER" in detail and "unreachable" in detail  # the raw reasons
    assert "此渠道未在服务器上配置" in detail or "This channel is not set up" in detail
    other, _user = login_as(Role.ORGANISER, tree.town_b)
    assert other.get(f"/organise/messages/{audit_id}").status_code == 404


def test_the_messages_page_shows_the_sign_up_confirmation_without_an_empty_pager(
    app, client, auth, make_event, make_volunteer
):
    _event, shift = make_event()
    volunteer = make_volunteer()
    auth.login(volunteer.phone)
    response = auth.post(f"/shifts/{shift.id}/signup")
    assert response.status_code == 302
    page = client.get("/notifications").get_data(as_text=True)
    assert "清扫组" in page and "街巷清洁" in page and "/my/shifts" in page
    assert "pagination" not in page
