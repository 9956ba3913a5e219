"""Registration, login, lockout, rate limits, CSRF, password change, sessions."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, csrf_token
from volunteer_app.extensions import db
from volunteer_app.models import AuditLog, LoginThrottle, Role, User
from volunteer_app.services import ServiceError, accounts
from volunteer_app.services.passwords import verify_password
from volunteer_app.timeutil import utcnow


def user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def send_code(client, phone="13912345678"):
    token = csrf_token(client, "/auth/register")
    return client.post("/auth/register", data={"csrf_token": token, "phone": phone})


def verify(client, code, password="Abcd1234", confirm=None):
    token = csrf_token(client, "/auth/register/verify")
    return client.post(
        "/auth/register/verify",
        data={
            "csrf_token": token,
            "code": code,
            "password": password,
            "confirm": confirm if confirm is not None else password,
        },
    )


def code_for(phone: str) -> str:
    import re

    from volunteer_app.models import Notification

    body = db.session.scalar(
        select(Notification.body)
        .where(Notification.address == phone)
        .order_by(Notification.id.desc())
    )
    return re.search(r"\b(\d{6})\b", body).group(1)


def test_register_creates_account_and_logs_in(client):
    assert send_code(client, "139 1234 5678").status_code == 302
    response = verify(client, code_for("13912345678"))
    assert response.status_code == 302
    user = db.session.scalar(select(User))
    assert user.phone == "13912345678"
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, "Abcd1234")
    page = client.get("/").get_data(as_text=True)
    assert 'data-testid="whoami"' in page


def test_register_duplicate_phone_refused_with_message_and_no_second_row(app, make_user):
    user = make_user()
    with pytest.raises(ServiceError) as refused:
        accounts.register(user.phone, "Abcd1234")
    assert "该手机号已注册" in refused.value.messages[0]
    db.session.rollback()
    assert user_count() == 1


def test_register_reports_every_problem_at_once_and_writes_nothing(app):
    with pytest.raises(ServiceError) as refused:
        accounts.register("12345", "short")
    text = " ".join(refused.value.messages)
    assert "请输入以 13–19 开头的 11 位大陆手机号" in text
    assert "密码至少需要 8 位" in text
    assert "密码须同时包含字母和数字" in text
    assert user_count() == 0


def test_register_mismatched_confirmation_refused(client):
    send_code(client)
    response = verify(client, code_for("13912345678"), password="Abcd1234", confirm="Abcd12345")
    assert "两次输入的密码不一致" in response.get_data(as_text=True)
    assert user_count() == 0


def test_a_malformed_number_gets_a_clear_message_and_no_code(client):
    from volunteer_app.models import SmsCode

    response = send_code(client, "12345")
    assert "请输入以 13–19 开头的 11 位大陆手机号" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SmsCode)) == 0


@pytest.mark.parametrize("password", ["abcdefgh", "12345678", "Ab1", "Ab1" + "x" * 130])
def test_password_rule_needs_8_to_128_chars_with_letters_and_digits(app, password):
    with pytest.raises(ServiceError):
        accounts.register("13912345670", password)
    assert user_count() == 0


def test_form_without_csrf_token_is_refused_and_writes_nothing(client):
    from volunteer_app.models import SmsCode

    response = client.post("/auth/register", data={"phone": "13912345678"})
    assert response.status_code == 400
    assert "表单已过期或并非来自本站" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SmsCode)) == 0
    assert user_count() == 0


def test_login_with_right_password(client, make_user, auth):
    user = make_user()
    response = auth.login(user.phone)
    assert response.status_code == 302
    assert db.session.scalar(
        select(AuditLog).where(AuditLog.action == "auth.login", AuditLog.success.is_(True))
    )


def test_login_with_wrong_password_says_so_without_revealing_registration(client, make_user, auth):
    user = make_user()
    known = auth.login(user.phone, "Wrong1234").get_data(as_text=True)
    unknown = auth.login("13700000000", "Wrong1234").get_data(as_text=True)
    assert "手机号或密码错误" in known
    assert "手机号或密码错误" in unknown
    # The same words for a registered and an unregistered number.
    assert "再失败 4 次账号将被临时锁定" in known
    assert "再失败 4 次账号将被临时锁定" in unknown


def test_five_failed_logins_lock_the_account_for_ten_minutes(client, make_user, auth):
    user = make_user()
    for _ in range(4):
        auth.login(user.phone, "Wrong1234")
    fifth = auth.login(user.phone, "Wrong1234").get_data(as_text=True)
    assert "账号已锁定，请 10 分钟后再试" in fifth
    # Even the right password is refused while locked, with the same message.
    locked = auth.login(user.phone, PASSWORD)
    assert locked.status_code == 200
    assert "账号已锁定" in locked.get_data(as_text=True)


def test_lock_runs_out_after_ten_minutes(app, make_user):
    user = make_user()
    start = utcnow()
    for _ in range(5):
        accounts.authenticate(user.phone, "Wrong1234", max_failures=5, lock_minutes=10, now=start)
    during = accounts.authenticate(
        user.phone, PASSWORD, max_failures=5, lock_minutes=10, now=start + timedelta(minutes=9)
    )
    assert during.user is None and during.locked_minutes == 1
    after = accounts.authenticate(
        user.phone, PASSWORD, max_failures=5, lock_minutes=10, now=start + timedelta(minutes=10)
    )
    assert after.user is not None
    assert db.session.get(LoginThrottle, user.phone).failures == 0


def test_unregistered_number_locks_like_a_registered_one(app):
    for _ in range(5):
        result = accounts.authenticate("13700000001", "Wrong1234", max_failures=5, lock_minutes=10)
    assert result.locked_minutes == 10
    assert user_count() == 0


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute")
def test_login_is_rate_limited_with_a_429_page(client, auth):
    for _ in range(3):
        assert auth.login("13700000002", "Wrong1234").status_code == 200
    response = auth.login("13700000002", "Wrong1234")
    assert response.status_code == 429
    assert "操作过于频繁" in response.get_data(as_text=True)


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_REGISTER="2 per minute")
def test_registration_is_rate_limited(client):
    from volunteer_app.models import SmsCode

    assert send_code(client, phone="13912345671").status_code == 302
    assert send_code(client, phone="13912345672").status_code == 302
    assert send_code(client, phone="13912345673").status_code == 429
    assert db.session.scalar(select(func.count()).select_from(SmsCode)) == 2


def test_change_password_checks_the_current_one(client, make_user, auth):
    user = make_user()
    auth.login(user.phone)
    bad = auth.post(
        "/auth/password", {"current": "Nope12345", "new": "NewPass123", "confirm": "NewPass123"}
    )
    assert "当前密码不正确" in bad.get_data(as_text=True)
    good = auth.post(
        "/auth/password", {"current": PASSWORD, "new": "NewPass123", "confirm": "NewPass123"}
    )
    assert good.status_code == 302
    db.session.refresh(user)
    assert verify_password(user.password_hash, "NewPass123")


def test_logout_needs_post_and_ends_the_session(client, make_user, auth):
    user = make_user()
    auth.login(user.phone)
    assert client.get("/auth/logout").status_code == 405
    auth.logout()
    assert client.get("/my/duties").status_code == 302


def test_remember_me_sets_a_cookie_for_volunteers_only(app, make_user, tree):
    volunteer = make_user()
    organiser = make_user(Role.ORGANISER, tree.town_a)
    for user, expected in ((volunteer, True), (organiser, False)):
        client = app.test_client()
        token = csrf_token(client)
        client.post(
            "/auth/login",
            data={"csrf_token": token, "phone": user.phone, "password": PASSWORD, "remember": "y"},
        )
        assert (client.get_cookie("remember_token") is not None) is expected


def test_session_cookie_is_httponly_and_samesite_lax(client, make_user, auth):
    user = make_user()
    response = auth.login(user.phone)
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


@pytest.mark.config(STAFF_IDLE_MINUTES=30)
def test_staff_session_expires_after_30_idle_minutes(login_as):
    client, _user = login_as(Role.ORGANISER)
    assert client.get("/my/duties").status_code == 200
    with client.session_transaction() as session:
        session["seen"] = int(session["seen"]) - 31 * 60
    response = client.get("/my/duties")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]
    assert client.get("/my/duties").status_code == 302


def test_the_idle_clock_starts_at_login_and_is_written_once_a_minute(login_as):
    """The login's cookie carries the time seen; requests within the minute after it sign
    no new cookie (an answer sends the cookie again only when the session changed)."""
    from volunteer_app.hooks import SEEN_RESOLUTION_SECONDS

    client, _user = login_as(Role.ORGANISER)
    with client.session_transaction() as session:
        seen = int(session["seen"])
    assert abs(seen - time.time()) < 5
    client.get("/my/duties")  # shows (and so removes) the "logged in" message
    quiet = client.get("/my/duties")
    assert quiet.status_code == 200
    assert "session=" not in quiet.headers.get("Set-Cookie", "")
    with client.session_transaction() as session:
        session["seen"] = seen - SEEN_RESOLUTION_SECONDS
    later = client.get("/my/duties")
    assert "session=" in later.headers.get("Set-Cookie", "")
    with client.session_transaction() as session:
        assert int(session["seen"]) >= seen


def test_volunteer_session_has_no_idle_timeout(login_as):
    client, _user = login_as(None)
    client.get("/")
    with client.session_transaction() as session:
        session["seen"] = int(session["seen"]) - 120 * 60
    assert client.get("/my/duties").status_code == 200


def test_next_parameter_only_redirects_within_the_site(client, make_user):
    user = make_user()
    token = csrf_token(client)
    response = client.post(
        "/auth/login?next=https://evil.example/",
        data={"csrf_token": token, "phone": user.phone, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/"
