"""Rate limits: per client address (generous, for a community hall behind one NAT) and per
phone number; failing open, logged and counted, when the limiter's storage is down;
production refuses per-process memory storage with several workers."""

from __future__ import annotations

import logging
import socket

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from config import ProductionConfig
from tests.conftest import csrf_token
from volunteer_app import UnsafeConfiguration, create_app, ratelimits
from volunteer_app.extensions import db
from volunteer_app.models import SmsCode

GOOD_SECRET = "a-long-random-production-secret-value"


def _post(client, path: str, data: dict, ip: str, form_path: str | None = None):
    token = csrf_token(client, form_path or path)
    return client.post(path, data={"csrf_token": token, **data}, environ_base={"REMOTE_ADDR": ip})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


@pytest.mark.config(
    RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="1000 per minute", RATELIMIT_LOGIN_PHONE="3 per minute"
)
def test_login_is_limited_per_phone_number_whatever_the_address(app):
    answers = [
        _post(
            app.test_client(),
            "/auth/login",
            {"phone": "13700000021", "password": "Wrong1234"},
            f"10.0.0.{i}",
        ).status_code
        for i in range(4)
    ]
    assert answers == [200, 200, 200, 429]
    other = _post(
        app.test_client(), "/auth/login", {"phone": "13700000022", "password": "x"}, "10.0.0.9"
    )
    assert other.status_code == 200  # another number is not held back


@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_a_registration_drive_behind_one_address_is_not_stopped_by_the_default_limits(app):
    client = app.test_client()
    answers = [
        _post(client, "/auth/register", {"phone": f"1391234{n:04d}"}, "203.0.113.7").status_code
        for n in range(40)
    ]
    assert answers == [302] * 40
    assert db.session.scalar(select(func.count()).select_from(SmsCode)) == 40


@pytest.mark.config(
    RATELIMIT_ENABLED=True, RATELIMIT_REGISTER="1000 per minute", RATELIMIT_CODE_PHONE="2 per hour"
)
def test_sms_codes_are_limited_per_phone_number_across_registration_and_reset(app):
    phone = "13912340001"
    first = _post(app.test_client(), "/auth/register", {"phone": phone}, "10.1.0.1")
    second = _post(app.test_client(), "/auth/reset", {"phone": phone}, "10.1.0.2")
    third = _post(app.test_client(), "/auth/register", {"phone": phone}, "10.1.0.3")
    assert first.status_code == 302 and second.status_code in (200, 302)
    assert third.status_code == 429
    assert "操作过于频繁" in third.get_data(as_text=True)


@pytest.mark.config(
    RATELIMIT_ENABLED=True,
    RATELIMIT_REGISTER="1000 per minute",
    RATELIMIT_VERIFY_PHONE="2 per hour",
)
def test_code_checks_are_limited_per_phone_number(app):
    client = app.test_client()
    assert _post(client, "/auth/register", {"phone": "13912340002"}, "10.2.0.1").status_code == 302
    data = {"code": "000000", "password": "Abcd1234", "confirm": "Abcd1234"}
    answers = [
        _post(client, "/auth/register/verify", data, f"10.2.0.{i}").status_code for i in range(3)
    ]
    assert answers == [200, 200, 429]


@pytest.mark.config(
    RATELIMIT_ENABLED=True,
    RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{_closed_port()}/0",
    RATELIMIT_LOGIN="1000 per minute",
)
def test_login_keeps_working_when_the_limit_storage_is_down_logged_and_counted(app, caplog):
    before = ratelimits.storage_failures()
    with caplog.at_level(logging.WARNING):
        answers = [
            _post(
                app.test_client(),
                "/auth/login",
                {"phone": "13700000031", "password": "Wrong1234"},
                "10.3.0.1",
            ).status_code
            for _ in range(3)
        ]
    assert answers == [200, 200, 200]  # served (a wrong password), never a 500
    assert ratelimits.storage_failures() > before
    assert "rate-limit storage unavailable" in caplog.text


# ---------------------------------------------------------------- production


def _production(**overrides):
    return create_app(
        ProductionConfig,
        SECRET_KEY=GOOD_SECRET,
        PII_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        SQLALCHEMY_DATABASE_URI="sqlite://",
        **{"SMS_ALLOW_LOG_IN_PRODUCTION": True, **overrides},  # SMS is not what is tested
    )


def test_production_refuses_memory_storage_with_several_workers():
    with pytest.raises(UnsafeConfiguration, match="memory:// with 4 workers"):
        _production(RATELIMIT_STORAGE_URI="memory://", WEB_CONCURRENCY=4)


def test_production_accepts_memory_storage_when_explicitly_allowed_or_one_worker():
    _production(RATELIMIT_STORAGE_URI="memory://", WEB_CONCURRENCY=4, RATELIMIT_ALLOW_MEMORY=True)
    _production(RATELIMIT_STORAGE_URI="memory://", WEB_CONCURRENCY=1)
    _production(RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0", WEB_CONCURRENCY=4)
    _production(RATELIMIT_ENABLED=False, WEB_CONCURRENCY=4)  # load tests


@pytest.mark.parametrize(
    ("argv", "environ", "workers"),
    [
        (["/srv/.venv/bin/gunicorn", "-w", "4", "wsgi:app"], {}, 4),
        (["/srv/.venv/bin/gunicorn", "--workers=3", "wsgi:app"], {}, 3),
        (["python", "-m", "gunicorn", "--workers", "2", "wsgi:app"], {}, 2),
        (["/srv/.venv/bin/gunicorn", "wsgi:app"], {"GUNICORN_CMD_ARGS": "-w 5"}, 5),
        (["/srv/.venv/bin/flask", "run", "-w", "9"], {}, 1),
    ],
)
def test_the_worker_count_is_read_from_gunicorns_arguments(argv, environ, workers):
    assert ratelimits.declared_workers({}, argv, environ) == workers
