"""Hours pages for organisers (and leads, for their shifts): approvals, the records and their
corrections, manual records, the correction-request inbox. Records and requests outside
the caller's scope answer 404 (`permissions.service_records`, `correction_requests`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from .. import hours
from ..catalog import CATEGORIES
from ..extensions import db
from ..models import (
    CorrectionRequest,
    RecordKind,
    RecordStatus,
    Role,
    ServiceRecord,
    Shift,
    User,
    VolunteerProfile,
)
from ..permissions import (
    correction_requests,
    decidable_records,
    organised_nodes,
    role_required,
    service_records,
)
from ..query import arg_page
from ..services import (
    ServiceError,
    identifiers,
)
from ..timeutil import local_today, utcnow
from ..volunteers import picker
from ..web import attempt, flash_form_errors, refuse
from .blueprint import bp
from .forms import AnswerForm, CorrectionForm, ManualForm
from .queries import corrections_of, counted_minutes, overdue_cutoff, shifts_to_confirm
from .requests import answer_request, correction_requests_query, open_requests_count
from .web import (
    MAX_ID,
    PENDING_LIMIT,
    _decide,
    _ip,
    _op,
    _records,
)

# ---------------------------------------------------------------- approvals


@dataclass
class Group:
    shift: Shift | None
    records: list[ServiceRecord] = field(default_factory=list)
    overdue: int = 0


@bp.route("/hours/pending")
@role_required(Role.LEAD, Role.ORGANISER)
def pending():
    today = local_today()
    scope = decidable_records.visible(current_user)
    where = (ServiceRecord.status == RecordStatus.PENDING, scope)
    cutoff = overdue_cutoff(today)
    total = db.session.scalar(select(func.count()).select_from(ServiceRecord).where(*where))
    overdue = db.session.scalar(
        select(func.count())
        .select_from(ServiceRecord)
        .where(*where, ServiceRecord.service_date <= cutoff)
    )
    rows = db.session.scalars(
        select(ServiceRecord)
        .where(*where)
        .options(joinedload(ServiceRecord.user))
        .order_by(ServiceRecord.service_date, ServiceRecord.id)
        .limit(PENDING_LIMIT)
    ).all()
    shift_ids = {r.shift_id for r in rows if r.shift_id}
    shifts = {
        s.id: s
        for s in db.session.scalars(
            select(Shift).where(Shift.id.in_(shift_ids)).options(joinedload(Shift.event))
        )
    }
    # Oldest first, so groups holding overdue records come first.
    groups: dict[int | None, Group] = {}
    for row in rows:
        group = groups.setdefault(row.shift_id, Group(shifts.get(row.shift_id)))
        group.records.append(row)
        if row.service_date <= cutoff:
            group.overdue += 1
    return render_template(
        "hours/pending.html",
        groups=list(groups.values()),
        total=total,
        shown=len(rows),
        overdue=overdue,
        cutoff=cutoff,
        to_confirm=shifts_to_confirm(current_user, utcnow()),
        open_requests=open_requests_count(current_user),
        is_organiser=current_user.has_role(Role.ORGANISER, Role.ADMIN),
        categories=CATEGORIES,
    )


@bp.route("/hours/pending/decide", methods=["POST"])
@role_required(Role.LEAD, Role.ORGANISER)
def decide_pending():
    approve = _op()
    scope = decidable_records.visible(current_user)
    shift_id = request.args.get("shift", type=int)
    if shift_id is not None:
        if not 0 < shift_id <= MAX_ID:
            abort(404)
        # Every record of the shift in scope (a second click finds them decided).
        records = db.session.scalars(
            select(ServiceRecord).where(ServiceRecord.shift_id == shift_id, scope)
        ).all()
        if not records:
            abort(404)
    else:
        ids = request.form.getlist("record", type=int)
        if not ids:
            flash(_("Please select at least one record."), "warning")
            return redirect(url_for("hours.pending"))
        records = _records(ids, scope)
    _decide(list(records), approve)
    return redirect(url_for("hours.pending"))


# ---------------------------------------------------------------- records and corrections


@bp.route("/hours/records")
@role_required(Role.ORGANISER)
def records():
    text = (request.args.get("q") or "").strip()[:50]
    status = request.args.get("status") or "approved"
    query = (
        select(ServiceRecord)
        .join(User, User.id == ServiceRecord.user_id)
        .outerjoin(VolunteerProfile, VolunteerProfile.user_id == ServiceRecord.user_id)
        .where(service_records.visible(current_user), ServiceRecord.kind != RecordKind.CORRECTION)
        .options(joinedload(ServiceRecord.user))
        .order_by(ServiceRecord.service_date.desc(), ServiceRecord.id.desc())
    )
    if status in {s.value for s in RecordStatus}:
        query = query.where(ServiceRecord.status == RecordStatus(status))
    tail = identifiers.phone_tail(text)
    if tail:
        query = query.where(User.phone.endswith(tail))
    elif text:
        query = query.where(
            or_(
                VolunteerProfile.real_name.contains(text, autoescape=True),
                ServiceRecord.activity.contains(text, autoescape=True),
            )
        )
    page = db.paginate(query, page=arg_page(), per_page=30, error_out=False)
    corrections = corrections_of([r.id for r in page.items])
    return render_template(
        "hours/records.html",
        page=page,
        corrections=corrections,
        counted={r.id: counted_minutes(r, corrections.get(r.id, [])) for r in page.items},
        q=text,
        status=status,
        form=CorrectionForm(formdata=None),
        categories=CATEGORIES,
    )


@bp.route("/hours/records/<int:record_id>/correct", methods=["POST"])
@role_required(Role.ORGANISER)
def correct(record_id: int):
    if not 0 < record_id <= MAX_ID:
        abort(404)
    record = service_records.load(record_id)
    form = CorrectionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        attempt(
            lambda: hours.add_correction(
                current_user, record, form.delta.data, form.reason.data, ip=_ip()
            ),
            _("The correction has been added; it awaits approval."),
        )
    return redirect(url_for("hours.records", _anchor=f"record-{record.id}"))


# ---------------------------------------------------------------- manual records


@bp.route("/hours/manual", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def manual():
    form = ManualForm(current_user)
    if request.method == "GET":
        form.service_date.data = local_today()
        return render_template("hours/manual.html", form=form)
    profile = picker.pick(form, current_user)
    if profile is None:
        return render_template("hours/manual.html", form=form)
    host = organised_nodes.load(int(form.host.data))
    try:
        hours.add_manual(
            current_user,
            profile.user,
            host=host,
            activity=form.activity.data or "",
            service_date=form.service_date.data,
            minutes=form.total_minutes,
            place=form.place.data or "",
            content=form.content.data or "",
            category=form.category.data or "other",
            reason=form.reason.data or "",
            today=local_today(),
            ip=_ip(),
        )
    except ServiceError as error:
        refuse(error, form)
        return render_template("hours/manual.html", form=form)
    flash(
        _("The record for %(name)s has been saved; it awaits approval.", name=profile.real_name),
        "success",
    )
    return redirect(url_for("hours.manual"))


@bp.route("/hours/requests")
@role_required(Role.ORGANISER)
def requests():
    page = db.paginate(
        correction_requests_query(current_user)
        .options(joinedload(CorrectionRequest.record), joinedload(CorrectionRequest.user))
        .order_by(
            CorrectionRequest.answered_at.is_not(None),
            CorrectionRequest.created_at.desc(),
            CorrectionRequest.id.desc(),
        ),
        page=arg_page(),
        per_page=30,
        error_out=False,
    )
    return render_template("hours/requests.html", page=page, form=AnswerForm(formdata=None))


@bp.route("/hours/requests/<int:request_id>/answer", methods=["POST"])
@role_required(Role.ORGANISER)
def answer(request_id: int):
    item = correction_requests.load(request_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        delta = form.delta.data or None
        attempt(
            lambda: answer_request(
                current_user, item, form.answer.data, now=utcnow(), delta_minutes=delta, ip=_ip()
            ),
            _("Answered; the correction awaits approval.")
            if delta
            else _("Your answer has been sent."),
        )
    return redirect(url_for("hours.requests", _anchor=f"request-{request_id}"))
