"""The workspace's pages. Every object is loaded within the caller's scope: another
organiser's event, shift or unit answers 404, exactly like one that does not exist.

Who may open what: a shift's roster, its sign-in sheet and the paper times are for the
shift's leads and the organisers of its host (permissions.led_shifts); everything
else (event and unit rosters, full numbers, exports, messages) for organisers only.
"""

from __future__ import annotations

from datetime import timedelta

from flask import (
    abort,
    current_app,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from ..models import Event, OrgUnit, Role, Shift
from ..permissions import role_required
from ..query import arg_page
from ..timeutil import local_today, utcnow
from . import members, rosters
from .blueprint import bp
from .dashboard import workspace
from .forms import (
    ActionForm,
    NodeFilterForm,
    PaperTimesForm,
    SignupFilterForm,
    chosen_id,
    community_choices,
)
from .web import _event, _grace, _ip, _is_organiser_of, _led_shift, _node, _same_args, _shift

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
