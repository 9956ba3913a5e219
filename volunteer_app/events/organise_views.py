"""Organisers' pages: the events in their scope, creating and managing an event and its
shifts, and a shift's roster. Every object is loaded within the caller's organiser scope,
so another scope's event answers 404. A shift's roster: events/roster_views.py."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, lazyload

from ..catalog import CATEGORIES
from ..extensions import db
from ..models import (
    Event,
    EventStatus,
    OrgUnit,
    Role,
    Shift,
    Signup,
)
from ..permissions import events, organised_nodes, role_required, shifts
from ..query import arg_enum, arg_page
from ..services import ServiceError
from ..services import events as event_service
from ..services.scope import path_filter
from ..signups import ACTIVE
from ..timeutil import utcnow
from ..web import flash_form_errors, refuse, submit
from .blueprint import bp
from .forms import (
    STATUS_LABELS,
    VISIBILITY_LABELS,
    EventFilterForm,
    EventForm,
    NewEventForm,
)
from .shift_forms import (
    ActionForm,
    CancelForm,
    CancelShiftForm,
    CopyForm,
    RepeatForm,
    ShiftForm,
)

ORGANISER = [Role.ORGANISER]


def _event(event_id: int) -> Event:
    return events.load(event_id)


#: A shift with its event and host (what the scope check reads) in one query; its leads
#: only if a page reads them.
SHIFT_WITH_EVENT = (joinedload(Shift.event).joinedload(Event.host), lazyload(Shift.leads))


def shift_in_scope(shift_id: int) -> Shift:
    """The shift (with its event and host) if it is in the organiser's scope, else 404."""
    return shifts.load(shift_id, options=SHIFT_WITH_EVENT)


def _ip() -> str | None:
    return request.remote_addr


# ---------------------------------------------------------------- the list


@bp.route("/organise/events")
@role_required(Role.ORGANISER)
def organise_list():
    form = EventFilterForm(request.args)
    query = (
        select(Event)
        .join(OrgUnit, OrgUnit.id == Event.host_id)
        .where(path_filter(OrgUnit.path, current_user, ORGANISER))
        .options(joinedload(Event.host))
        .order_by(Event.created_at.desc(), Event.id.desc())
    )
    status = arg_enum("status", EventStatus)
    if status is not None:
        query = query.where(Event.status == status)
    page = db.paginate(query, page=arg_page(), per_page=25, error_out=False)
    ids = [event.id for event in page.items]
    stats = {
        event_id: (shifts, int(taken or 0), int(capacity or 0))
        for event_id, shifts, taken, capacity in db.session.execute(
            select(
                Shift.event_id,
                func.count(Shift.id),
                func.sum(Shift.taken),
                func.sum(Shift.capacity),
            )
            .where(Shift.event_id.in_(ids), Shift.cancelled.is_(False))
            .group_by(Shift.event_id)
        )
    }
    return render_template(
        "events/organise/list.html",
        form=form,
        page=page,
        stats=stats,
        status_labels=STATUS_LABELS,
    )


# ---------------------------------------------------------------- a new event


@bp.route("/organise/events/new", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def organise_new():
    form = NewEventForm(current_user)
    answer = submit(
        form,
        lambda: event_service.create_event(
            current_user,
            organised_nodes.load(int(form.host.data)),
            form.event_fields(),
            ip=_ip(),
        ),
        lambda event: (
            _("The event is saved as a draft. Add its shifts, then publish it."),
            url_for("events.organise_event", event_id=event.id),
        ),
    )
    return answer or render_template("events/organise/new.html", form=form)


# ---------------------------------------------------------------- the manage page


def _manage(event: Event, **posted):
    """The manage page; `posted` holds the form that was just sent (with its errors)."""
    blank = {"formdata": None}
    forms = {
        "edit": EventForm.for_event(event, prefix="event", **blank),
        "shift": ShiftForm(current_user, prefix="shift", **blank),
        "publish": ActionForm(prefix="publish", **blank),
        "cancel": CancelForm(prefix="cancel", **blank),
        "cancel_shift": CancelShiftForm(prefix="cancel_shift", **blank),
        "copy": CopyForm(prefix="copy", **blank),
        "repeat": RepeatForm(prefix="repeat", **blank),
    }
    forms.update(posted)
    live = [s for s in event.shifts if not s.cancelled]
    to_tell = db.session.scalar(
        select(func.count())
        .select_from(Signup)
        .where(Signup.shift_id.in_([s.id for s in live]), Signup.status.in_(ACTIVE))
    )
    series = []
    if event.series_key:
        series = db.session.scalars(
            select(Event)
            .where(Event.series_key == event.series_key, Event.id != event.id)
            .order_by(Event.starts_at, Event.id)
        ).all()
    return render_template(
        "events/organise/manage.html",
        event=event,
        forms=forms,
        open_form=next(iter(posted), None),
        to_tell=to_tell,
        series=series,
        status_labels=STATUS_LABELS,
        visibility_labels=VISIBILITY_LABELS,
        categories=CATEGORIES,
        editable=event.status not in (EventStatus.CANCELLED, EventStatus.COMPLETED),
    )


def _here(event: Event) -> str:
    return url_for("events.organise_event", event_id=event.id)


@bp.route("/organise/events/<int:event_id>")
@role_required(Role.ORGANISER)
def organise_event(event_id: int):
    return _manage(_event(event_id))


@bp.route("/organise/events/<int:event_id>/edit", methods=["POST"])
@role_required(Role.ORGANISER)
def organise_edit(event_id: int):
    event = _event(event_id)
    form = EventForm(prefix="event")
    answer = submit(
        form,
        lambda: event_service.update_event(current_user, event, form.event_fields(), ip=_ip()),
        lambda _event: (_("The details have been saved."), _here(event)),
    )
    return answer or _manage(event, edit=form)


@bp.route("/organise/events/<int:event_id>/shifts", methods=["POST"])
@role_required(Role.ORGANISER)
def organise_add_shift(event_id: int):
    event = _event(event_id)
    form = ShiftForm(current_user, prefix="shift")
    answer = submit(
        form,
        lambda: event_service.add_shift(current_user, event, form.shift_fields(), ip=_ip()),
        lambda _shift: (_("The shift has been added."), _here(event)),
    )
    return answer or _manage(event, shift=form)


@bp.route("/organise/events/<int:event_id>/publish", methods=["POST"])
@role_required(Role.ORGANISER)
def organise_publish(event_id: int):
    event = _event(event_id)
    form = ActionForm(prefix="publish")
    answer = submit(
        form,
        lambda: event_service.publish(current_user, event, ip=_ip()),
        lambda _event: (_("The event is published; volunteers can now sign up."), _here(event)),
    )
    return answer or _manage(event, publish=form)


@bp.route("/organise/events/<int:event_id>/cancel", methods=["POST"])
@role_required(Role.ORGANISER)
def organise_cancel(event_id: int):
    event = _event(event_id)
    form = CancelForm(prefix="cancel")
    answer = submit(
        form,
        lambda: event_service.cancel_event(
            current_user, event, form.reason.data, now=utcnow(), ip=_ip()
        ),
        lambda told: (
            _("The event has been cancelled. Volunteers told: %(n)d.", n=told),
            _here(event),
        ),
    )
    return answer or _manage(event, cancel=form)


@bp.route("/organise/events/<int:event_id>/copy", methods=["POST"])
@role_required(Role.ORGANISER)
def organise_copy(event_id: int):
    event = _event(event_id)
    form = CopyForm(prefix="copy")
    answer = submit(
        form,
        lambda: event_service.copy_event(current_user, event, form.offset_for(event), ip=_ip()),
        lambda copy: (
            _("This is the copy, a draft. Check it, then publish it."),
            _here(copy),
        ),
    )
    return answer or _manage(event, copy=form)


@bp.route("/organise/events/<int:event_id>/repeat", methods=["POST"])
@role_required(Role.ORGANISER)
def organise_repeat(event_id: int):
    event = _event(event_id)
    form = RepeatForm(prefix="repeat")
    answer = submit(
        form,
        lambda: event_service.repeat_event(
            current_user, event, weekly=form.weekly.data or 0, dates=form.parsed_dates, ip=_ip()
        ),
        lambda made: (
            _("Drafts made: %(n)d. They are listed under “Same series”.", n=len(made)),
            _here(event),
        ),
    )
    return answer or _manage(event, repeat=form)


# ---------------------------------------------------------------- one shift


@bp.route("/organise/shifts/<int:shift_id>/edit", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def organise_shift(shift_id: int):
    shift = shift_in_scope(shift_id)
    if request.method == "POST":
        form = ShiftForm(current_user, keep_leads=[lead.user for lead in shift.leads])
    else:
        form = ShiftForm.for_shift(current_user, shift)
    answer = submit(
        form,
        lambda: event_service.update_shift(
            current_user, shift, form.shift_fields(), now=utcnow(), ip=_ip()
        ),
        lambda _shift: (_("The shift has been saved."), _here(shift.event)),
    )
    return answer or render_template("events/organise/shift.html", shift=shift, form=form)


@bp.route("/organise/shifts/<int:shift_id>/cancel", methods=["POST"])
@role_required(Role.ORGANISER)
def organise_cancel_shift(shift_id: int):
    shift = shift_in_scope(shift_id)
    form = CancelShiftForm(prefix="cancel_shift")
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(_here(shift.event))
    try:
        told = event_service.cancel_shift(
            current_user, shift, form.reason.data, now=utcnow(), ip=_ip()
        )
    except ServiceError as error:
        refuse(error)
    else:
        flash(_("The shift has been cancelled. Volunteers told: %(n)d.", n=told), "success")
    return redirect(_here(shift.event))
