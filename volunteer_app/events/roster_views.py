"""Organisers' roster of one shift: the volunteers signed up, adding one (past the
capacity, marked) and removing one with the reason they are told. The shift is loaded
within the organiser's scope (another scope's shift answers 404)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import signups
from ..extensions import db
from ..models import Role, Shift, VolunteerProfile
from ..organise import rosters
from ..permissions import event_signups, role_required
from ..services import ServiceError
from ..signups import ACTIVE
from ..timeutil import utcnow
from ..volunteers import picker
from ..web import flash_form_errors, refuse, submit
from .blueprint import bp
from .forms import SIGNUP_LABELS
from .organise_views import shift_in_scope
from .shift_forms import AddVolunteerForm, RemoveForm


def _roster(shift: Shift, add: AddVolunteerForm | None = None):
    """Adding and removing volunteers; the rows come from organise.rosters in one query
    (the full roster, sign-in sheet and exports are in the workspace)."""
    return render_template(
        "events/organise/roster.html",
        shift=shift,
        event=shift.event,
        rows=rosters.shift_lines(shift),
        form=add or AddVolunteerForm(prefix="add", formdata=None),
        # Each row links to its removal page; the link is built from one url_for, not 500.
        remove_href=url_for("events.organise_roster_remove", signup_id=0).split("/0/"),
        signup_labels=SIGNUP_LABELS,
        workspace="organise.shift_roster" in current_app.view_functions,
    )


@bp.route("/organise/shifts/<int:shift_id>/roster")
@role_required(Role.ORGANISER)
def organise_roster(shift_id: int):
    return _roster(shift_in_scope(shift_id))


@bp.route("/organise/shifts/<int:shift_id>/roster/add", methods=["POST"])
@role_required(Role.ORGANISER)
def organise_roster_add(shift_id: int):
    shift = shift_in_scope(shift_id)
    form = AddVolunteerForm(prefix="add")
    profile = picker.pick(form, current_user)
    if profile is None:
        return _roster(shift, form)
    answer = submit(
        form,
        lambda: signups.organiser_add(
            current_user,
            shift,
            profile.user,
            now=utcnow(),
            reason=form.reason.data,
            ip=request.remote_addr,
        ),
        lambda signup: (
            _("%(name)s has been added beyond the capacity (marked).", name=profile.real_name)
            if signup.over_capacity
            else _("%(name)s has been added.", name=profile.real_name),
            url_for("events.organise_roster", shift_id=shift.id),
        ),
    )
    return answer or _roster(shift, form)


@bp.route("/organise/signups/<int:signup_id>/remove", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def organise_roster_remove(signup_id: int):
    """GET: who is removed from which shift, and the reason to send them; POST: remove."""
    signup = event_signups.load(signup_id)
    shift_id = signup.shift_id
    if request.method == "GET":
        if signup.status not in ACTIVE:
            flash(_("This sign-up is no longer active."), "info")
            return redirect(url_for("events.organise_roster", shift_id=shift_id))
        profile = db.session.get(VolunteerProfile, signup.user_id)
        return render_template(
            "events/organise/remove.html",
            signup=signup,
            shift=signup.shift,
            event=signup.shift.event,
            name=(profile.real_name if profile else None) or signup.user.display_name,
            form=RemoveForm(prefix="remove", formdata=None),
        )
    form = RemoveForm(prefix="remove")
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("events.organise_roster_remove", signup_id=signup_id))
    try:
        promoted = signups.cancel(
            signup,
            actor=current_user,
            now=utcnow(),
            reason=form.reason.data,
            as_organiser=True,
            ip=request.remote_addr,
        )
    except ServiceError as error:
        refuse(error)
    else:
        flash(_("The volunteer has been removed and told why."), "success")
        if promoted:
            flash(_("Moved up from the waitlist: %(n)d.", n=len(promoted)), "info")
    return redirect(url_for("events.organise_roster", shift_id=shift_id))
