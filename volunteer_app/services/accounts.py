"""Accounts: registration, login with lockout, password change, preferences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import LoginThrottle, User
from ..timeutil import utcnow
from . import ServiceError, audit, identifiers
from .passwords import dummy_verify, hash_password, password_problems, verify_password

#: A normalised mainland mobile number (ASCII digits only).
PHONE_RE = identifiers.PHONE_RE


def normalise_phone(raw: str | None) -> str:
    """The one normal form of a typed mobile number (services.identifiers)."""
    return identifiers.phone(raw)


def phone_problem(phone: str) -> str | None:
    """Why the number is not a mainland mobile number, or None."""
    if not identifiers.is_phone(phone):
        return str(_l("Please enter an 11-digit mainland mobile number starting with 13–19."))
    return None


def find_user(phone: str) -> User | None:
    """The account with this phone number, if any."""
    return db.session.scalar(select(User).where(User.phone == phone))


def register(
    phone: str,
    password: str,
    *,
    display_name: str = "",
    locale: str | None = None,
    ip: str | None = None,
    phone_verified: bool = False,
) -> User:
    """Create an account; every problem with the input is reported at once."""
    phone = normalise_phone(phone)
    problems = [p for p in [phone_problem(phone)] if p] + password_problems(password)
    if not problems and find_user(phone) is not None:
        problems.append(
            str(_l("This phone number is already registered. Log in or reset the password."))
        )
    if problems:
        raise ServiceError(problems)
    user = User(
        phone=phone,
        password_hash=hash_password(password),
        display_name=display_name.strip()[:50],
        locale=locale,
        password_changed_at=utcnow(),
        phone_verified_at=utcnow() if phone_verified else None,
    )
    db.session.add(user)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        # Two registrations of one number at the same moment: the unique index decides.
        raise ServiceError(
            _l("This phone number is already registered. Log in or reset the password.")
        ) from None
    audit.record("account.register", actor=user, ip=ip, obj=user)
    return user


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None
    locked_minutes: int = 0


def _throttle(phone: str) -> LoginThrottle:
    row = db.session.get(LoginThrottle, phone, with_for_update=True)
    if row is None:
        row = LoginThrottle(phone=phone, failures=0)
        try:
            with db.session.begin_nested():
                db.session.add(row)
                db.session.flush()
        except IntegrityError:
            row = db.session.get(LoginThrottle, phone, with_for_update=True, populate_existing=True)
    return row


def _minutes_left(until: datetime, now: datetime) -> int:
    return max(1, -(-int((until - now).total_seconds()) // 60))


def authenticate(
    phone: str,
    password: str,
    *,
    max_failures: int,
    lock_minutes: int,
    ip: str | None = None,
    now: datetime | None = None,
) -> LoginResult:
    """Check a login. Counts failures per number (registered or not) and locks after
    `max_failures`; the answer is the same whether or not the number is registered.
    The caller commits whatever the outcome, so that failures are remembered."""
    now = now or utcnow()
    phone = normalise_phone(phone)
    wrong = str(_l("Wrong phone number or password."))
    if not identifiers.is_phone(phone):
        return LoginResult(None, str(phone_problem(phone)))
    throttle = _throttle(phone)
    user = find_user(phone)
    if throttle.locked_until and throttle.locked_until > now:
        minutes = _minutes_left(throttle.locked_until, now)
        audit.record(
            "auth.login", actor=user, ip=ip, success=False, reason="locked", phone=phone[-4:]
        )
        return LoginResult(None, _locked_message(minutes), minutes)
    if user is None:
        dummy_verify(password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password) and user.active
    if ok:
        assert user is not None
        throttle.failures = 0
        throttle.locked_until = None
        user.last_login_at = now
        audit.record("auth.login", actor=user, ip=ip)
        db.session.flush()
        return LoginResult(user)
    if throttle.locked_until and throttle.locked_until <= now:
        throttle.failures = 0  # the previous lock has run out: count afresh
        throttle.locked_until = None
    throttle.failures += 1
    throttle.last_failure_at = now
    audit.record(
        "auth.login", actor=user, ip=ip, success=False, reason="password", phone=phone[-4:]
    )
    if throttle.failures >= max_failures:
        throttle.locked_until = now + timedelta(minutes=lock_minutes)
        db.session.flush()
        return LoginResult(None, _locked_message(lock_minutes), lock_minutes)
    db.session.flush()
    left = max_failures - throttle.failures
    return LoginResult(
        None, wrong + " " + str(_l("%(n)d attempts left before a temporary lock.", n=left))
    )


def _locked_message(minutes: int) -> str:
    return str(
        _l(
            "Too many failed logins: this account is locked. Try again in %(n)d minutes.",
            n=minutes,
        )
    )


def change_password(user: User, current: str, new: str, *, ip: str | None = None) -> None:
    """Replace the password after checking the current one; all problems at once."""
    problems = []
    if not verify_password(user.password_hash, current):
        problems.append(str(_l("The current password is not correct.")))
    problems += password_problems(new)
    if current and new == current:
        problems.append(str(_l("The new password must differ from the current one.")))
    if problems:
        audit.record("account.password_change", actor=user, ip=ip, success=False)
        raise ServiceError(problems)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    audit.record("account.password_change", actor=user, ip=ip)
    db.session.flush()


def reset_password(phone: str, new: str, *, ip: str | None = None) -> User:
    """Set a new password for a number proven by an SMS code; it also lifts a lockout."""
    problems = password_problems(new)
    user = find_user(normalise_phone(phone))
    if user is None or user.deleted_at is not None:
        problems.append(str(_l("The code is wrong or has expired. Ask for a new one if needed.")))
    if problems:
        raise ServiceError(problems)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.phone_verified_at = user.phone_verified_at or utcnow()
    user.active = True
    throttle = db.session.get(LoginThrottle, user.phone)
    if throttle is not None:
        throttle.failures = 0
        throttle.locked_until = None
    audit.record("account.password_reset", actor=user, ip=ip)
    db.session.flush()
    return user


def set_preferences(
    user: User, *, locale: str | None = None, large_text: bool | None = None
) -> None:
    """Remember the language and large-text choice on the account."""
    if locale is not None:
        user.locale = locale
    if large_text is not None:
        user.large_text = large_text
    db.session.flush()


def login_with_code(phone: str, code: str, *, now: datetime, ip: str | None = None) -> User:
    """The account of the number once its login code checks out (audited either way)."""
    from ..models import CodePurpose
    from . import sms

    phone = normalise_phone(phone)
    try:
        sms.check_code(phone, CodePurpose.LOGIN, code, now=now)
    except ServiceError:
        audit.record("auth.login", actor=find_user(phone), ip=ip, success=False, reason="code")
        raise
    user = find_user(phone)
    if user is None or not user.active:
        raise ServiceError(_l("The code is wrong or has expired. Ask for a new one if needed."))
    user.last_login_at = now
    audit.record("auth.login", actor=user, ip=ip, method="sms")
    db.session.flush()
    return user
