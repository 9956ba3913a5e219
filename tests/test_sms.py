"""SMS codes: 5 minutes, 5 tries, once a minute, 10 a day; answers reveal nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token
from volunteer_app.extensions import db
from volunteer_app.models import CodePurpose, Notification, SmsCode, User
from volunteer_app.services import ServiceError, sms
from volunteer_app.services.passwords import verify_password
from volunteer_app.timeutil import utcnow

PHONE = "13611112222"


def last_code(phone: str = PHONE) -> str | None:
    row = db.session.scalar(
        select(Notification).where(Notification.address == phone).order_by(Notification.id.desc())
    )
    match = re.search(r"\b(\d{6})\b", row.body) if row else None
    return match.group(1) if match else None


def test_a_code_is_sent_and_accepted_once(app):
    now = utcnow()
    sms.request_code(PHONE, CodePurpose.REGISTER, now=now)
    code = last_code()
    assert code is not None
    sms.check_code(PHONE, CodePurpose.REGISTER, code, now=now + timedelta(minutes=1))
    with pytest.raises(ServiceError):
        sms.check_code(PHONE, CodePurpose.REGISTER, code, now=now + timedelta(minutes=1))


def test_codes_are_stored_hashed(app):
    sms.request_code(PHONE, CodePurpose.REGISTER, now=utcnow())
    row = db.session.scalar(select(SmsCode))
    assert last_code() not in (row.code_hash or "")


def test_a_code_expires_after_five_minutes(app):
    now = utcnow()
    sms.request_code(PHONE, CodePurpose.REGISTER, now=now)
    with pytest.raises(ServiceError, match=r"错误|过期"):
        sms.check_code(PHONE, CodePurpose.REGISTER, last_code(), now=now + timedelta(minutes=5))


def test_a_code_allows_five_tries(app):
    now = utcnow()
    sms.request_code(PHONE, CodePurpose.REGISTER, now=now)
    code = last_code()
    for _ in range(5):
        with pytest.raises(ServiceError):
            sms.check_code(
                PHONE, CodePurpose.REGISTER, "000000" if code != "000000" else "111111", now=now
            )
    with pytest.raises(ServiceError):
        sms.check_code(PHONE, CodePurpose.REGISTER, code, now=now)  # the right one, too late


def test_at_most_one_message_a_minute(app):
    now = utcnow()
    sms.request_code(PHONE, CodePurpose.REGISTER, now=now)
    with pytest.raises(ServiceError):
        sms.request_code(PHONE, CodePurpose.REGISTER, now=now + timedelta(seconds=59))
    sms.request_code(PHONE, CodePurpose.REGISTER, now=now + timedelta(seconds=61))


def test_at_most_ten_messages_a_day(app):
    now = utcnow()
    for i in range(10):
        sms.request_code(PHONE, CodePurpose.REGISTER, now=now + timedelta(minutes=2 * i))
    with pytest.raises(ServiceError):
        sms.request_code(PHONE, CodePurpose.REGISTER, now=now + timedelta(minutes=30))
    sms.request_code(PHONE, CodePurpose.REGISTER, now=now + timedelta(days=1, minutes=1))


def test_the_newest_code_is_the_one_that_counts(app):
    now = utcnow()
    sms.request_code(PHONE, CodePurpose.REGISTER, now=now)
    first = last_code()
    sms.request_code(PHONE, CodePurpose.REGISTER, now=now + timedelta(minutes=2))
    second = last_code()
    if first != second:
        with pytest.raises(ServiceError):
            sms.check_code(PHONE, CodePurpose.REGISTER, first, now=now + timedelta(minutes=3))
    sms.check_code(PHONE, CodePurpose.REGISTER, second, now=now + timedelta(minutes=3))


def _register_phone_step(client, phone):
    token = csrf_token(client, "/auth/register")
    return client.post("/auth/register", data={"csrf_token": token, "phone": phone})


def test_registration_answers_the_same_for_a_registered_number(app, make_user):
    existing = make_user()
    fresh, taken = app.test_client(), app.test_client()
    a = _register_phone_step(fresh, "13622223333")
    b = _register_phone_step(taken, existing.phone)
    assert a.status_code == b.status_code == 302
    assert a.headers["Location"] == b.headers["Location"]
    # The owner of the registered number is told by SMS, without a code.
    notice = db.session.scalar(select(Notification).where(Notification.address == existing.phone))
    assert "本号码已注册" in notice.body
    assert not re.search(r"\b\d{6}\b", notice.body)


def test_registration_end_to_end_with_the_sms_code(app):
    client = app.test_client()
    _register_phone_step(client, "13633334444")
    token = csrf_token(client, "/auth/register/verify")
    response = client.post(
        "/auth/register/verify",
        data={
            "csrf_token": token,
            "code": last_code("13633334444"),
            "password": "Abcd1234",
            "confirm": "Abcd1234",
        },
    )
    assert response.status_code == 302
    # Consent first: the ID number is asked for only after it (PIPL).
    assert response.headers["Location"].endswith("/me/consent")
    user = db.session.scalar(select(User).where(User.phone == "13633334444"))
    assert user.phone_verified_at is not None


def test_a_duplicate_phone_gets_no_second_account(app, make_user):
    existing = make_user()
    client = app.test_client()
    _register_phone_step(client, existing.phone)
    token = csrf_token(client, "/auth/register/verify")
    response = client.post(
        "/auth/register/verify",
        data={"csrf_token": token, "code": "123456", "password": "Abcd1234", "confirm": "Abcd1234"},
    )
    assert response.status_code == 200
    assert "验证码错误或已过期" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_password_reset_end_to_end(app, make_user):
    user = make_user()
    client = app.test_client()
    token = csrf_token(client, "/auth/reset")
    client.post("/auth/reset", data={"csrf_token": token, "phone": user.phone})
    token = csrf_token(client, "/auth/reset/verify")
    response = client.post(
        "/auth/reset/verify",
        data={
            "csrf_token": token,
            "code": last_code(user.phone),
            "password": "NewPass999",
            "confirm": "NewPass999",
        },
    )
    assert response.status_code == 302
    db.session.refresh(user)
    assert verify_password(user.password_hash, "NewPass999")


def test_reset_for_an_unregistered_number_answers_the_same_and_sends_no_code(app):
    client = app.test_client()
    token = csrf_token(client, "/auth/reset")
    response = client.post("/auth/reset", data={"csrf_token": token, "phone": "13644445555"})
    assert response.status_code == 302
    assert last_code("13644445555") is None
