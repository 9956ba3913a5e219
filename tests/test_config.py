"""Production refuses unsafe settings and names each one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet

from config import DEFAULT_SECRET_KEY, ProductionConfig
from volunteer_app import UnsafeConfiguration, create_app, timeutil

GOOD_SECRET = "a-long-random-production-secret-value"


def test_production_refuses_the_default_secret_key():
    with pytest.raises(UnsafeConfiguration, match="SECRET_KEY"):
        create_app(
            ProductionConfig,
            SECRET_KEY=DEFAULT_SECRET_KEY,
            PII_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        )


def test_production_refuses_to_start_without_the_personal_data_key():
    with pytest.raises(UnsafeConfiguration, match="PII_ENCRYPTION_KEY is not set"):
        create_app(ProductionConfig, SECRET_KEY=GOOD_SECRET, PII_ENCRYPTION_KEY=None)


def test_production_refuses_an_invalid_personal_data_key():
    with pytest.raises(UnsafeConfiguration, match="not a valid Fernet key"):
        create_app(ProductionConfig, SECRET_KEY=GOOD_SECRET, PII_ENCRYPTION_KEY="short")


def test_production_names_every_problem_at_once():
    with pytest.raises(UnsafeConfiguration) as refused:
        create_app(ProductionConfig, SECRET_KEY=DEFAULT_SECRET_KEY, PII_ENCRYPTION_KEY=None)
    assert "SECRET_KEY" in str(refused.value)
    assert "PII_ENCRYPTION_KEY" in str(refused.value)


def test_production_starts_with_proper_settings_and_secure_cookies(tmp_path, monkeypatch):
    monkeypatch.setattr(timeutil, "OFFSET", timedelta(0))  # the suite may run on a moved clock
    app = create_app(
        ProductionConfig,
        SECRET_KEY=GOOD_SECRET,
        PII_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.db'}",
        SMS_BACKEND="aliyun",
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    response = app.test_client().get("/static/css/app.css")
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]


def test_production_refuses_a_moved_clock(monkeypatch):
    monkeypatch.setattr(timeutil, "OFFSET", timedelta(days=3))
    with pytest.raises(UnsafeConfiguration, match="VOLUNTEER_CLOCK"):
        create_app(
            ProductionConfig,
            SECRET_KEY=GOOD_SECRET,
            PII_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        )


def test_production_refuses_the_log_sms_backend_naming_the_setting_that_allows_it():
    settings = {"SECRET_KEY": GOOD_SECRET, "PII_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    with pytest.raises(UnsafeConfiguration) as refused:
        create_app(ProductionConfig, SMS_BACKEND="log", **settings)
    assert "SMS_BACKEND is 'log'" in str(refused.value)
    assert "SMS_ALLOW_LOG_IN_PRODUCTION=1" in str(refused.value)


def test_production_starts_with_the_log_sms_backend_when_explicitly_allowed(tmp_path):
    app = create_app(
        ProductionConfig,
        SECRET_KEY=GOOD_SECRET,
        PII_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.db'}",
        SMS_BACKEND="log",
        SMS_ALLOW_LOG_IN_PRODUCTION=True,
    )
    assert app.config["SMS_BACKEND"] == "log"


def test_bare_gunicorn_without_app_config_means_production(monkeypatch):
    from config import config_from_env

    monkeypatch.delenv("APP_CONFIG", raising=False)
    assert config_from_env() is ProductionConfig


def test_unknown_app_config_is_refused(monkeypatch):
    from config import config_from_env

    monkeypatch.setenv("APP_CONFIG", "staging")
    with pytest.raises(RuntimeError, match="staging"):
        config_from_env()


def test_development_generates_keys_into_the_instance_folder(tmp_path, monkeypatch):
    from config import DevelopmentConfig

    app = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'd.db'}")
    # The instance path is fixed at import; the keys are there and stable across starts.
    first = (app.config["SECRET_KEY"], app.config["PII_ENCRYPTION_KEY"])
    again = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'd.db'}")
    assert first == (again.config["SECRET_KEY"], again.config["PII_ENCRYPTION_KEY"])
    assert first[0] != DEFAULT_SECRET_KEY
    Fernet(first[1])
