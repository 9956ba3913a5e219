"""Organisers' side: volunteer search and detail (masked, audited), team requests."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..catalog import POLITICAL_STATUS, SKILLS
from ..extensions import db
from ..hooks import writes
from ..models import MembershipStatus, OrgLevel, OrgUnit, Role, TeamMembership
from ..permissions import load_in_scope, role_required
from ..query import arg_page
from ..services import ServiceError, audit, teams, volunteer_search, volunteers
from ..services.scope import path_filter
from ..timeutil import local_today, utcnow
from ..web import refuse
from .blueprint import bp
from .forms import SearchForm


@bp.route("/volunteers")
@role_required(*volunteer_search.SEARCH_ROLES)
def search():
    form = SearchForm(request.args)
    communities = db.session.scalars(
        select(OrgUnit)
        .where(OrgUnit.level == OrgLevel.COMMUNITY)
        .where(path_filter(OrgUnit.path, current_user, volunteer_search.SEARCH_ROLES))
        .order_by(OrgUnit.path)
    ).all()
    form.community.choices = [SelectChoice("", _("All"))] + [
        SelectChoice(str(c.id), c.name) for c in communities
    ]
    query = volunteer_search.search(current_user)
    if form.validate():
        query = volunteer_search.search(
            current_user,
            text=form.q.data or "",
            community_id=int(form.community.data) if form.community.data else None,
            political_status=form.political_status.data or None,
            skill=form.skill.data or None,
        )
    page = db.paginate(query, page=arg_page(), per_page=25, error_out=False)
    return render_template(
        "volunteers/search.html",
        form=form,
        page=page,
        politics=POLITICAL_STATUS,
        today=local_today(),
    )


def _detail_page(user_id: int, *, full_phone: bool):
    """The volunteer's record, masked; showing the full number is a separate, logged act."""
    profile = volunteer_search.load_for(current_user, user_id)
    if profile is None:
        abort(404)
    action = "pii.view_phone" if full_phone else "pii.view_profile"
    audit.record(action, actor=current_user, ip=request.remote_addr, obj=profile.user)
    memberships = db.session.scalars(
        select(TeamMembership).where(
            TeamMembership.user_id == user_id,
            TeamMembership.status == MembershipStatus.APPROVED,
        )
    ).all()
    today = local_today()
    return render_template(
        "volunteers/detail.html",
        profile=profile,
        full_phone=profile.user.phone if full_phone else None,
        memberships=memberships,
        politics=POLITICAL_STATUS,
        skills=SKILLS,
        minor=volunteers.is_minor(profile, today),
        age=profile.age_on(today),
    )


@bp.route("/volunteers/<int:user_id>")
@role_required(*volunteer_search.SEARCH_ROLES)
@writes
def detail(user_id: int):
    return _detail_page(user_id, full_phone=False)


@bp.route("/volunteers/<int:user_id>/phone", methods=["POST"])
@role_required(*volunteer_search.SEARCH_ROLES)
def reveal_phone(user_id: int):
    """Show the full number once, for a call; the view is written to the audit log."""
    return _detail_page(user_id, full_phone=True)


@bp.route("/volunteers/team-requests", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def team_requests():
    if request.method == "POST":
        row = load_in_scope(
            TeamMembership,
            request.form.get("membership", type=int) or 0,
            [Role.ORGANISER],
            org_of=lambda m: m.team,
        )
        try:
            teams.decide(
                current_user,
                row,
                request.form.get("op") == "approve",
                now=utcnow(),
                ip=request.remote_addr,
            )
        except ServiceError as error:
            refuse(error)
        else:
            flash(_("The request has been answered."), "success")
        return redirect(url_for("volunteers.team_requests"))
    pending = db.session.scalars(
        select(TeamMembership)
        .join(OrgUnit, OrgUnit.id == TeamMembership.team_id)
        .where(TeamMembership.status == MembershipStatus.PENDING)
        .where(path_filter(OrgUnit.path, current_user, [Role.ORGANISER]))
        .order_by(TeamMembership.requested_at)
    ).all()
    return render_template("volunteers/team_requests.html", pending=pending)
