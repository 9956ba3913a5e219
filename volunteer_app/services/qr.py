"""Signed QR tokens: rotating volunteer codes, printable cards, site codes; QR images.

Tokens are short (a QR code a cheap phone camera reads at arm's length) and signed with an
HMAC under a key derived from SECRET_KEY; they carry ids, never anything personal.

    v<user>.<window>.<sig>   volunteer code, rotates every ROTATE seconds; the previous
                             window is accepted so a scan across the boundary works
    c<card>.<sig>            printed card; valid until the card is revoked
    s<shift>.<window>.<sig>  rotating site code shown on the lead's screen
    S<shift>.<sig>           printable site code, valid only in the shift's check-in window
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import qrcode
import qrcode.image.svg
from flask import current_app

ROTATE = 30  # seconds a rotating code is shown before the next one


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _key() -> bytes:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, b"volunteer-app/qr-tokens", hashlib.sha256).digest()


def _sign(body: str) -> str:
    digest = hmac.new(_key(), body.encode(), hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def window_of(moment: datetime) -> int:
    """The rotation window a moment (naive UTC) falls in."""
    return int(moment.timestamp()) // ROTATE


def volunteer_token(user_id: int, now: datetime) -> str:
    body = f"v{_b36(user_id)}.{_b36(window_of(now))}"
    return f"{body}.{_sign(body)}"


def card_token(card_id: int) -> str:
    body = f"c{_b36(card_id)}"
    return f"{body}.{_sign(body)}"


def site_token(shift_id: int, now: datetime) -> str:
    body = f"s{_b36(shift_id)}.{_b36(window_of(now))}"
    return f"{body}.{_sign(body)}"


def printed_site_token(shift_id: int) -> str:
    body = f"S{_b36(shift_id)}"
    return f"{body}.{_sign(body)}"


@dataclass(frozen=True)
class Decoded:
    kind: str  # volunteer | card | site | printed_site
    ident: int  # user id, card id or shift id
    #: Why the token is not usable ("" when it is): tampered, expired, malformed.
    problem: str = ""


_KINDS = {"v": "volunteer", "c": "card", "s": "site", "S": "printed_site"}


def decode(token: str, now: datetime, *, skew: timedelta = timedelta(0)) -> Decoded:
    """Check a token's signature and age at `now` (a rotating code is current in its own
    window and the next, widened by `skew` either way); never raises for bad input."""
    token = (token or "").strip()
    parts = token.split(".")
    if not 2 <= len(parts) <= 3 or not parts[0] or parts[0][0] not in _KINDS or len(token) > 80:
        return Decoded("unknown", 0, "malformed")
    kind = _KINDS[parts[0][0]]
    try:
        ident = int(parts[0][1:], 36)
        window = int(parts[1], 36) if len(parts) == 3 else None
    except ValueError:
        return Decoded(kind, 0, "malformed")
    rotating = kind in ("volunteer", "site")
    if rotating != (window is not None):
        return Decoded(kind, ident, "malformed")
    body = ".".join(parts[:-1])
    if not hmac.compare_digest(_sign(body), parts[-1]):
        return Decoded(kind, ident, "tampered")
    if window is not None and not (window_of(now - skew) - 1 <= window <= window_of(now + skew)):
        return Decoded(kind, ident, "expired")
    return Decoded(kind, ident)


def svg(data: str) -> bytes:
    """The QR code for `data` as an SVG (no external assets, scales to any screen)."""
    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=10,
        border=2,
    )
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
