"""Organisers' roster import: template download, upload and preview, confirmation."""

from __future__ import annotations

import hmac
import io

from flask import (
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import HiddenField, SubmitField

from ..extensions import db
from ..forms import FlaskForm
from ..models import Role
from ..permissions import role_required
from ..services import ServiceError, notify
from ..timeutil import local_today, utcnow
from ..web import after_commit
from . import imports
from .blueprint import bp
from .forms import ImportForm

#: Session key of the checked upload waiting for its confirmation.
PENDING = "volunteer_import"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ConfirmImportForm(FlaskForm):
    token = HiddenField()
    submit = SubmitField(_l("Import these volunteers"))


def _drop_pending() -> None:
    pending = session.pop(PENDING, None)
    if pending:
        imports.discard(current_user, pending.get("token"))


def _page(form: ImportForm, checked=None, confirm: ConfirmImportForm | None = None):
    return render_template(
        "volunteers/import.html",
        form=form,
        checked=checked,
        confirm=confirm,
        max_rows=imports.MAX_ROWS,
        max_mb=imports.MAX_BYTES // 2**20,
    )


@bp.route("/volunteers/import", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def import_roster():
    form = ImportForm()
    if not form.validate_on_submit():
        return _page(form)
    _drop_pending()
    data = form.file.data.stream.read(imports.MAX_BYTES + 1)
    try:
        checked = imports.check(data, current_user, today=local_today())
    except ServiceError as error:
        form.form_errors.extend(error.messages)
        return _page(form)
    confirm = None
    if checked.ok:
        token = imports.stash(current_user, data, now=utcnow())
        session[PENDING] = {"token": token, "user": current_user.id}
        confirm = ConfirmImportForm(formdata=None, token=token)
    return _page(form, checked, confirm)


@bp.route("/volunteers/import/template.xlsx")
@role_required(Role.ORGANISER)
def import_template():
    data = imports.build_template(current_user)
    return send_file(
        io.BytesIO(data),
        mimetype=XLSX,
        as_attachment=True,
        download_name="志愿者导入模板.xlsx",
        max_age=0,
    )


@bp.route("/volunteers/import/confirm", methods=["POST"])
@role_required(Role.ORGANISER)
def import_confirm():
    confirm = ConfirmImportForm()
    pending = session.pop(PENDING, None) or {}
    token = pending.get("token")
    data = imports.take(current_user, token, now=utcnow())
    sent = confirm.token.data or ""
    if (
        data is None
        or pending.get("user") != current_user.id
        or not hmac.compare_digest(sent.encode(), (token or "").encode())
    ):
        imports.refused(current_user, ip=request.remote_addr, rows=0, reason="no_checked_file")
        flash(_("There is no checked file waiting: please upload the roster again."), "warning")
        return redirect(url_for("volunteers.import_roster"))
    form = ImportForm(formdata=None)
    try:
        checked = imports.check(data, current_user, today=local_today())
    except ServiceError as error:
        imports.refused(current_user, ip=request.remote_addr, rows=0, reason="unreadable")
        form.form_errors.extend(error.messages)
        return _page(form)
    if not checked.ok:
        imports.refused(
            current_user, ip=request.remote_addr, rows=len(checked.rows), reason="changed"
        )
        flash(
            _(
                "The data has changed since the check, so nothing was imported. Please "
                "correct the roster and upload it again."
            ),
            "danger",
        )
        return _page(form, checked)
    try:
        outbox = imports.run(
            checked,
            current_user,
            invite_url=url_for("auth.reset", _external=True),
            now=utcnow(),
            today=local_today(),
            ip=request.remote_addr,
        )
    except ServiceError as error:
        db.session.rollback()
        imports.refused(
            current_user, ip=request.remote_addr, rows=len(checked.rows), reason="refused"
        )
        for message in error.messages:
            flash(message, "danger")
        flash(_("Nothing was imported."), "danger")
        return redirect(url_for("volunteers.import_roster"))
    after_commit(lambda: notify.deliver(outbox))  # invitations go once the accounts are kept
    flash(
        _("Volunteers imported: %(n)d. Each was sent an SMS invitation.", n=len(checked.rows)),
        "success",
    )
    return redirect(url_for("volunteers.search"))
