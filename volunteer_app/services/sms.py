"""One-time SMS codes for registration, password reset and logging in by code.

Codes expire after 5 minutes and allow 5 tries; a number receives at most one message a
minute and ten a day. Every answer is the same whether or not the number is registered:
the owner of the number learns the difference from the message itself.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..extensions import db
from ..models import Channel, CodePurpose, SmsCode
from . import ServiceError, identifiers, notify, pii
from .accounts import find_user, normalise_phone, phone_problem

CODE_TTL = timedelta(minutes=5)
MAX_TRIES = 5
MIN_INTERVAL = timedelta(minutes=1)
DAILY_LIMIT = 10


def _hash(phone: str, purpose: CodePurpose, code: str) -> str:
    return pii.keyed_hash(f"{purpose.value}:{phone}:{code}", "sms")


def request_code(phone: str, purpose: CodePurpose, *, now: datetime, locale: str = "zh") -> int:
    """Send a code (or, where none applies, a notice) to the number; returns the outbox id.
    Raises ServiceError for a malformed number or a sending limit."""
    phone = normalise_phone(phone)
    problem = phone_problem(phone)
    if problem:
        raise ServiceError(problem)
    last = db.session.scalar(select(func.max(SmsCode.created_at)).where(SmsCode.phone == phone))
    if last is not None and now - last < MIN_INTERVAL:
        wait = int((MIN_INTERVAL - (now - last)).total_seconds()) + 1
        raise ServiceError(_l("A code was just sent. You can ask again in %(n)d seconds.", n=wait))
    today = db.session.scalar(
        select(func.count())
        .select_from(SmsCode)
        .where(SmsCode.phone == phone, SmsCode.created_at > now - timedelta(days=1))
    )
    if today >= DAILY_LIMIT:
        raise ServiceError(
            _l("This number has received too many codes today. Please try again tomorrow.")
        )
    user = find_user(phone)
    needs_code = (user is None) if purpose is CodePurpose.REGISTER else (user is not None)
    code = f"{secrets.randbelow(10**6):06d}" if needs_code else None
    db.session.add(
        SmsCode(
            phone=phone,
            purpose=purpose,
            code_hash=_hash(phone, purpose, code) if code else None,
            created_at=now,
            expires_at=now + CODE_TTL,
        )
    )
    if code:
        template, payload = "sms_code", {"code": code}
    elif purpose is CodePurpose.REGISTER:
        template, payload = "sms_already_registered", {}
    else:
        template, payload = "sms_not_registered", {}
    row = notify.enqueue(
        template,
        channel=Channel.SMS,
        user=user,
        address=phone,
        payload=payload,
        locale=(user.locale if user and user.locale else locale),
    )
    return row.id


def check_code(phone: str, purpose: CodePurpose, code: str, *, now: datetime) -> None:
    """Accept the latest unexpired code for the number, or raise ServiceError. Each try
    counts; the caller commits whatever the outcome."""
    phone = normalise_phone(phone)
    code = identifiers.fold(code)
    wrong = _l("The code is wrong or has expired. Ask for a new one if needed.")
    row = db.session.scalar(
        select(SmsCode)
        .where(SmsCode.phone == phone, SmsCode.purpose == purpose, SmsCode.used_at.is_(None))
        .order_by(SmsCode.created_at.desc(), SmsCode.id.desc())
        .limit(1)
        .with_for_update()
    )
    if row is None or row.expires_at <= now:
        raise ServiceError(wrong)
    if row.attempts >= MAX_TRIES:
        raise ServiceError(_l("Too many wrong codes. Please ask for a new code."))
    row.attempts += 1
    db.session.flush()
    if row.code_hash is None or not hmac.compare_digest(row.code_hash, _hash(phone, purpose, code)):
        raise ServiceError(wrong)
    row.used_at = now
    db.session.flush()
