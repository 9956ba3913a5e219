"""Configuration classes; every setting can also be set from the environment."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))

#: The value shipped in the code; production refuses to start with it.
DEFAULT_SECRET_KEY = "dev-only-change-me"


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


class Config:
    """Settings shared by every mode."""

    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    #: Fernet key (urlsafe base64, 32 bytes) that encrypts ID numbers at rest.
    PII_ENCRYPTION_KEY = os.environ.get("PII_ENCRYPTION_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'volunteer.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    #: Seconds a SQLite writer waits for the lock before giving up.
    SQLITE_BUSY_TIMEOUT = _int("SQLITE_BUSY_TIMEOUT", 15)

    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
    LANGUAGES = {"zh": "中文", "en": "English"}

    BOOTSTRAP_SERVE_LOCAL = True
    BOOTSTRAP_BOOTSWATCH_THEME = None

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_DURATION = timedelta(days=_int("REMEMBER_DAYS", 30))
    PERMANENT_SESSION_LIFETIME = timedelta(days=_int("SESSION_DAYS", 7))
    #: Staff (anyone holding a lead, organiser, secretary or admin grant) are
    #: logged out after this many idle minutes.
    STAFF_IDLE_MINUTES = _int("STAFF_IDLE_MINUTES", 30)
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 8 * 1024 * 1024)

    ARGON2_TIME_COST = _int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_KIB = _int("ARGON2_MEMORY_KIB", 65536)
    ARGON2_PARALLELISM = _int("ARGON2_PARALLELISM", 4)

    LOGIN_MAX_FAILURES = _int("LOGIN_MAX_FAILURES", 5)
    LOGIN_LOCK_MINUTES = _int("LOGIN_LOCK_MINUTES", 10)

    #: Rate limits (volunteer_app/ratelimits.py): Redis where more than one process serves.
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "")
    RATELIMIT_HEADERS_ENABLED = True
    #: Camera frames one account may send to POST /api/v1/decode (the scanner page sends
    #: one every 0.7 s while its camera runs on a browser without BarcodeDetector).
    RATELIMIT_DECODE = os.environ.get("RATELIMIT_DECODE", "120 per minute;3000 per hour")
    #: Redis down: per-process memory limits, and any other storage error lets the request
    #: through (logged and counted); never a 500.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_REDIS_TIMEOUT = float(os.environ.get("RATELIMIT_REDIS_TIMEOUT", "0.5"))
    #: Production refuses memory:// with more than one worker unless this is set.
    RATELIMIT_ALLOW_MEMORY = _bool("RATELIMIT_ALLOW_MEMORY", False)
    #: Processes serving the app (gunicorn reads it too); the memory:// guard uses it.
    WEB_CONCURRENCY = _int("WEB_CONCURRENCY", 0)
    #: Per client address: generous, a registration drive shares one hall's NAT.
    RATELIMIT_LOGIN = os.environ.get("RATELIMIT_LOGIN", "60 per minute;3000 per day")
    RATELIMIT_REGISTER = os.environ.get("RATELIMIT_REGISTER", "60 per minute;3000 per day")
    #: Per phone number named by the request (login, asking for a code, checking a code).
    RATELIMIT_LOGIN_PHONE = os.environ.get("RATELIMIT_LOGIN_PHONE", "10 per minute;50 per day")
    RATELIMIT_CODE_PHONE = os.environ.get("RATELIMIT_CODE_PHONE", "5 per 10 minutes;20 per day")
    RATELIMIT_VERIFY_PHONE = os.environ.get("RATELIMIT_VERIFY_PHONE", "10 per 10 minutes")

    #: SQLite: a scheduler whose lock heartbeat is older than this is taken over (PostgreSQL
    #: frees its advisory lock the moment the holder's connection dies).
    SCHEDULER_LEASE_SECONDS = _int("SCHEDULER_LEASE_SECONDS", 90)

    #: Repeated no-shows hold a volunteer to the waitlist (Engelsystem's rule).
    NOSHOW_HOLD_COUNT = _int("NOSHOW_HOLD_COUNT", 3)
    NOSHOW_HOLD_WITHIN_DAYS = _int("NOSHOW_HOLD_WITHIN_DAYS", 90)
    NOSHOW_HOLD_DAYS = _int("NOSHOW_HOLD_DAYS", 30)

    #: A second scan this many minutes after check-in checks the volunteer out.
    CHECKOUT_MIN_MINUTES = _int("CHECKOUT_MIN_MINUTES", 30)
    #: Early arrival / late stay credited up to this many minutes beyond the shift.
    CREDIT_GRACE_MINUTES = _int("CREDIT_GRACE_MINUTES", 0)

    #: The national record (issue 18: docs/exchange.md).
    #: Four eyes: whoever confirmed or entered a record cannot approve it; another
    #: organiser of the host does.
    FOUR_EYES_APPROVAL = _bool("FOUR_EYES_APPROVAL", True)
    #: Hours imported from the national system (转移接续) count towards star levels.
    EXTERNAL_HOURS_COUNT_FOR_STARS = _bool("EXTERNAL_HOURS_COUNT_FOR_STARS", False)
    #: The certificate's issuer (办法 Art 15): unit, person in charge, handler, contact.
    CERTIFICATE_ISSUER = os.environ.get("CERTIFICATE_ISSUER", "即墨区文明办 志愿先行平台")
    CERTIFICATE_HEAD = os.environ.get("CERTIFICATE_HEAD", "即墨区文明办负责人")
    CERTIFICATE_HANDLER = os.environ.get("CERTIFICATE_HANDLER", "志愿先行平台（自助出具）")
    CERTIFICATE_CONTACT = os.environ.get("CERTIFICATE_CONTACT", "0532-88512345")
    #: A TrueType CJK font file (.ttf, or .ttc with "#index") embedded in certificates;
    #: empty: the first of services.pdf_fonts.CANDIDATES that is installed.
    CERTIFICATE_FONT = os.environ.get("CERTIFICATE_FONT", "")

    #: Number of reverse proxies in front of the app whose X-Forwarded-* headers to trust.
    PROXY_FIX = _int("PROXY_FIX", 0)
    #: The site's address as users reach it, for links in SMS and e-mail.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
    #: Audit rows older than this are purged (never under 180 days: 网络安全法 Art 21).
    AUDIT_RETENTION_DAYS = _int("AUDIT_RETENTION_DAYS", 365)

    #: Strict-Transport-Security is sent only where TLS is known to front the app.
    HSTS = _bool("HSTS", False)
    DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "Volunteer2026")

    #: The app compresses its responses (Brotli or gzip); behind a proxy that compresses,
    #: APP_COMPRESS=0 leaves it to the proxy (docs/deploy.md).
    APP_COMPRESS = _bool("APP_COMPRESS", True)

    #: Notification channels
    #: (volunteer_app/services/channels.py)
    #: E-mail over SMTP; without MAIL_SERVER e-mail is off and such rows fail visibly.
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)  # STARTTLS on a plain connection
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)  # TLS from the start (port 465)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_FROM = os.environ.get("MAIL_FROM", "志愿先行 <noreply@localhost>")
    MAIL_TIMEOUT = _int("MAIL_TIMEOUT", 10)
    #: SMS (volunteer_app/services/sms_backends.py): "log" writes the text to the log (and
    #: /dev/messages); "http" POSTs JSON to SMS_GATEWAY_URL with "Authorization: Bearer
    #: SMS_API_KEY"; "aliyun" sends approved templates through Aliyun SMS (SendSms).
    #: Production refuses "log" unless SMS_ALLOW_LOG_IN_PRODUCTION is on.
    SMS_BACKEND = os.environ.get("SMS_BACKEND", "log")
    SMS_ALLOW_LOG_IN_PRODUCTION = _bool("SMS_ALLOW_LOG_IN_PRODUCTION", False)
    SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL") or None
    SMS_API_KEY = os.environ.get("SMS_API_KEY") or None
    SMS_SIGN = os.environ.get("SMS_SIGN", "志愿先行")
    #: A JSON object, template name -> the provider's template id (read when sending).
    SMS_TEMPLATE_IDS = os.environ.get("SMS_TEMPLATE_IDS") or None
    SMS_TIMEOUT = _int("SMS_TIMEOUT", 10)
    #: Aliyun SMS (Dysmsapi): the AccessKey pair; the endpoint only changes for tests.
    SMS_ALIYUN_ACCESS_KEY_ID = os.environ.get("SMS_ALIYUN_ACCESS_KEY_ID") or None
    SMS_ALIYUN_ACCESS_KEY_SECRET = os.environ.get("SMS_ALIYUN_ACCESS_KEY_SECRET") or None
    SMS_ALIYUN_ENDPOINT = os.environ.get("SMS_ALIYUN_ENDPOINT") or None
    SMS_ALIYUN_REGION = os.environ.get("SMS_ALIYUN_REGION", "cn-hangzhou")
    #: Notification SMS one phone receives at most per day (Asia/Shanghai); 0 = no cap.
    #: Verification codes have their own limits (services/sms.py) and do not count.
    SMS_DAILY_CAP = _int("SMS_DAILY_CAP", 20)
    #: A message about a shift that starts before the recipient's quiet hours end (plus two
    #: hours) goes by SMS at once instead of waiting for the morning.
    NOTIFY_URGENT_OVERRIDES_QUIET = _bool("NOTIFY_URGENT_OVERRIDES_QUIET", True)


class DevelopmentConfig(Config):
    """`make run`: the embedded SQLite database and keys generated into instance/."""

    ENV_NAME = "development"
    GENERATE_DEV_KEYS = True
    SHOW_DEMO_LOGINS = True
    #: /dev/messages lists the SMS the log channel "sent" (codes for a local registration).
    DEV_TOOLS = _bool("DEV_TOOLS", True)


class TestingConfig(Config):
    """pytest: SQLite in a temporary folder unless the fixture passes a URL."""

    ENV_NAME = "testing"
    TESTING = True
    GENERATE_DEV_KEYS = False
    SECRET_KEY = "testing-secret-key"
    PII_ENCRYPTION_KEY = "nPz3ojd9bXK0ezv6dWZ9R1F4m7YbHC7QmEyu_Hh8S1E="
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_SQLITE_URL", "sqlite://")
    RATELIMIT_ENABLED = False
    WTF_CSRF_ENABLED = True
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_KIB = 1024
    ARGON2_PARALLELISM = 1


class ProductionConfig(Config):
    """gunicorn: refuses to start with unsafe defaults (see `check_production`)."""

    ENV_NAME = "production"
    GENERATE_DEV_KEYS = False
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    HSTS = _bool("HSTS", True)


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    """The class named by APP_CONFIG; production when unset, so a bare gunicorn is safe."""
    name = os.environ.get("APP_CONFIG", "production").strip().lower()
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"APP_CONFIG={name!r} is not one of {', '.join(CONFIGS)}") from None
