"""The workspace's pages. Every object is loaded within the caller's scope: another
organiser's event, shift or unit answers 404, exactly like one that does not exist.

Who may open what: a shift's roster, its sign-in sheet and the paper times are for the
shift's leads and the organisers of its host (permissions.led_shifts); everything
else (event and unit rosters, full numbers, exports, messages) for organisers only.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload

from ..catalog import POLITICAL_STATUS
from ..extensions import db
from ..hooks import writes
from ..models import AuditLog, Event, OrgUnit, Role, Shift, Signup, User
from ..permissions import events, led_shifts, organised_nodes, role_required, shifts
from ..query import arg_page
from ..services import ServiceError, exports, messages
from ..services.scope import covers
from ..timeutil import from_local, local_today, to_local, utcnow
from ..web import refuse
from . import members, paper, rosters, tables
from .blueprint import bp
from .dashboard import workspace
from .forms import (
    ActionForm,
    MessageForm,
    NodeFilterForm,
    PaperTimesForm,
    SignupFilterForm,
    chosen_id,
    community_choices,
)

ORGANISER = [Role.ORGANISER]
#: Empty lines at the foot of a sign-in sheet, for walk-ins.
BLANK_LINES = 5


@bp.context_processor
def _helpers() -> dict:
    return {
        "hm": tables.hm,
        "status_labels": tables.STATUS_LABELS,
        "politics": POLITICAL_STATUS,
        "hours_pending_url": (
            url_for("hours.pending") if "hours.pending" in current_app.view_functions else None
        ),
    }


def _ip() -> str | None:
    return request.remote_addr


def _grace() -> int:
    return int(current_app.config.get("CREDIT_GRACE_MINUTES", 0))


def _is_organiser_of(event: Event) -> bool:
    return covers(current_user, event.host, ORGANISER)


# ---------------------------------------------------------------- loading in scope


#: A shift with its event and host (what the scope check reads) in one query.
SHIFT_WITH_EVENT = (joinedload(Shift.event).joinedload(Event.host), lazyload(Shift.leads))


def _event(event_id: int) -> Event:
    return events.load(event_id)


def _shift(shift_id: int) -> Shift:
    return shifts.load(shift_id, options=SHIFT_WITH_EVENT)


def _led_shift(shift_id: int) -> Shift:
    """A shift the caller leads or organises; 404 otherwise."""
    return led_shifts.load(shift_id, options=SHIFT_WITH_EVENT[:1])


def _node(node_id: int) -> OrgUnit:
    return organised_nodes.load(node_id)


#: The query parameters a roster link carries over (never url_for's own _external etc.).
KEPT_ARGS = ("status", "community", "sort", "page")


def _same_args(endpoint: str, **values) -> str:
    """The URL of `endpoint` keeping this request's filters, sort and page."""
    args = {k: request.args[k] for k in KEPT_ARGS if k in request.args and k not in values}
    return url_for(endpoint, **args, **values)


# ---------------------------------------------------------------- the dashboard


@bp.route("/")
@role_required(Role.ORGANISER)
def dashboard():
    now = utcnow()
    return render_template(
        "organise/dashboard.html",
        ws=workspace(current_user, now=now, today=local_today()),
        now=now,
    )


# ---------------------------------------------------------------- sign-up rosters


def _signup_filters() -> tuple[SignupFilterForm, rosters.SignupFilter, int]:
    form = SignupFilterForm(request.args)
    sort = form.sort.data if form.sort.data in rosters.SIGNUP_SORTS else "status"
    form.sort.data = sort
    filters = rosters.SignupFilter(
        statuses=form.statuses(), community_id=chosen_id(form.community.data), sort=sort
    )
    return form, filters, arg_page()


def _paper_open(shift: Shift | None) -> bool:
    """Paper times can be entered once check-in has opened and until the hours are confirmed."""
    if shift is None or shift.confirmed_at is not None or shift.cancelled:
        return False
    return utcnow() >= shift.starts_at - timedelta(minutes=shift.checkin_opens_minutes)


def _signup_roster_page(*, event: Event, shift: Shift | None, reveal: bool = False):
    form, filters, page = _signup_filters()
    if shift is not None:
        roster = rosters.shift_roster(shift, filters, page=page, grace_minutes=_grace())
        endpoint, ident = "organise.shift_roster", {"shift_id": shift.id}
        scope = {"kind": "shift", "shift_id": shift.id, "event_id": event.id}
    else:
        roster = rosters.event_roster(event, filters, page=page, grace_minutes=_grace())
        endpoint, ident = "organise.event_roster", {"event_id": event.id}
        scope = {"kind": "event", "event_id": event.id}
    if reveal:
        rosters.reveal_phones(
            current_user, scope, len(roster.rows), ip=_ip(), obj=shift if shift else event
        )
    community_choices(form, roster.communities)
    organiser = _is_organiser_of(event)
    kind = scope["kind"]
    return render_template(
        "organise/roster.html",
        kind=kind,
        event=event,
        shift=shift,
        roster=roster,
        form=form,
        reveal=reveal,
        organiser=organiser,
        can_enter_paper=_paper_open(shift),
        paper=PaperTimesForm(formdata=None),
        action=ActionForm(formdata=None),
        here=url_for(endpoint, **ident),
        page_url=lambda n: _same_args(endpoint, **ident, page=n),
        reveal_url=_same_args(f"organise.{kind}_phones", **ident),
        export_url=lambda fmt: _same_args(f"organise.{kind}_export", **ident, format=fmt),
        print_url=url_for(f"organise.{kind}_print", **ident),
        message_url=url_for(f"organise.message_{kind}", **ident),
        attendance_url=(
            url_for("checkin.attendance", shift_id=shift.id)
            if shift is not None and "checkin.attendance" in current_app.view_functions
            else None
        ),
    )


@bp.route("/rosters/shifts/<int:shift_id>")
@role_required(Role.LEAD, Role.ORGANISER)
def shift_roster(shift_id: int):
    shift = _led_shift(shift_id)
    return _signup_roster_page(event=shift.event, shift=shift)


@bp.route("/rosters/shifts/<int:shift_id>/phones", methods=["POST"])
@role_required(Role.ORGANISER)
def shift_phones(shift_id: int):
    shift = _shift(shift_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return _signup_roster_page(event=shift.event, shift=shift, reveal=True)


@bp.route("/rosters/events/<int:event_id>")
@role_required(Role.ORGANISER)
def event_roster(event_id: int):
    return _signup_roster_page(event=_event(event_id), shift=None)


@bp.route("/rosters/events/<int:event_id>/phones", methods=["POST"])
@role_required(Role.ORGANISER)
def event_phones(event_id: int):
    event = _event(event_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return _signup_roster_page(event=event, shift=None, reveal=True)


# ---------------------------------------------------------------- node and team rosters


def _node_roster_page(node: OrgUnit, *, reveal: bool = False):
    form = NodeFilterForm(request.args)
    sort = form.sort.data if form.sort.data in members.NODE_SORTS else "name"
    form.sort.data = sort
    filters = members.NodeFilter(community_id=chosen_id(form.community.data), sort=sort)
    year = local_today().year
    roster = members.node_roster(node, year, filters, page=arg_page())
    if reveal:
        rosters.reveal_phones(
            current_user, {"kind": "node", "node_id": node.id}, len(roster.rows), ip=_ip(), obj=node
        )
    community_choices(form, roster.communities)
    ident = {"node_id": node.id}
    return render_template(
        "organise/node_roster.html",
        node=node,
        year=year,
        roster=roster,
        form=form,
        reveal=reveal,
        action=ActionForm(formdata=None),
        page_url=lambda n: _same_args("organise.node_roster", **ident, page=n),
        reveal_url=_same_args("organise.node_phones", **ident),
        export_url=lambda fmt: _same_args("organise.node_export", **ident, format=fmt),
        children=[c for c in node.children if c.active],
    )


@bp.route("/rosters/nodes/<int:node_id>")
@role_required(Role.ORGANISER)
def node_roster(node_id: int):
    return _node_roster_page(_node(node_id))


@bp.route("/rosters/nodes/<int:node_id>/phones", methods=["POST"])
@role_required(Role.ORGANISER)
def node_phones(node_id: int):
    node = _node(node_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return _node_roster_page(node, reveal=True)


# ---------------------------------------------------------------- exports


def _format() -> str:
    fmt = request.args.get("format", "xlsx")
    if fmt not in exports.FORMATS:
        abort(400)
    return fmt


def _download(fmt: str, filename: str, headers: list, rows: list, scope: dict, filters: dict):
    body, mimetype = exports.render(fmt, headers, rows, title=filename)
    rosters.record_export(current_user, scope, len(rows), fmt, ip=_ip(), filters=filters)
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
    fmt = _format()
    _form, filters, _page = _signup_filters()
    roster = rosters.shift_roster(shift, filters, per_page=None, grace_minutes=_grace())
    headers, rows = tables.signup_table(roster, with_shift=False)
    name = _("Roster %(event)s %(post)s", event=shift.event.title, post=shift.post)
    return _download(
        fmt,
        f"{name} {_stamp()}",
        headers,
        rows,
        {"kind": "shift", "shift_id": shift.id, "event_id": shift.event_id},
        _filter_detail(filters),
    )


@bp.route("/rosters/events/<int:event_id>/export")
@role_required(Role.ORGANISER)
@writes
def event_export(event_id: int):
    event = _event(event_id)
    fmt = _format()
    _form, filters, _page = _signup_filters()
    roster = rosters.event_roster(event, filters, per_page=None, grace_minutes=_grace())
    headers, rows = tables.signup_table(roster, with_shift=True)
    name = _("Roster %(event)s", event=event.title)
    return _download(
        fmt,
        f"{name} {_stamp()}",
        headers,
        rows,
        {"kind": "event", "event_id": event.id},
        _filter_detail(filters),
    )


@bp.route("/rosters/nodes/<int:node_id>/export")
@role_required(Role.ORGANISER)
@writes
def node_export(node_id: int):
    node = _node(node_id)
    fmt = _format()
    form = NodeFilterForm(request.args)
    filters = members.NodeFilter(
        community_id=chosen_id(form.community.data),
        sort=form.sort.data if form.sort.data in members.NODE_SORTS else "name",
    )
    roster = members.node_roster(node, local_today().year, filters, per_page=None)
    headers, rows = tables.node_table(roster)
    name = _("Members %(unit)s", unit=node.name)
    return _download(
        fmt,
        f"{name} {_stamp()}",
        headers,
        rows,
        {"kind": "node", "node_id": node.id},
        _filter_detail(filters),
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
