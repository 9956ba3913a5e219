"""The national record pages: the recorder's export batches (with full ID numbers) and the
import of hours from the national system; the volunteer's national number.

Scope: a batch is the recorder's when its unit lies in their recorder subtree; others'
batches answer 404."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..extensions import db
from ..hooks import writes
from ..models import ExchangeBatch, OrgUnit, Role
from ..permissions import load_in_scope, role_required
from ..query import arg_choice, arg_date, arg_id
from ..services import ServiceError, exchange, exchange_file, external_hours, national_numbers
from ..timeutil import local_today, utcnow
from ..web import refuse
from .blueprint import bp
from .forms import BatchForm, ImportForm, NationalNumberForm

RECORDER = [Role.RECORDER]
MAX_ID = 2**31 - 1


def _ip() -> str | None:
    return request.remote_addr


def _default_range(today: date) -> tuple[date, date]:
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1), today


def _page(form: BatchForm, import_form: ImportForm, row_errors=None, status: int = 200):
    nodes = exchange.recorder_nodes(current_user)
    today = local_today()
    start = form.start.data or _default_range(today)[0]
    end = form.end.data or today
    scope = next((n for n in nodes if n.id == form.scope.data), nodes[0] if nodes else None)
    preview = exchange.candidates(scope, start, end) if scope and start <= end else []
    flagged = exchange.to_re_enter(scope) if scope else []
    return (
        render_template(
            "exchange/index.html",
            form=form,
            import_form=import_form,
            preview_new=sum(1 for c in preview if not c.is_correction),
            preview_corrected=sum(1 for c in preview if c.is_correction),
            flagged=flagged,
            batches=exchange.batches(current_user),
            row_errors=row_errors or [],
            headers=external_hours.HEADERS,
        ),
        status,
    )


def _batch_form(formdata=None) -> BatchForm:
    nodes = exchange.recorder_nodes(current_user)
    form = BatchForm(nodes, formdata=formdata)
    if formdata is None:
        form.start.data, form.end.data = _default_range(local_today())
        if nodes:
            form.scope.data = nodes[0].id
    return form


@bp.route("/hours/exchange")
@role_required(Role.RECORDER)
def index():
    form = _batch_form()
    form.start.data = arg_date("start", form.start.data)
    form.end.data = arg_date("end", form.end.data)
    scope_id = arg_id("scope")
    if scope_id in {n.id for n in exchange.recorder_nodes(current_user)}:
        form.scope.data = scope_id
    return _page(form, ImportForm(formdata=None))


@bp.route("/hours/exchange/batches", methods=["POST"])
@role_required(Role.RECORDER)
def create():
    form = _batch_form(request.form)
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "danger")
        return _page(form, ImportForm(formdata=None), status=400)
    scope = load_in_scope(OrgUnit, form.scope.data, RECORDER)
    try:
        batch = exchange.create_batch(
            current_user,
            scope,
            form.start.data,
            form.end.data,
            today=local_today(),
            now=utcnow(),
            ip=_ip(),
        )
    except ServiceError as error:
        refuse(error)
        return _page(form, ImportForm(formdata=None), status=400)
    flash(
        _(
            "Batch %(id)d created: %(n)d records (%(c)d corrections). Download it below.",
            id=batch.id,
            n=batch.records,
            c=batch.corrected,
        ),
        "success",
    )
    return redirect(url_for("exchange.index", _anchor=f"batch-{batch.id}"))


@bp.route("/hours/exchange/batches/<int:batch_id>.<fmt>")
@login_required
@writes  # the download is audited: a GET that commits takes the write lock first
def download(batch_id: int, fmt: str):
    if not 0 < batch_id <= MAX_ID or fmt not in exchange_file.FORMATS:
        abort(404)
    batch = load_in_scope(ExchangeBatch, batch_id, RECORDER, org_of=lambda b: b.scope)
    part = arg_choice("part", list(exchange_file.FIELDS), "records")
    try:
        data, mimetype, name = exchange_file.render(current_user, batch, fmt, part, ip=_ip())
    except ServiceError:
        db.session.rollback()
        abort(404)
    return Response(
        data,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/hours/exchange/import", methods=["POST"])
@role_required(Role.RECORDER)
def import_hours():
    form = ImportForm()
    batch_form = _batch_form()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "danger")
        return _page(batch_form, form, status=400)
    data = form.file.data.read(external_hours.MAX_BYTES + 1)
    try:
        count = external_hours.run(data, current_user, today=local_today(), now=utcnow(), ip=_ip())
    except external_hours.ImportRefused as refused:
        db.session.rollback()
        flash(_("Nothing was imported: please correct these rows and try again."), "danger")
        return _page(batch_form, form, row_errors=refused.errors, status=400)
    except ServiceError as error:
        refuse(error)
        return _page(batch_form, form, status=400)
    flash(_("%(n)d external records imported.", n=count), "success")
    return redirect(url_for("exchange.index"))


@bp.route("/hours/exchange/import-template.csv")
@role_required(Role.RECORDER)
def import_template():
    return Response(
        external_hours.template(),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="external-hours.csv"'},
    )


@bp.route("/my/national-number", methods=["POST"])
@login_required
def national_number():
    form = NationalNumberForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "danger")
        return redirect(url_for("volunteers.me", _anchor="national-number"))
    try:
        national_numbers.set_number(current_user, form.number.data, ip=_ip())
    except ServiceError as error:
        refuse(error)
    else:
        flash(_("Your national volunteer number has been saved."), "success")
    return redirect(url_for("volunteers.me", _anchor="national-number"))
