"""Hours pages for a shift's lead (and the host's organisers): the shift's attendance and
hours, confirming them, deciding its records. A shift the caller does not lead answers 404
(`permissions.led_shifts`)."""

from __future__ import annotations

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import checkin, hours
from ..extensions import db
from ..models import (
    Attendance,
    RecordStatus,
    Role,
    ServiceRecord,
    User,
)
from ..permissions import (
    led_shifts,
    role_required,
)
from ..services import (
    ServiceError,
)
from ..timeutil import utcnow
from ..web import refuse
from .blueprint import bp
from .web import _decide, _ip, _op, _records

# ---------------------------------------------------------------- a lead's shift


@bp.route("/hours/shifts/<int:shift_id>")
@role_required(Role.LEAD, Role.ORGANISER)
def shift(shift_id: int):
    shift = led_shifts.load(shift_id)
    now = utcnow()
    records = db.session.scalars(
        select(ServiceRecord)
        .where(ServiceRecord.shift_id == shift.id)
        .options(joinedload(ServiceRecord.user))
        .order_by(ServiceRecord.kind, ServiceRecord.id)
    ).all()
    preview = []
    if shift.confirmed_at is None:
        grace = current_app.config["CREDIT_GRACE_MINUTES"]
        for attendance in db.session.scalars(
            select(Attendance)
            .where(Attendance.shift_id == shift.id)
            .options(joinedload(Attendance.user))
            .order_by(Attendance.id)
        ):
            credited = checkin.credited_minutes(
                attendance.checked_in_at,
                attendance.checked_out_at,
                shift.starts_at,
                shift.ends_at,
                grace,
            )
            preview.append((attendance, credited))
    confirmer = db.session.get(User, shift.confirmed_by_id) if shift.confirmed_by_id else None
    return render_template(
        "hours/shift.html",
        shift=shift,
        records=records,
        preview=preview,
        open_rows=sum(1 for a, _m in preview if a.checked_out_at is None),
        confirmer=confirmer,
        ended=now >= shift.ends_at,
        has_pending=any(r.status is RecordStatus.PENDING for r in records),
    )


@bp.route("/hours/shifts/<int:shift_id>/confirm", methods=["POST"])
@role_required(Role.LEAD, Role.ORGANISER)
def confirm(shift_id: int):
    shift = led_shifts.load(shift_id)
    try:
        written = hours.confirm_shift(
            current_user,
            shift,
            now=utcnow(),
            grace_minutes=current_app.config["CREDIT_GRACE_MINUTES"],
            ip=_ip(),
        )
    except ServiceError as error:
        refuse(error)
    else:
        n = len(written)
        message = _("Shift confirmed: %(n)d service records written; they await approval.", n=n)
        flash(message, "success")
    return redirect(url_for("hours.shift", shift_id=shift_id))


@bp.route("/hours/shifts/<int:shift_id>/decide", methods=["POST"])
@role_required(Role.LEAD, Role.ORGANISER)
def decide_shift(shift_id: int):
    shift = led_shifts.load(shift_id)
    approve = _op()
    if request.form.get("all") == "1":
        records = db.session.scalars(
            select(ServiceRecord).where(
                ServiceRecord.shift_id == shift.id, ServiceRecord.status == RecordStatus.PENDING
            )
        ).all()
    else:
        ids = request.form.getlist("record", type=int)
        if not ids:
            flash(_("Please select at least one record."), "warning")
            return redirect(url_for("hours.shift", shift_id=shift.id))
        records = _records(ids, ServiceRecord.shift_id == shift.id)
    _decide(list(records), approve)
    return redirect(url_for("hours.shift", shift_id=shift.id))
