"""Volunteer codes computed on the phone with no network (TOTP-style).

While online, "My QR code" is given a device secret (32 random bytes; stored here encrypted,
services/pii.py). From it the phone derives, with no network, a code for every 30-second
step:

    day_key(day)  = HMAC-SHA256(secret, "day:<UTC day number>")
    code(step)    = base64url(HMAC-SHA256(day_key(day of step), "<step>")[:9])
    token         = t<device id, base 36>.<code>

The server accepts the steps around the moment of the scan (±1: the volunteer's clock may be
a little off; a code lives 90 s at most). The lead's scanner is given, for the volunteers on
its roster, only the day keys of the shift's day(s): it can verify their codes offline
(provisionally: the server checks each one again when the queue is synced) but learns
nothing that works on another day. A code value is accepted once per shift (CodeUse), and
revoking the device (the volunteer's lost phone, or an organiser) stops it at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import CodeUse, DeviceKey, User
from . import pii

STEP = 30  # seconds per code
TOLERANCE = 1  # steps either side of the moment of the scan
#: How far back a code is still recognised as this device's (to say "expired", not "forged").
RECOGNISE_STEPS = 20
#: Phones a volunteer may hold a code on at once; a further one retires the oldest.
MAX_DEVICES = 3
TOKEN_RE = re.compile(r"^t([0-9a-z]{1,7})\.([A-Za-z0-9_-]{12})$")


def step_of(moment: datetime) -> int:
    """The 30-second step a moment (naive UTC) falls in."""
    return int((moment - datetime(1970, 1, 1)).total_seconds()) // STEP


def day_of_step(step: int) -> int:
    return step * STEP // 86400


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def day_key(secret: bytes, day: int) -> bytes:
    return hmac.new(secret, f"day:{day}".encode(), hashlib.sha256).digest()


def code_for(secret: bytes, step: int) -> str:
    """The code the phone shows during `step`."""
    key = day_key(secret, day_of_step(step))
    return _b64(hmac.new(key, str(step).encode(), hashlib.sha256).digest()[:9])


def token_for(device: DeviceKey, step: int) -> str:
    return f"t{b36(device.id)}.{code_for(secret_of(device), step)}"


def b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def secret_of(device: DeviceKey) -> bytes:
    return base64.urlsafe_b64decode(pii.decrypt(device.secret_encrypted))


def is_device_token(token: str) -> bool:
    return bool(token) and token[0] == "t"


@dataclass(frozen=True)
class Checked:
    device: DeviceKey | None
    step: int | None = None
    #: "" when valid, else malformed | unknown | revoked | expired | tampered.
    problem: str = ""


def check(token: str, moment: datetime) -> Checked:
    """Whether a phone code is genuine and current at `moment`; never raises."""
    match = TOKEN_RE.match((token or "").strip())
    if not match:
        return Checked(None, problem="malformed")
    ident = int(match.group(1), 36)
    device = db.session.get(DeviceKey, ident) if ident <= 2**31 - 1 else None
    if device is None:
        return Checked(None, problem="unknown")
    if device.revoked_at is not None:
        return Checked(device, problem="revoked")
    secret = secret_of(device)
    given = match.group(2)
    now_step = step_of(moment)
    for step in range(now_step - TOLERANCE, now_step + TOLERANCE + 1):
        if hmac.compare_digest(code_for(secret, step), given):
            return Checked(device, step)
    for step in range(now_step - RECOGNISE_STEPS, now_step - TOLERANCE):
        if hmac.compare_digest(code_for(secret, step), given):
            return Checked(device, step, "expired")
    return Checked(device, problem="tampered")


def claim(device: DeviceKey, step: int, shift_id: int) -> bool:
    """Record that this code value was used for the shift; False if it had been already."""
    try:
        with db.session.begin_nested():
            db.session.add(CodeUse(device_id=device.id, step=step, shift_id=shift_id))
            db.session.flush()
    except IntegrityError:
        return False
    return True


# ---------------------------------------------------------------- devices


def issue(user: User, *, now: datetime) -> tuple[DeviceKey, str]:
    """A new device secret for this phone (returned once, base64url); beyond MAX_DEVICES the
    oldest of the volunteer's phones stops working."""
    raw = secrets.token_bytes(32)
    device = DeviceKey(
        user_id=user.id,
        secret_encrypted=pii.encrypt(base64.urlsafe_b64encode(raw).decode()),
        created_at=now,
    )
    db.session.add(device)
    db.session.flush()
    active = active_devices(user)
    for old in active[: max(len(active) - MAX_DEVICES, 0)]:
        old.revoked_at = now
    db.session.flush()
    return device, _b64(raw)


def active_devices(user: User) -> list[DeviceKey]:
    return list(
        db.session.scalars(
            select(DeviceKey)
            .where(DeviceKey.user_id == user.id, DeviceKey.revoked_at.is_(None))
            .order_by(DeviceKey.created_at, DeviceKey.id)
        )
    )


def revoke_all(user: User, *, actor: User, now: datetime) -> int:
    """Stop every phone code of the volunteer (a lost phone); each phone gets a new secret
    the next time it opens "My QR code" online while logged in."""
    devices = active_devices(user)
    for device in devices:
        device.revoked_at = now
        device.revoked_by_id = actor.id
    db.session.flush()
    return len(devices)


def owned(user: User, device_id: int) -> DeviceKey | None:
    device = db.session.get(DeviceKey, device_id) if 0 < device_id <= 2**31 - 1 else None
    if device is None or device.user_id != user.id or device.revoked_at is not None:
        return None
    return device


def day_keys_for(user_ids: list[int], start: datetime, end: datetime) -> dict[str, dict]:
    """For the scanner's offline check: each active device of these volunteers with its day
    keys for the days from `start` to `end` (UTC days, as the codes use)."""
    if not user_ids:
        return {}
    first = day_of_step(step_of(start - timedelta(seconds=STEP * (TOLERANCE + 1))))
    last = day_of_step(step_of(end + timedelta(seconds=STEP * (TOLERANCE + 1))))
    days = range(first, min(last, first + 2) + 1)
    devices = db.session.scalars(
        select(DeviceKey).where(DeviceKey.user_id.in_(user_ids), DeviceKey.revoked_at.is_(None))
    )
    out = {}
    for device in devices:
        secret = secret_of(device)
        out[b36(device.id)] = {
            "user": device.user_id,
            "keys": {str(day): _b64(day_key(secret, day)) for day in days},
        }
    return out
