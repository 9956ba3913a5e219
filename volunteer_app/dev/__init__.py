"""Development-only pages (registered only when DEV_TOOLS is on): the SMS the log channel
'sent', so that a developer or a browser test can read a verification code."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from ..extensions import db
from ..models import Channel, Notification
from ..services import channels

bp = Blueprint("dev", __name__)


@bp.route("/messages")
def messages():
    rows = db.session.scalars(
        select(Notification)
        .where(Notification.channel == Channel.SMS)
        .order_by(Notification.id.desc())
        .limit(50)
    ).all()
    # Reminders go to the account's phone (no address on the row): show where each went.
    phones = {row.id: row.sent_to or channels.phone_number(row) for row in rows}
    return render_template("dev/messages.html", rows=rows, phones=phones)
