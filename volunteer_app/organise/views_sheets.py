"""The workspace's paper: roster downloads (audited), printed sign-in sheets, and the times
taken on paper entered back."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..hooks import writes
from ..models import Event, Role, Shift, Signup
from ..permissions import role_required
from ..services import ServiceError, exports
from ..timeutil import from_local, local_today, to_local, utcnow
from ..web import refuse
from . import members, paper, rosters, tables
from .blueprint import bp
from .forms import (
    NodeFilterForm,
    PaperTimesForm,
    chosen_id,
)
from .views import _signup_filters
from .web import BLANK_LINES, _event, _grace, _ip, _led_shift, _node, _shift

# ---------------------------------------------------------------- exports


def _format() -> str:
    fmt = request.args.get("format", "xlsx")
    if fmt not in exports.FORMATS:
        abort(400)
    return fmt


def _download(name: str, table: tuple[list, list], scope: dict, filters):
    """The table as a file in the asked format, named `name` and today's date; the
    download recorded in the audit log with its scope and filters."""
    fmt = _format()
    headers, rows = table
    filename = f"{name} {_stamp()}"
    body, mimetype = exports.render(fmt, headers, rows, title=filename)
    rosters.record_export(
        current_user, scope, len(rows), fmt, ip=_ip(), filters=_filter_detail(filters)
    )
    return send_file(
        io.BytesIO(body),
        mimetype=mimetype,
        as_attachment=True,
        download_name=exports.download_name(filename, fmt),
        max_age=0,
    )


def _filter_detail(filters) -> dict:
    detail = {"sort": filters.sort, "community_id": filters.community_id}
    if isinstance(filters, rosters.SignupFilter):
        detail["statuses"] = [s.value for s in filters.statuses]
    return detail


def _stamp() -> str:
    return to_local(utcnow()).strftime("%Y%m%d")


@bp.route("/rosters/shifts/<int:shift_id>/export")
@role_required(Role.ORGANISER)
@writes
def shift_export(shift_id: int):
    shift = _shift(shift_id)
    _format()  # an unknown format is refused before the roster is read
    _form, filters, _page = _signup_filters()
    roster = rosters.shift_roster(shift, filters, per_page=None, grace_minutes=_grace())
    return _download(
        _("Roster %(event)s %(post)s", event=shift.event.title, post=shift.post),
        tables.signup_table(roster, with_shift=False),
        {"kind": "shift", "shift_id": shift.id, "event_id": shift.event_id},
        filters,
    )


@bp.route("/rosters/events/<int:event_id>/export")
@role_required(Role.ORGANISER)
@writes
def event_export(event_id: int):
    event = _event(event_id)
    _format()
    _form, filters, _page = _signup_filters()
    roster = rosters.event_roster(event, filters, per_page=None, grace_minutes=_grace())
    return _download(
        _("Roster %(event)s", event=event.title),
        tables.signup_table(roster, with_shift=True),
        {"kind": "event", "event_id": event.id},
        filters,
    )


@bp.route("/rosters/nodes/<int:node_id>/export")
@role_required(Role.ORGANISER)
@writes
def node_export(node_id: int):
    node = _node(node_id)
    _format()
    form = NodeFilterForm(request.args)
    filters = members.NodeFilter(
        community_id=chosen_id(form.community.data),
        sort=form.sort.data if form.sort.data in members.NODE_SORTS else "name",
    )
    roster = members.node_roster(node, local_today().year, filters, per_page=None)
    return _download(
        _("Members %(unit)s", unit=node.name),
        tables.node_table(roster),
        {"kind": "node", "node_id": node.id},
        filters,
    )


# ---------------------------------------------------------------- sign-in sheets


def _print_page(event: Event, shifts: list[Shift], back: str):
    sheets = rosters.sign_in_sheets(shifts)
    return render_template(
        "organise/print.html",
        event=event,
        sheets=[(s, sheets.get(s.id, [])) for s in shifts],
        blank_lines=BLANK_LINES,
        back=back,
        now_label=to_local(utcnow()).strftime("%Y-%m-%d %H:%M"),
    )


@bp.route("/rosters/shifts/<int:shift_id>/print")
@role_required(Role.LEAD, Role.ORGANISER)
def shift_print(shift_id: int):
    shift = _led_shift(shift_id)
    return _print_page(shift.event, [shift], url_for("organise.shift_roster", shift_id=shift.id))


@bp.route("/rosters/events/<int:event_id>/print")
@role_required(Role.ORGANISER)
def event_print(event_id: int):
    event = _event(event_id)
    shifts = [s for s in event.shifts if not s.cancelled]
    return _print_page(event, shifts, url_for("organise.event_roster", event_id=event.id))


# ---------------------------------------------------------------- paper times


def _on_shift_day(shift: Shift, value) -> datetime:
    """A time of day written on the sheet, on the shift's local date, as naive UTC."""
    day = to_local(shift.starts_at).date()
    return from_local(datetime.combine(day, value))


@bp.route("/rosters/shifts/<int:shift_id>/paper", methods=["POST"])
@role_required(Role.LEAD, Role.ORGANISER)
def paper_times(shift_id: int):
    shift = _led_shift(shift_id)
    back = url_for("organise.shift_roster", shift_id=shift.id)
    form = PaperTimesForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "danger")
        return redirect(back)
    signup_id = chosen_id(form.signup.data)
    signup = db.session.get(Signup, signup_id) if signup_id else None
    if signup is None or signup.shift_id != shift.id:
        abort(404)
    checked_in = _on_shift_day(shift, form.checked_in.data)
    checked_out = _on_shift_day(shift, form.checked_out.data) if form.checked_out.data else None
    if checked_out is not None and checked_out <= checked_in:
        checked_out += timedelta(days=1)  # a shift past midnight
    try:
        paper.enter_paper_times(
            current_user, signup, checked_in, checked_out, now=utcnow(), ip=_ip()
        )
    except ServiceError as error:
        refuse(error)
    else:
        flash(_("The times from the paper sheet have been saved."), "success")
    return redirect(back)
