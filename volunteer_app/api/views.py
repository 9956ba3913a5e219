"""/api/v1: roster, scans (one or a synced batch), walk-ins, counts, frame decoding."""

from __future__ import annotations

import io
import warnings
from datetime import datetime

from flask import current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import checkin
from ..extensions import db, limiter
from ..hooks import locks_late
from ..models import Attendance, Role, Shift, Signup, SignupStatus, VolunteerCard
from ..permissions import led_shifts, role_required
from ..services import ServiceError, accounts, devicecodes, qr
from ..services.database import is_sqlite, write_from_here
from ..timeutil import utcnow
from .blueprint import bp


def error(code: str, message: str, status: int):
    return jsonify(error={"code": code, "message": message}), status


#: The shift and its leads (who may scan) in one statement.
_WITH_LEADS = [joinedload(Shift.leads)]
#: The most pixels a camera frame sent to /decode may have (a phone's is under 13 M).
MAX_FRAME_PIXELS = 40_000_000


def policy() -> checkin.Policy:
    return checkin.Policy.from_config(current_app.config)


def _led_shift(shift_id: int) -> Shift:
    """The shift (with its leads) if the caller leads it (`permissions.led_shifts`); 404."""
    return led_shifts.load(shift_id, options=_WITH_LEADS)


@bp.before_request
def require_login():
    if not current_user.is_authenticated:
        return error("login_required", _("Please log in to open this page."), 401)
    return None


@bp.route("/shifts/<int:shift_id>/roster")
def roster(shift_id: int):
    """Everything the scanner page needs to keep working offline."""
    shift = _led_shift(shift_id)
    rows = db.session.execute(
        select(Signup, Attendance)
        .outerjoin(Attendance, Attendance.signup_id == Signup.id)
        .where(
            Signup.shift_id == shift.id,
            Signup.status.in_(
                [SignupStatus.CONFIRMED, SignupStatus.ATTENDED, SignupStatus.NO_SHOW]
            ),
        )
    ).all()
    cards = dict(
        db.session.execute(
            select(VolunteerCard.id, VolunteerCard.user_id).where(
                VolunteerCard.user_id.in_([s.user_id for s, _a in rows]),
                VolunteerCard.revoked_at.is_(None),
            )
        ).all()
    )
    by_user = {}
    roster_rows = []
    for signup, attendance in rows:
        by_user[signup.user_id] = signup.id
        roster_rows.append(
            {
                "signup_id": signup.id,
                "user_id": signup.user_id,
                "name": signup.user.display_name,
                "phone_tail": signup.user.phone[-4:],
                "status": signup.status.value,
                "checked_in_at": _iso(attendance.checked_in_at) if attendance else None,
                "checked_out_at": _iso(attendance.checked_out_at) if attendance else None,
            }
        )
    start, end = checkin.window(shift)
    return jsonify(
        shift={
            "id": shift.id,
            "event": shift.event.title,
            "post": shift.post,
            "starts_at": _iso(shift.starts_at),
            "ends_at": _iso(shift.ends_at),
            "window": [_iso(start), _iso(end)],
            "open": checkin.is_open(shift, utcnow()),
        },
        counts=checkin.counts(shift),
        roster=roster_rows,
        # Offline the page can read a code's kind and id (not check its signature): it
        # matches them here and the server checks each one when the queue is synced.
        offline={
            "users": by_user,
            "cards": {str(c): u for c, u in cards.items()},
            # Phone codes (services/devicecodes.py): the day keys of the shift's days only.
            "devices": devicecodes.day_keys_for(list(by_user), start, end),
            "step": devicecodes.STEP,
            "tolerance": devicecodes.TOLERANCE,
        },
        rotate_seconds=qr.ROTATE,
        server_time=server_time(),
        now=server_time(),
    )


def server_time() -> int:
    """The server's clock in epoch ms: the scanner page dates its offline scans by it."""
    return int((utcnow() - datetime(1970, 1, 1)).total_seconds() * 1000)


def _iso(value) -> str | None:
    return value.isoformat() + "Z" if value else None


@bp.route("/shifts/<int:shift_id>/scans", methods=["POST"])
@locks_late
def scans(shift_id: int):
    """One scan or a synced offline batch: {"scans": [{nonce, token | signup_id,
    scanned_at (epoch ms), offline}]} -> one answer per scan, each applied once."""
    # The shift row is the first lock a scan takes (checkin/scans.py): on PostgreSQL by
    # the query that loads it, so a twin request waits here for the first. On SQLite the
    # shift and its leads are read first and the write lock is taken after: the scan's
    # own rows (sign-up, attendance, the log's nonce) are read and written under it.
    shift = led_shifts.load(shift_id, options=_WITH_LEADS, for_update=not is_sqlite())
    write_from_here()
    checkin.shift_held(shift.id)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("scans"), list):
        return error("bad_request", _("The request must be JSON with a list of scans."), 400)
    if len(payload["scans"]) > 500:
        return error("too_many", _("At most 500 scans per request."), 413)
    items = [s for s in payload["scans"] if isinstance(s, dict)]
    synced = checkin.sync(current_user, shift, items, now=utcnow(), policy=policy())
    # Read in the transaction, so they include these scans: by a batch of one with its
    # scan, else here.
    live = synced.counts or checkin.counts(shift)
    return jsonify(results=synced.answers, counts=live, server_time=server_time())


@bp.route("/shifts/<int:shift_id>/walk-ins", methods=["POST"])
def walk_in(shift_id: int):
    shift = _led_shift(shift_id)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        payload = {}
    phone = accounts.normalise_phone(str(payload.get("phone", "")))
    volunteer = accounts.find_user(phone)
    if volunteer is None:
        return error("unknown", _("No volunteer has this number."), 404)
    try:
        result = checkin.walk_in(current_user, shift, volunteer, now=utcnow(), policy=policy())
    except ServiceError as refused:
        db.session.rollback()
        return error("refused", " ".join(refused.messages), 409)
    return jsonify(result=result.as_json(), counts=checkin.counts(shift))


@bp.route("/shifts/<int:shift_id>/counts")
def counts(shift_id: int):
    return jsonify(counts=checkin.counts(_led_shift(shift_id)), server_time=server_time())


def _caller() -> str:
    return f"user:{current_user.get_id()}"


@bp.route("/decode", methods=["POST"])
@role_required(Role.LEAD, Role.ORGANISER)
@limiter.limit(lambda: current_app.config["RATELIMIT_DECODE"], key_func=_caller)
def decode():
    """Decode a camera frame on the server for browsers without BarcodeDetector: only for
    those who run check-in, and at most RATELIMIT_DECODE frames per account."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    data = request.get_data(cache=False)
    if not data or len(data) > 2 * 1024 * 1024:
        return error("bad_image", _("Send one image of at most 2 MB."), 400)
    try:
        with warnings.catch_warnings():
            # Pillow only warns of a bomb below twice its limit: the size is checked here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header, not the pixels
        # A phone frame is far smaller: a larger one is a decompression bomb, refused
        # before its pixels are decoded.
        if image.width * image.height > MAX_FRAME_PIXELS:
            raise ValueError("too many pixels")
        image.thumbnail((1280, 1280))
        found = zxingcpp.read_barcodes(image.convert("L"))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        return error("bad_image", _("The image could not be read."), 400)
    return jsonify(codes=[r.text for r in found if r.text])
