"""The volunteer's own pages: the registration steps, the profile, data and deletion, teams."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from sqlalchemy import select

from .. import labels
from ..catalog import AVAILABILITY, CATEGORIES, ID_TYPES, POLITICAL_STATUS, SKILLS
from ..extensions import db
from ..hooks import writes
from ..models import (
    AffiliationHistory,
    Gender,
    IdType,
    MembershipStatus,
    OrgLevel,
    OrgUnit,
    PoliticalStatus,
    TeamMembership,
    VolunteerProfile,
)
from ..services import ServiceError, audit, teams, volunteers
from ..services.passwords import verify_password
from ..services.privacy_labels import labelled
from ..timeutil import local_today, utcnow
from ..web import refuse
from .blueprint import bp
from .forms import (
    ConsentForm,
    DeleteAccountForm,
    DetailsForm,
    IdentityForm,
    PoliticsForm,
    ResidenceForm,
)


def _next_step():
    """Continue with the first missing step, or show the profile when all are done."""
    profile = db.session.get(VolunteerProfile, current_user.id)
    missing = volunteers.missing_steps(profile, local_today())
    if missing:
        return redirect(url_for(missing[0].endpoint))
    # One banner, on the home page whose first card is the next step (find an event).
    flash(_("Your volunteer profile is complete. You can now sign up for shifts."), "success")
    return redirect(url_for("main.index"))


def _step_context(key: str) -> dict:
    profile = db.session.get(VolunteerProfile, current_user.id)
    missing = {s.key for s in volunteers.missing_steps(profile, local_today())}
    return {"steps": volunteers.STEPS, "current": key, "missing": missing, "profile": profile}


@bp.route("/me")
@login_required
def me():
    profile = db.session.get(VolunteerProfile, current_user.id)
    today = local_today()
    memberships = db.session.scalars(
        select(TeamMembership)
        .where(TeamMembership.user_id == current_user.id)
        .where(TeamMembership.status != MembershipStatus.LEFT)
    ).all()
    history = db.session.scalars(
        select(AffiliationHistory)
        .where(AffiliationHistory.user_id == current_user.id)
        .order_by(AffiliationHistory.valid_from.desc())
    ).all()
    return render_template(
        "volunteers/me.html",
        profile=profile,
        missing=volunteers.missing_steps(profile, today),
        id_number=profile.id_masked if profile else None,
        minor=bool(profile and volunteers.is_minor(profile, today)),
        age=profile.age_on(today) if profile else None,
        memberships=memberships,
        history=history,
        labels={
            "skills": SKILLS,
            "categories": CATEGORIES,
            "availability": AVAILABILITY,
            "politics": POLITICAL_STATUS,
            "id_types": ID_TYPES,
        },
    )


def _step(key: str, form, save: Callable[[], object], **context):
    """Show a registration step; on a valid submit save it and go to the next missing one."""
    if form.validate_on_submit():
        try:
            save()
        except ServiceError as error:
            refuse(error, form)
            context["existing_phone"] = getattr(error, "existing_phone", None)
        else:
            return _next_step()
    return render_template(
        f"volunteers/step_{key}.html", form=form, **context, **_step_context(key)
    )


@bp.route("/me/identity", methods=["GET", "POST"])
@login_required
def step_identity():
    profile = db.session.get(VolunteerProfile, current_user.id)
    if not volunteers.has_consented(profile):
        # No ID number before the consent to process it (PIPL Art 29).
        flash(_("Please agree to the privacy notice before entering your ID number."), "info")
        return redirect(url_for("volunteers.step_consent"))
    form = IdentityForm(
        data={"real_name": profile.real_name, "id_type": profile.id_type.value}
        if profile and profile.id_type
        else None,
    )
    return _step(
        "identity",
        form,
        lambda: volunteers.set_identity(
            current_user,
            form.real_name.data,
            IdType(form.id_type.data),
            form.id_number.data,
            today=local_today(),
            gender=Gender(form.gender.data) if form.gender.data else None,
            birth_date=form.birth_date.data,
            ip=request.remote_addr,
        ),
    )


@bp.route("/me/residence", methods=["GET", "POST"])
@login_required
def step_residence():
    profile = db.session.get(VolunteerProfile, current_user.id)
    form = ResidenceForm(
        data={"community": str(profile.community_id)} if profile and profile.community_id else None
    )
    return _step(
        "residence",
        form,
        lambda: volunteers.set_residence(
            current_user, db.session.get(OrgUnit, int(form.community.data)), now=utcnow()
        ),
    )


@bp.route("/me/politics", methods=["GET", "POST"])
@login_required
def step_politics():
    profile = db.session.get(VolunteerProfile, current_user.id)
    data = None
    if profile and profile.political_status:
        data = {
            "political_status": profile.political_status.value,
            "branch": str(profile.branch_id or ""),
        }
    elif profile and profile.community:
        # Pre-select the branch of the home community; the volunteer may pick another.
        suggested = volunteers.suggested_branch(profile.community)
        data = {"branch": str(suggested.id)} if suggested else None
    form = PoliticsForm(data=data)
    return _step(
        "politics",
        form,
        lambda: volunteers.set_politics(
            current_user,
            PoliticalStatus(form.political_status.data),
            db.session.get(OrgUnit, int(form.branch.data)) if form.branch.data else None,
            now=utcnow(),
        ),
    )


@bp.route("/me/details", methods=["GET", "POST"])
@login_required
def step_details():
    profile = db.session.get(VolunteerProfile, current_user.id)
    data = None
    if profile and profile.emergency_phone:
        data = {
            "skills": profile.skills,
            "categories": profile.service_categories,
            "availability": profile.availability,
            "emergency_name": profile.emergency_name,
            "emergency_phone": profile.emergency_phone,
        }
    form = DetailsForm(data=data)
    return _step(
        "details",
        form,
        lambda: volunteers.set_details(
            current_user,
            skills=form.skills.data or [],
            categories=form.categories.data or [],
            availability=form.availability.data or [],
            emergency_name=form.emergency_name.data,
            emergency_phone=form.emergency_phone.data,
        ),
    )


@bp.route("/me/consent", methods=["GET", "POST"])
@login_required
def step_consent():
    profile = db.session.get(VolunteerProfile, current_user.id)
    minor = bool(profile and volunteers.is_minor(profile, local_today()))
    form = ConsentForm()
    return _step(
        "consent",
        form,
        lambda: volunteers.give_consent(
            current_user,
            privacy=form.privacy.data,
            sensitive=form.sensitive.data,
            guardian_name=form.guardian_name.data or "",
            guardian_phone=form.guardian_phone.data or "",
            guardian_consent=form.guardian_consent.data,
            now=utcnow(),
            today=local_today(),
            ip=request.remote_addr,
        ),
        minor=minor,
    )


@bp.route("/privacy")
def privacy():
    return render_template("volunteers/privacy.html", version=volunteers.PRIVACY_VERSION)


@bp.route("/me/data")
@writes
@login_required
def my_data():
    data = labelled(volunteers.export_data(current_user))
    audit.record("pii.self_export", actor=current_user, ip=request.remote_addr, obj=current_user)
    if request.args.get("format") == "json":
        body = json.dumps(data, ensure_ascii=False, indent=2)
        return Response(
            body,
            mimetype="application/json",
            headers={"Content-Disposition": "attachment; filename=my-volunteer-data.json"},
        )
    # On screen the ID number is masked like everywhere else; the JSON download keeps it.
    profile = db.session.get(VolunteerProfile, current_user.id)
    full = volunteers.id_number_of(profile) if profile is not None else None
    shown = _masked(data, full, profile.id_masked) if full else data
    return render_template("volunteers/my_data.html", data=labels.readable_data(shown))


def _masked(value, full: str, masked: str):
    """`value` with every string holding the full ID number masked (dicts and lists too)."""
    if isinstance(value, str):
        return value.replace(full, masked)
    if isinstance(value, dict):
        return {k: _masked(v, full, masked) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v, full, masked) for v in value]
    return value


@bp.route("/me/delete", methods=["GET", "POST"])
@login_required
def delete_account():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if not form.confirm.data:
            form.form_errors.append(_("Please tick the box to confirm."))
        elif not verify_password(current_user.password_hash, form.password.data):
            form.form_errors.append(_("The password is not correct."))
        else:
            volunteers.delete_account(current_user, now=utcnow(), ip=request.remote_addr)
            logout_user()
            flash(_("Your account has been deleted and your personal data erased."), "info")
            return redirect(url_for("main.index"))
    return render_template("volunteers/delete.html", form=form)


@bp.route("/me/teams", methods=["GET", "POST"])
@login_required
def my_teams():
    if request.method == "POST":
        team = db.session.get(OrgUnit, request.form.get("team", type=int) or 0)
        if team is None or team.level is not OrgLevel.TEAM:
            abort(404)
        try:
            if request.form.get("op") == "leave":
                row = db.session.scalar(
                    select(TeamMembership).where(
                        TeamMembership.user_id == current_user.id,
                        TeamMembership.team_id == team.id,
                    )
                )
                if row is None:
                    abort(404)
                teams.leave(current_user, row)
                message = _("You have left %(team)s.", team=team.name)
            else:
                teams.request_join(current_user, team, now=utcnow())
                message = _("Your request to join %(team)s has been sent.", team=team.name)
        except ServiceError as error:
            refuse(error)
        else:
            flash(message, "success")
        return redirect(url_for("volunteers.my_teams"))
    all_teams = db.session.scalars(
        select(OrgUnit)
        .where(OrgUnit.level == OrgLevel.TEAM, OrgUnit.active.is_(True))
        .order_by(OrgUnit.path)
    ).all()
    mine = {
        m.team_id: m
        for m in db.session.scalars(
            select(TeamMembership).where(TeamMembership.user_id == current_user.id)
        )
    }
    return render_template("volunteers/teams.html", teams=all_teams, mine=mine)
