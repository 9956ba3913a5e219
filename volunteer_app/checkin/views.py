"""Check-in pages: "my QR", scanning a code with a phone camera, the lead's pages, cards."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import checkin
from ..extensions import db
from ..hooks import CONTENT_SECURITY_POLICY, writes
from ..models import (
    Attendance,
    OrgUnit,
    Role,
    ScanMethod,
    Shift,
    Signup,
    SignupStatus,
    User,
    VolunteerCard,
)
from ..permissions import led_shifts, load_in_scope, role_required
from ..query import arg_int
from ..services import (
    ServiceError,
    accounts,
    audit,
    cards,
    devicecodes,
    qr,
    volunteer_search,
)
from ..timeutil import from_local, local_today, to_local, utcnow
from ..web import refuse
from .blueprint import bp


def policy() -> checkin.Policy:
    return checkin.Policy.from_config(current_app.config)


def _svg(data: str) -> Response:
    return Response(qr.svg(data), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


def next_shift_of(user: User, now: datetime) -> Shift | None:
    return db.session.scalar(
        select(Shift)
        .join(Signup, Signup.shift_id == Shift.id)
        .where(
            Signup.user_id == user.id,
            Signup.status.in_([SignupStatus.CONFIRMED, SignupStatus.ATTENDED]),
            Shift.ends_at > now,
            Shift.cancelled.is_(False),
        )
        .order_by(Shift.starts_at)
        .limit(1)
    )


@bp.route("/me/qr")
@login_required
def my_qr():
    now = utcnow()
    devices = devicecodes.active_devices(current_user)
    return render_template(
        "checkin/my_qr.html",
        next_shift=next_shift_of(current_user, now),
        rotate=qr.ROTATE,
        card=db.session.scalar(
            select(VolunteerCard).where(
                VolunteerCard.user_id == current_user.id, VolunteerCard.revoked_at.is_(None)
            )
        ),
        devices=devices,
        device_ids=[devicecodes.b36(d.id) for d in devices],
        step=devicecodes.STEP,
        now_ms=int((now - datetime(1970, 1, 1)).total_seconds() * 1000),
    )


@bp.route("/me/qr/device", methods=["POST"])
@login_required
def my_qr_device():
    """This phone's secret for codes computed with no network (given once, while online)."""
    now = utcnow()
    device, secret = devicecodes.issue(current_user, now=now)
    return jsonify(
        device=devicecodes.b36(device.id),
        secret=secret,
        user=current_user.id,
        step=devicecodes.STEP,
        now=int((now - datetime(1970, 1, 1)).total_seconds() * 1000),
    )


@bp.route("/me/qr/devices/revoke", methods=["POST"])
@login_required
def my_qr_revoke():
    """A lost phone: the codes of all the volunteer's phones stop at once."""
    n = devicecodes.revoke_all(current_user, actor=current_user, now=utcnow())
    audit.record("device.revoke", actor=current_user, ip=request.remote_addr, count=n)
    flash(_("The codes on your phones have been switched off. This phone gets a new one."), "info")
    return redirect(url_for("checkin.my_qr"))


@bp.route("/me/qr.svg")
@login_required
def my_qr_svg():
    token = qr.volunteer_token(current_user.id, utcnow())
    return _svg(url_for("checkin.scan_code", token=token, _external=True))


@bp.route("/q/<token>")
@writes
def scan_code(token: str):
    """What a phone camera (or WeChat) opens: the lead's scan checks the volunteer in or out."""
    if not current_user.is_authenticated:
        return render_template("checkin/code_info.html", token=token), 200
    result = checkin.scan(
        current_user,
        token=token,
        now=utcnow(),
        method=ScanMethod.LEAD_SCAN,
        policy=policy(),
    )
    if result.code == "no_open_shift" and not current_user.has_role(Role.LEAD, Role.ORGANISER):
        return render_template("checkin/code_info.html", token=token, result=result), 200
    return render_template("checkin/result.html", result=result)


@bp.route("/s/<token>")
@writes
@login_required
def site_code(token: str):
    """A volunteer scanned the site code with their own phone."""
    result = checkin.self_scan(current_user, token, now=utcnow(), policy=policy())
    return render_template("checkin/result.html", result=result, self_scan=True)


# ---------------------------------------------------------------- the lead's pages


@bp.route("/checkin")
@role_required(Role.LEAD, Role.ORGANISER)
def index():
    now = utcnow()
    led = checkin.shifts_led_by(current_user, now - timedelta(days=1))
    open_now = {s.id for s in checkin.open_shifts_led_by(current_user, now)}
    return render_template("checkin/index.html", shifts=led, open_now=open_now, now=now)


@bp.route("/checkin/shifts/<int:shift_id>")
@role_required(Role.LEAD, Role.ORGANISER)
def scanner(shift_id: int):
    shift = led_shifts.load(shift_id)
    response = make_response(
        render_template(
            "checkin/scanner.html",
            shift=shift,
            counts=checkin.counts(shift),
            is_open=checkin.is_open(shift, utcnow()),
        )
    )
    # The on-device QR decoder is WebAssembly (static/vendor/zxing-wasm): compiling it needs
    # 'wasm-unsafe-eval', on this page only; scripts still come from this site alone.
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'"
    )
    return response


@bp.route("/checkin/shifts/<int:shift_id>/site")
@role_required(Role.LEAD, Role.ORGANISER)
def site(shift_id: int):
    shift = led_shifts.load(shift_id)
    printable = request.args.get("print") == "1"
    return render_template("checkin/site.html", shift=shift, printable=printable, rotate=qr.ROTATE)


@bp.route("/checkin/shifts/<int:shift_id>/site.svg")
@role_required(Role.LEAD, Role.ORGANISER)
def site_svg(shift_id: int):
    shift = led_shifts.load(shift_id)
    if request.args.get("print") == "1":
        token = qr.printed_site_token(shift.id)
    else:
        token = qr.site_token(shift.id, utcnow())
    return _svg(url_for("checkin.site_code", token=token, _external=True))


@bp.route("/checkin/shifts/<int:shift_id>/attendance", methods=["GET", "POST"])
@role_required(Role.LEAD, Role.ORGANISER)
def attendance(shift_id: int):
    shift = led_shifts.load(shift_id)
    now = utcnow()
    if request.method == "POST":
        op = request.form.get("op")
        try:
            if op == "correct":
                row = db.session.get(Attendance, request.form.get("attendance", type=int) or 0)
                if row is None or row.shift_id != shift.id:
                    abort(404)
                checkin.correct(
                    current_user,
                    row,
                    _local_time(shift, request.form.get("checked_in")),
                    _local_time(shift, request.form.get("checked_out"), optional=True),
                    request.form.get("reason", ""),
                    ip=request.remote_addr,
                )
                message = _("The times have been corrected.")
            elif op == "no_shows":
                n = checkin.mark_no_shows(shift, now=now, actor=current_user)
                message = _("%(n)d volunteers marked as not come.", n=n)
            elif op == "walk_in":
                phone = accounts.normalise_phone(request.form.get("phone", ""))
                volunteer = accounts.find_user(phone)
                if volunteer is None:
                    raise ServiceError(_("No volunteer with a complete profile has this number."))
                result = checkin.walk_in(current_user, shift, volunteer, now=now, policy=policy())
                message = result.message
            else:
                abort(400)
        except ServiceError as error:
            refuse(error)
        else:
            flash(message, "success")
        return redirect(url_for("checkin.attendance", shift_id=shift.id))
    rows = db.session.execute(
        select(Signup, Attendance)
        .outerjoin(Attendance, Attendance.signup_id == Signup.id)
        .where(Signup.shift_id == shift.id, Signup.status != SignupStatus.CANCELLED)
        .order_by(Signup.status, Signup.id)
    ).all()
    grace = current_app.config["CREDIT_GRACE_MINUTES"]
    credited = {
        signup.id: checkin.credited_minutes(
            a.checked_in_at, a.checked_out_at, shift.starts_at, shift.ends_at, grace
        )
        for signup, a in rows
        if a is not None
    }
    return render_template(
        "checkin/attendance.html",
        shift=shift,
        rows=rows,
        credited=credited,
        now=now,
        counts=checkin.counts(shift),
    )


def _local_time(shift: Shift, value: str | None, optional: bool = False) -> datetime | None:
    """ "HH:MM" on the shift's local date, as naive UTC."""
    value = (value or "").strip()
    if not value and optional:
        return None
    try:
        hours, minutes = (int(p) for p in value.split(":"))
        day = to_local(shift.starts_at).date()
        return from_local(datetime(day.year, day.month, day.day, hours, minutes))
    except ValueError:
        raise ServiceError(_("Please give times as HH:MM.")) from None


# ---------------------------------------------------------------- cards


@bp.route("/checkin/cards/<int:user_id>", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def card(user_id: int):
    """Issue, reissue or revoke the printed card of a volunteer in the caller's scope."""
    profile = volunteer_search.load_for(current_user, user_id)
    if profile is None:
        abort(404)
    current = db.session.scalar(
        select(VolunteerCard).where(
            VolunteerCard.user_id == user_id, VolunteerCard.revoked_at.is_(None)
        )
    )
    if request.method == "POST":
        now = utcnow()
        if request.form.get("op") == "revoke_devices":
            n = devicecodes.revoke_all(profile.user, actor=current_user, now=now)
            audit.record(
                "device.revoke",
                actor=current_user,
                ip=request.remote_addr,
                object_type="user",
                object_id=user_id,
                count=n,
            )
            flash(_("The codes on the volunteer’s phones have been switched off."), "info")
            return redirect(url_for("checkin.card", user_id=user_id))
        if current is not None:
            current.revoked_at = now
            audit.record("card.revoke", actor=current_user, ip=request.remote_addr, obj=current)
        if request.form.get("op") == "issue":
            current = VolunteerCard(user_id=user_id, issued_by_id=current_user.id)
            db.session.add(current)
            db.session.flush()
            audit.record("card.issue", actor=current_user, ip=request.remote_addr, obj=current)
            flash(_("A new card has been issued; any earlier card no longer works."), "success")
        else:
            current = None
            flash(_("The card has been revoked."), "info")
        return redirect(url_for("checkin.card", user_id=user_id))
    return render_template(
        "checkin/card.html",
        profile=profile,
        card=current,
        devices=devicecodes.active_devices(profile.user),
    )


@bp.route("/checkin/cards/<int:user_id>/qr.svg")
@role_required(Role.ORGANISER)
def card_svg(user_id: int):
    if volunteer_search.load_for(current_user, user_id) is None:
        abort(404)
    card = db.session.scalar(
        select(VolunteerCard).where(
            VolunteerCard.user_id == user_id, VolunteerCard.revoked_at.is_(None)
        )
    )
    if card is None:
        abort(404)
    return _svg(url_for("checkin.scan_code", token=qr.card_token(card.id), _external=True))


@bp.route("/checkin/cards/nodes/<int:node_id>", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def card_sheet(node_id: int):
    """A4 sheets of cards for a community's volunteers (e.g. its elderly residents without a
    smartphone): issue the missing cards, then print."""
    node = load_in_scope(OrgUnit, node_id, [Role.ORGANISER])
    min_age = arg_int("min_age", None, low=1, high=120)
    holders = cards.community_holders(current_user, node, today=local_today(), min_age=min_age)
    if request.method == "POST":
        n = cards.issue_missing(current_user, holders, now=utcnow(), ip=request.remote_addr)
        flash(_("%(n)d cards issued.", n=n), "success")
        return redirect(url_for("checkin.card_sheet", node_id=node.id, min_age=min_age))
    printed = [h for h in holders if h.card is not None]
    codes = {
        h.card.id: base64.b64encode(
            qr.svg(url_for("checkin.scan_code", token=qr.card_token(h.card.id), _external=True))
        ).decode()
        for h in printed
    }
    sheets = [printed[i : i + cards.PER_SHEET] for i in range(0, len(printed), cards.PER_SHEET)]
    return render_template(
        "checkin/card_sheet.html",
        node=node,
        min_age=min_age,
        holders=holders,
        missing=sum(1 for h in holders if h.card is None),
        sheets=sheets,
        codes=codes,
    )
