"""A volunteer's self check-in by the site code, and the offline queue a lead's scanner
sends when the signal comes back: a batch applied in sign-up order (the lock order), each
scan judged at the time it was made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import (
    ScanMethod,
    Shift,
    Signup,
    SignupStatus,
    User,
    VolunteerCard,
)
from ..services import qr
from .results import Policy, ScanResult, _result
from .scans import _apply, _log, scan


def self_scan(
    volunteer: User, token: str, *, now: datetime, policy: Policy | None = None
) -> ScanResult:
    """A volunteer scans the site code shown (or printed) at the site."""
    policy = policy or Policy()
    decoded = qr.decode(token, now)
    if decoded.problem:
        result = _result(decoded.problem, volunteer=volunteer)
    elif decoded.kind not in ("site", "printed_site"):
        result = _result("volunteer_code", volunteer=volunteer)
    else:
        shift = db.session.get(Shift, decoded.ident)
        if shift is None:
            result = _result("unknown", volunteer=volunteer)
        else:
            result = _apply(volunteer, shift, volunteer, now, ScanMethod.SELF_SCAN, policy)
    _log(result, actor=volunteer, nonce=None, method=ScanMethod.SELF_SCAN, now=now, scanned_at=None)
    return result


@dataclass
class Synced:
    """A batch's answers, one per scan in the batch's order; `counts`: the shift's live
    counts after them when the scan read them already (a batch of one), else None."""

    answers: list[dict]
    counts: dict[str, int] | None = None


def sync(
    actor: User, shift: Shift, scans: list[dict], *, now: datetime, policy: Policy | None = None
) -> Synced:
    """Apply a batch of queued scans; one answer per scan (in the batch's order), each
    applied once. The scans are applied in sign-up order (a volunteer's own scans in the
    order they were made), so that two batches lock the same rows in the same order."""
    scans = scans[:500]
    answers: list[dict] = [{} for _ in scans]
    live = None
    # One scan needs no order (and its sign-up is read where it is applied).
    keys = _signup_keys(shift, scans, now) if len(scans) > 1 else [0] * len(scans)
    order = sorted(
        range(len(scans)),
        key=lambda i: (keys[i], _scan_ms(scans[i].get("scanned_at")), i),
    )
    for index in order:
        item = scans[index]
        nonce = str(item.get("nonce") or "")[:64]
        if not nonce:
            answers[index] = {
                "nonce": None,
                "ok": False,
                "code": "bad_request",
                "message": str(_l("Each scan needs a nonce.")),
            }
            continue
        scanned_at = _parse_time(item.get("scanned_at"))
        token = item.get("token")
        signup_id = item.get("signup_id")
        method = ScanMethod.OFFLINE if item.get("offline") else ScanMethod.SCANNER
        if signup_id is not None:
            method = ScanMethod.MANUAL
        try:
            signup_id = int(signup_id) if signup_id is not None else None
        except (TypeError, ValueError, OverflowError):
            signup_id = None
        result = scan(
            actor,
            now=now,
            token=str(token) if token else None,
            signup_id=signup_id,
            shift=shift,
            method=method,
            nonce=nonce,
            scanned_at=scanned_at,
            policy=policy,
            alone=len(scans) == 1,
        )
        answers[index] = {"nonce": nonce, **result.as_json()}
        live = result.counts
    return Synced(answers, live)


def _scan_ms(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _signup_keys(shift: Shift, scans: list[dict], now: datetime) -> list[int]:
    """The sign-up id each scan would touch (0 when it names none): read, not locked."""
    user_of: list[int | None] = []
    cards: set[int] = set()
    decoded = []
    for item in scans:
        token = item.get("token")
        code = qr.decode(str(token), now) if token and not item.get("signup_id") else None
        decoded.append(code)
        if code is not None and code.kind == "card":
            cards.add(code.ident)
    card_users = (
        dict(
            db.session.execute(
                select(VolunteerCard.id, VolunteerCard.user_id).where(VolunteerCard.id.in_(cards))
            ).all()
        )
        if cards
        else {}
    )
    for code in decoded:
        if code is None or code.kind not in ("volunteer", "card"):
            user_of.append(None)
        else:
            user_of.append(code.ident if code.kind == "volunteer" else card_users.get(code.ident))
    users = {u for u in user_of if u is not None}
    signup_of = (
        dict(
            db.session.execute(
                select(Signup.user_id, Signup.id).where(
                    Signup.shift_id == shift.id,
                    Signup.user_id.in_(users),
                    Signup.status != SignupStatus.CANCELLED,
                )
            ).all()
        )
        if users
        else {}
    )
    keys = []
    for item, user in zip(scans, user_of, strict=True):
        given = item.get("signup_id")
        if given is not None:
            try:
                keys.append(max(int(given), 0))
            except (TypeError, ValueError, OverflowError):
                keys.append(0)
        else:
            keys.append(signup_of.get(user, 0) if user is not None else 0)
    return keys


def _parse_time(value: object) -> datetime | None:
    """Epoch milliseconds (what the scanner page sends) to naive UTC."""
    if isinstance(value, (int, float)) and 0 < value < 10**14:
        return datetime.utcfromtimestamp(value / 1000)
    return None


# ---------------------------------------------------------------- the lead's other tools
