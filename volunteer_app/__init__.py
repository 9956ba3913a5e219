"""志愿先行 · Volunteers First: the application factory."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from flask import Flask

from config import BASE_DIR, DEFAULT_SECRET_KEY, INSTANCE_DIR, Config, config_from_env


def create_app(config: type[Config] | None = None, **overrides: Any) -> Flask:
    """Build the app: configuration, extensions, blueprints, error pages, commands."""
    app = Flask(
        __name__,
        instance_path=str(INSTANCE_DIR),
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
    )
    app.config.from_object(config or config_from_env())
    app.config.update(overrides)
    load_dev_keys(app)
    check_production(app)

    if app.config.get("PROXY_FIX"):
        # Behind nginx (or another proxy): trust its X-Forwarded-* headers for the client
        # address (rate limits, audit log) and the public scheme and host (QR links).
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["PROXY_FIX"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    register_extensions(app)
    register_assets(app)
    register_converters(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_request_hooks(app)
    register_template_context(app)
    register_commands(app)
    return app


def load_dev_keys(app: Flask) -> None:
    """In development, generate the secret and the personal-data key into instance/."""
    if not app.config.get("GENERATE_DEV_KEYS"):
        return
    keyfile = Path(app.instance_path) / "dev-keys.json"
    keyfile.parent.mkdir(parents=True, exist_ok=True)
    if keyfile.exists():
        keys = json.loads(keyfile.read_text())
    else:
        keys = {
            "SECRET_KEY": secrets.token_urlsafe(32),
            "PII_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
        keyfile.write_text(json.dumps(keys, indent=2))
        keyfile.chmod(0o600)
    if app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY:
        app.config["SECRET_KEY"] = keys["SECRET_KEY"]
    if not app.config.get("PII_ENCRYPTION_KEY"):
        app.config["PII_ENCRYPTION_KEY"] = keys["PII_ENCRYPTION_KEY"]


class UnsafeConfiguration(RuntimeError):
    """Production settings that must not be used; the message says which."""


def check_production(app: Flask) -> None:
    """Refuse to start production with the default secret or without the data key."""
    if app.config.get("ENV_NAME") != "production":
        return
    problems = []
    secret = app.config.get("SECRET_KEY") or ""
    if secret == DEFAULT_SECRET_KEY or len(secret) < 16:
        problems.append(
            "SECRET_KEY is the built-in default or shorter than 16 characters: set SECRET_KEY "
            "to a long random value (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    key = app.config.get("PII_ENCRYPTION_KEY")
    if not key:
        problems.append(
            "PII_ENCRYPTION_KEY is not set: it encrypts ID numbers at rest; generate one with "
            "python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        )
    else:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            problems.append(
                "PII_ENCRYPTION_KEY is not a valid Fernet key (32 bytes, urlsafe base64)"
            )
    from .timeutil import CLOCK_ENV, clock_shifted

    if clock_shifted():
        problems.append(f"{CLOCK_ENV} is set: it moves the app's clock, for tests only; unset it")
    sms_backend = (app.config.get("SMS_BACKEND") or "log").strip().lower()
    if sms_backend == "log" and not app.config.get("SMS_ALLOW_LOG_IN_PRODUCTION"):
        problems.append(
            "SMS_BACKEND is 'log': text messages (codes, reminders, cancellations) would only "
            "be written to the log. Set SMS_BACKEND to 'aliyun' or 'http', or set "
            "SMS_ALLOW_LOG_IN_PRODUCTION=1 if this installation really sends no SMS"
        )
    if not (app.config.get("PUBLIC_BASE_URL") or "").strip():
        app.logger.warning(
            "PUBLIC_BASE_URL is not set: links in SMS and e-mail will not be absolute"
        )
    from .ratelimits import production_problems

    problems.extend(production_problems(app.config))
    if problems:
        raise UnsafeConfiguration(
            "Refusing to start in production (APP_CONFIG=production; use APP_CONFIG=development "
            "for a local run):\n  - " + "\n  - ".join(problems)
        )


def register_extensions(app: Flask) -> None:
    from .extensions import babel, bootstrap, csrf, db, limiter, login_manager, migrate
    from .i18n import babel_locale, select_timezone
    from .services.database import configure_engine
    from .services.passwords import configure_hasher

    db.init_app(app)
    configure_engine(app)
    from flask_sqlalchemy.session import Session

    from .services import registrations

    registrations.install(Session)
    migrate.init_app(
        app, db, directory=str(BASE_DIR / "migrations"), compare_type=True, render_as_batch=True
    )
    csrf.init_app(app)
    babel.init_app(app, locale_selector=babel_locale, timezone_selector=select_timezone)
    bootstrap.init_app(app)
    from .ratelimits import configure as configure_ratelimits

    configure_ratelimits(app)
    limiter.init_app(app)
    configure_hasher(
        app.config["ARGON2_TIME_COST"],
        app.config["ARGON2_MEMORY_KIB"],
        app.config["ARGON2_PARALLELISM"],
    )

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    from flask_babel import lazy_gettext as _l

    from .models import User

    login_manager.login_message = _l("Please log in to open this page.")

    from sqlalchemy import bindparam, select

    from .query import MAX_ID

    # Built once: a cached SELECT costs a quarter less than Session.get's own path, and the
    # session is empty when a request loads its user, so there is no identity map to ask.
    by_id = select(User).where(User.id == bindparam("user_id"))

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        if not user_id.isdigit() or int(user_id) > MAX_ID:
            return None
        user = db.session.execute(by_id, {"user_id": int(user_id)}).scalar_one_or_none()
        return user if user is not None and user.active else None


def register_assets(app: Flask) -> None:
    from .assets import register

    register(app)


def register_converters(app: Flask) -> None:
    """`<int:…>` in URLs stops at the largest id a database column holds, so an absurd id
    is a plain 404 instead of an overflow inside the database driver."""
    from werkzeug.routing import IntegerConverter

    from .query import MAX_ID

    class IdConverter(IntegerConverter):
        def __init__(self, url_map, *args, **kwargs):
            kwargs.setdefault("max", MAX_ID)
            super().__init__(url_map, *args, **kwargs)

    app.url_map.converters["int"] = IdConverter


def register_blueprints(app: Flask) -> None:
    from .admin.blueprint import bp as admin_bp
    from .api.blueprint import bp as api_bp
    from .auth.blueprint import bp as auth_bp
    from .checkin.blueprint import bp as checkin_bp
    from .events.blueprint import bp as events_bp
    from .exchange.blueprint import bp as exchange_bp
    from .hours.blueprint import bp as hours_bp
    from .main.blueprint import bp as main_bp
    from .notifications.blueprint import bp as notifications_bp
    from .offline.blueprint import bp as offline_bp
    from .organise.blueprint import bp as organise_bp
    from .tallies.blueprint import bp as tallies_bp
    from .volunteers.blueprint import bp as volunteers_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(volunteers_bp)
    app.register_blueprint(events_bp)
    app.register_blueprint(checkin_bp)
    app.register_blueprint(hours_bp)
    app.register_blueprint(exchange_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(offline_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(tallies_bp, url_prefix="/tallies")
    app.register_blueprint(organise_bp, url_prefix="/organise")
    if app.config.get("DEV_TOOLS"):
        from .dev import bp as dev_bp

        app.register_blueprint(dev_bp, url_prefix="/dev")


def register_errorhandlers(app: Flask) -> None:
    from .errors import register

    register(app)


def register_request_hooks(app: Flask) -> None:
    from .hooks import register

    register(app)


def register_template_context(app: Flask) -> None:
    from . import labels
    from .navigation import register

    register(app)
    labels.register(app)


def register_commands(app: Flask) -> None:
    from .cli import register

    register(app)
