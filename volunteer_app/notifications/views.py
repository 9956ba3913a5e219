"""The notification centre and the volunteer's notification preferences."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select, update
from wtforms import BooleanField, IntegerField, StringField, SubmitField
from wtforms.validators import Email, NumberRange, Optional

from ..extensions import db
from ..forms import FlaskForm
from ..models import Channel, Notification
from ..query import arg_page
from ..timeutil import utcnow
from .blueprint import bp


class PreferencesForm(FlaskForm):
    notify_sms = BooleanField(_l("SMS reminders"))
    notify_email = BooleanField(_l("E-mail"))
    email = StringField(
        _l("E-mail address"),
        validators=[Optional(), Email(_l("Please enter a valid e-mail address."))],
    )
    quiet_start = IntegerField(_l("No SMS from (hour)"), validators=[NumberRange(0, 23)])
    quiet_end = IntegerField(_l("until (hour)"), validators=[NumberRange(0, 23)])
    submit = SubmitField(_l("Save"))


@bp.route("/notifications")
@login_required
def index():
    page = db.paginate(
        select(Notification)
        .where(Notification.user_id == current_user.id, Notification.channel == Channel.IN_APP)
        .order_by(Notification.id.desc()),
        page=arg_page(), per_page=30,
        error_out=False,
    )
    return render_template("notifications/index.html", page=page)


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_read():
    db.session.execute(
        update(Notification)
        .where(
            Notification.user_id == current_user.id,
            Notification.channel == Channel.IN_APP,
            Notification.read_at.is_(None),
        )
        .values(read_at=utcnow())
    )
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/settings", methods=["GET", "POST"])
@login_required
def settings():
    form = PreferencesForm(obj=current_user)
    if form.validate_on_submit():
        if form.notify_email.data and not form.email.data:
            form.email.errors.append(_("E-mail reminders need an e-mail address."))
        else:
            form.populate_obj(current_user)
            current_user.email = (form.email.data or "").strip() or None
            flash(_("Your notification settings have been saved."), "success")
            return redirect(url_for("notifications.settings"))
    return render_template("notifications/settings.html", form=form)
