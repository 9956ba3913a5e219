"""Messages from the workspace to the volunteers of a shift or an event, their log and each
one's delivery."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import AuditLog, Role, User
from ..permissions import role_required
from ..query import arg_page
from ..services import ServiceError, messages
from ..timeutil import utcnow
from ..web import refuse
from .blueprint import bp
from .forms import (
    MessageForm,
)
from .web import _event, _ip, _shift

# ---------------------------------------------------------------- messages


def _compose(audience: messages.Audience, back: str):
    """Write, preview (with the recipient count) and send; the message id made at the
    first preview travels with the form, so sending it again reaches nobody twice."""
    form = MessageForm()
    preview = None
    if form.validate_on_submit():
        if form.send.data:
            try:
                reached = messages.send(
                    current_user,
                    audience,
                    form.text.data,
                    form.message_id.data or "",
                    now=utcnow(),
                    ip=_ip(),
                )
            except ServiceError as error:
                refuse(error, form)
            else:
                if reached:
                    flash(_("The message has been sent to %(n)d volunteers.", n=reached), "success")
                else:
                    flash(_("This message had been sent already; nobody got it twice."), "info")
                return redirect(url_for("organise.messages_log"))
        if not messages.valid_id(form.message_id.data):
            form.message_id.data = messages.new_message_id()
        preview = messages.preview(audience, form.text.data, str(get_locale() or "zh"))
    return render_template(
        "organise/message.html",
        audience=audience,
        form=form,
        count=messages.recipient_count(audience),
        preview=preview,
        sms_refusal=messages.sms_refusal() if preview is not None else None,
        back=back,
    )


@bp.route("/messages/shifts/<int:shift_id>", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def message_shift(shift_id: int):
    shift = _shift(shift_id)
    return _compose(
        messages.Audience(shift.event, shift),
        url_for("organise.shift_roster", shift_id=shift.id),
    )


@bp.route("/messages/events/<int:event_id>", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def message_event(event_id: int):
    event = _event(event_id)
    return _compose(messages.Audience(event), url_for("organise.event_roster", event_id=event.id))


@bp.route("/messages")
@role_required(Role.ORGANISER)
def messages_log():
    page = db.paginate(
        messages.sent_log(current_user), page=arg_page(), per_page=30, error_out=False
    )
    actors = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_({r.actor_id for r in page.items if r.actor_id}))
        )
    }
    delivery = messages.delivery_counts(
        [str((r.detail or {}).get("message_id") or "") for r in page.items]
    )
    return render_template(
        "organise/messages.html",
        page=page,
        actors=actors,
        delivery=delivery,
        labels=messages.STATUS_LABELS,
    )


@bp.route("/messages/<int:audit_id>")
@role_required(Role.ORGANISER)
def message_delivery(audit_id: int):
    """How each copy of one sent message fared: recipient, channel, status, reason."""
    row = db.session.scalar(messages.sent_log(current_user).where(AuditLog.id == audit_id))
    if row is None:
        abort(404)
    message_id = str((row.detail or {}).get("message_id") or "")
    return render_template(
        "organise/message_delivery.html",
        row=row,
        deliveries=messages.deliveries(message_id),
        status_labels=messages.STATUS_LABELS,
        channel_labels=messages.CHANNEL_LABELS,
    )
