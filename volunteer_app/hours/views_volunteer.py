"""Hours pages for the volunteer (my hours, a correction request, my certificate) and the
public page that verifies a certificate."""

from __future__ import annotations

from datetime import date

from flask import (
    Response,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from .. import hours
from ..catalog import CATEGORIES
from ..extensions import db
from ..hooks import writes
from ..models import (
    CorrectionRequest,
    RecordKind,
    RecordStatus,
    ServiceRecord,
    TrainingRecord,
)
from ..permissions import get_row
from ..query import arg_page
from ..services import (
    ServiceError,
    certificate_pdf,
    certificates,
    external_hours,
)
from ..timeutil import local_today, utcnow
from ..web import attempt, flash_form_errors, refuse
from .blueprint import bp
from .forms import AskForm, CertificateForm
from .queries import corrections_of, counted_minutes
from .requests import ask_correction
from .web import STAR_LABELS, _ip

# ---------------------------------------------------------------- the volunteer's pages


@bp.route("/my/hours")
@login_required
def mine():
    user_id = current_user.id
    today = local_today()
    approved = hours.approved_minutes(user_id)
    pending = int(
        db.session.scalar(
            select(func.coalesce(func.sum(ServiceRecord.minutes), 0)).where(
                ServiceRecord.user_id == user_id, ServiceRecord.status == RecordStatus.PENDING
            )
        )
    )
    page = db.paginate(
        select(ServiceRecord)
        .where(ServiceRecord.user_id == user_id, ServiceRecord.kind != RecordKind.CORRECTION)
        .order_by(ServiceRecord.service_date.desc(), ServiceRecord.id.desc()),
        page=arg_page(),
        per_page=50,
        error_out=False,
    )
    corrections = corrections_of([r.id for r in page.items])
    asked = db.session.scalars(
        select(CorrectionRequest)
        .where(CorrectionRequest.user_id == user_id)
        .options(joinedload(CorrectionRequest.record))
        .order_by(CorrectionRequest.created_at.desc(), CorrectionRequest.id.desc())
    ).all()
    first = db.session.scalar(
        select(func.min(ServiceRecord.service_date)).where(ServiceRecord.user_id == user_id)
    )
    certificate_form = CertificateForm(
        formdata=None, start=first or date(today.year, 1, 1), end=today
    )
    return render_template(
        "hours/mine.html",
        approved=approved,
        pending=pending,
        stars=hours.stars_for(external_hours.star_minutes(user_id, approved)),
        star_labels=STAR_LABELS,
        external=external_hours.records_of(user_id),
        external_counted=external_hours.counts_for_stars(),
        page=page,
        corrections=corrections,
        counted={r.id: counted_minutes(r, corrections.get(r.id, [])) for r in page.items},
        requests=asked,
        open_requests={a.record_id for a in asked if a.answered_at is None},
        training=db.session.scalars(
            select(TrainingRecord)
            .where(TrainingRecord.user_id == user_id)
            .order_by(TrainingRecord.held_on.desc(), TrainingRecord.id.desc())
        ).all(),
        ask_form=AskForm(formdata=None),
        certificate_form=certificate_form,
        categories=CATEGORIES,
        today=today,
    )


@bp.route("/my/hours/records/<int:record_id>/ask", methods=["POST"])
@login_required
def ask(record_id: int):
    record = get_row(ServiceRecord, record_id)
    if record is None or record.user_id != current_user.id:
        abort(404)
    form = AskForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("hours.mine", _anchor=f"record-{record.id}"))
    attempt(
        lambda: ask_correction(current_user, record, form.message.data, now=utcnow(), ip=_ip()),
        _("Your request has been sent; the organiser will answer here."),
    )
    return redirect(url_for("hours.mine", _anchor="requests"))


@bp.route("/my/certificate.pdf")
@writes
@login_required
def certificate():
    form = CertificateForm(request.args)
    if not form.validate():
        flash_form_errors(form)
        return redirect(url_for("hours.mine", _anchor="certificate"))
    try:
        issued = certificates.issue(
            current_user, form.start.data, form.end.data, today=local_today(), ip=_ip()
        )
    except ServiceError as error:
        refuse(error)
        return redirect(url_for("hours.mine", _anchor="certificate"))
    pdf = certificate_pdf.render_pdf(
        issued, url_for("hours.verify", number=issued.number, _external=True)
    )
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{issued.number}.pdf"',
            "Cache-Control": "no-store",
        },
    )


# ---------------------------------------------------------------- public verification


@bp.route("/verify")
def verify_form():
    number = (request.args.get("number") or "").strip()
    if number:
        return redirect(url_for("hours.verify", number=number[:60]))
    return render_template("hours/verify.html", result=None, number="", asked=False)


@bp.route("/verify/<number>")
def verify(number: str):
    """Anyone may check a certificate: number, masked name, hours, issuer, issue date —
    nothing else. A number that is not genuine answers 404 with the same page."""
    result = certificates.verify(number, today=local_today())
    response = make_response(
        render_template("hours/verify.html", result=result, number=number[:60], asked=True),
        200 if result else 404,
    )
    response.headers["X-Robots-Tag"] = "noindex"
    return response
