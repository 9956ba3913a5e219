"""Org trees, role grants and the audit log."""

from __future__ import annotations

import io
import json

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..catalog import LEVEL_LABELS, ROLE_LABELS
from ..extensions import db
from ..hooks import writes
from ..models import CHILD_LEVELS, AuditLog, OrgUnit, Role, RoleGrant, User
from ..permissions import load_in_scope, role_required
from ..query import arg_page
from ..services import ServiceError, exports, identifiers, roles
from ..services import audit as audit_service
from ..services import orgs as org_service
from ..services.scope import covers, path_filter
from ..timeutil import to_local, utcnow
from ..web import refuse
from .blueprint import bp
from .forms import (
    ActionForm,
    AddChildForm,
    AuditFilterForm,
    GrantForm,
    MoveForm,
    NameForm,
    node_choices,
)

ORG_ROLES = (Role.ORGANISER, Role.ADMIN)


@bp.route("/orgs")
@role_required(Role.ORGANISER)
def orgs():
    nodes = list(
        db.session.scalars(
            select(OrgUnit)
            .where(path_filter(OrgUnit.path, current_user, ORG_ROLES))
            .order_by(OrgUnit.path)
        )
    )
    by_parent: dict[int | None, list[OrgUnit]] = {}
    ids = {n.id for n in nodes}
    for node in sorted(nodes, key=lambda n: (n.sort_order, n.id)):
        parent = node.parent_id if node.parent_id in ids else None
        by_parent.setdefault(parent, []).append(node)
    return render_template(
        "admin/orgs.html",
        by_parent=by_parent,
        level_labels=LEVEL_LABELS,
        can_edit=current_user.has_role(Role.ADMIN),
    )


def _node_forms(node: OrgUnit) -> dict:
    add = AddChildForm(prefix="add")
    add.level.choices = [
        SelectChoice(lv.value, LEVEL_LABELS[lv.value]) for lv in CHILD_LEVELS[node.level]
    ]
    move = MoveForm(prefix="move")
    move.parent.choices = [
        SelectChoice(n.id, "　" * n.depth + n.name) for n in org_service.valid_parents(node)
    ]
    return {
        "rename": NameForm(prefix="rename", name=node.name),
        "add": add,
        "move": move,
        "action": ActionForm(prefix="act"),
    }


@bp.route("/orgs/<int:node_id>", methods=["GET", "POST"])
@role_required(Role.ORGANISER)
def org_detail(node_id: int):
    node = load_in_scope(OrgUnit, node_id, ORG_ROLES)
    can_edit = covers(current_user, node, [Role.ADMIN])
    forms = _node_forms(node)
    if request.method == "POST":
        if not can_edit:
            abort(403)
        op = request.form.get("op", "")
        try:
            done = _apply(op, node, forms)
        except ServiceError as error:
            refuse(error)
        else:
            if done is not None:
                flash(done[0], "success")
                return redirect(done[1])
    return render_template(
        "admin/org_detail.html",
        node=node,
        forms=forms,
        can_edit=can_edit,
        level_labels=LEVEL_LABELS,
        usage=org_service.usage(node),
        children=node.children,
        ancestors=org_service.ancestors(node),
        grants=db.session.scalars(select(RoleGrant).where(RoleGrant.org_unit_id == node.id)).all(),
        role_labels=ROLE_LABELS,
    )


def _apply(op: str, node: OrgUnit, forms: dict):
    """Run one edit on the node; (message, redirect) on success, None if a form is invalid."""
    ip = request.remote_addr
    here = url_for("admin.org_detail", node_id=node.id)
    if op == "rename" and forms["rename"].validate_on_submit():
        org_service.rename_node(node, forms["rename"].name.data, actor=current_user, ip=ip)
        return _("The unit has been renamed."), here
    if op == "add" and forms["add"].validate_on_submit():
        from ..models import OrgLevel

        child = org_service.create_node(
            forms["add"].name.data,
            OrgLevel(forms["add"].level.data),
            node,
            actor=current_user,
            ip=ip,
        )
        return _("The unit has been added."), url_for("admin.org_detail", node_id=child.id)
    if op == "move" and forms["move"].validate_on_submit():
        parent = db.session.get(OrgUnit, forms["move"].parent.data)
        if parent is None:
            abort(404)
        org_service.move_node(node, parent, actor=current_user, ip=ip)
        return _("The unit has been moved."), here
    if op in ("deactivate", "activate") and forms["action"].validate_on_submit():
        org_service.set_active(node, op == "activate", actor=current_user, ip=ip)
        if op == "activate":
            return _("The unit is active again."), here
        return _("The unit and everything below it have been deactivated."), here
    if op == "delete" and forms["action"].validate_on_submit():
        parent_id = node.parent_id
        org_service.delete_node(node, actor=current_user, ip=ip)
        target = (
            url_for("admin.org_detail", node_id=parent_id) if parent_id else url_for("admin.orgs")
        )
        return _("The unit has been deleted."), target
    if op not in ("rename", "add", "move", "activate", "deactivate", "delete"):
        abort(400)
    return None


@bp.route("/roles", methods=["GET", "POST"])
@role_required(Role.ADMIN, Role.ORGANISER)
def grants():
    form = GrantForm()
    form.org_unit.choices = node_choices()
    if form.validate_on_submit():
        node = load_in_scope(OrgUnit, form.org_unit.data, ORG_ROLES)
        try:
            roles.grant(current_user, form.user, Role(form.role.data), node, ip=request.remote_addr)
        except ServiceError as error:
            form.form_errors.extend(error.messages)
        else:
            flash(_("The role has been granted."), "success")
            return redirect(url_for("admin.grants"))
    rows = db.session.scalars(
        select(RoleGrant)
        .join(RoleGrant.org_unit)
        .join(RoleGrant.user)
        .where(path_filter(OrgUnit.path, current_user, ORG_ROLES))
        .order_by(OrgUnit.path, RoleGrant.role)
    ).all()
    return render_template(
        "admin/grants.html",
        form=form,
        rows=rows,
        role_labels=ROLE_LABELS,
        action=ActionForm(prefix="act"),
    )


@bp.route("/roles/<int:grant_id>/remove", methods=["POST"])
@role_required(Role.ADMIN, Role.ORGANISER)
def remove_grant(grant_id: int):
    row = load_in_scope(RoleGrant, grant_id, ORG_ROLES, org_of=lambda g: g.org_unit)
    if not ActionForm(prefix="act").validate_on_submit():
        abort(400)
    try:
        roles.revoke(current_user, row, ip=request.remote_addr)
    except ServiceError as error:
        refuse(error)
    else:
        flash(_("The role has been removed."), "success")
    return redirect(url_for("admin.grants"))


def _audit_query(form: AuditFilterForm):
    """The audit rows the search form asks for, newest first."""
    query = select(AuditLog).order_by(AuditLog.id.desc())
    if form.validate():
        if form.action.data:
            query = query.where(AuditLog.action.startswith(form.action.data.strip()))
        if form.phone.data:
            query = query.join(User, User.id == AuditLog.actor_id).where(
                User.phone.endswith(identifiers.phone(form.phone.data))
            )
    return query


@bp.route("/audit")
@role_required(Role.ADMIN)
def audit():
    form = AuditFilterForm(request.args)
    page = db.paginate(_audit_query(form), page=arg_page(), per_page=50, error_out=False)
    actors = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_({r.actor_id for r in page.items if r.actor_id}))
        )
    }
    return render_template("admin/audit.html", form=form, page=page, actors=actors)


#: Most rows one audit export holds (newest first); narrow the search for older ones.
AUDIT_EXPORT_LIMIT = 50_000


@bp.route("/audit/export")
@writes
@role_required(Role.ADMIN)
def audit_export():
    """The searched audit rows as CSV or Excel; the export itself is audited."""
    fmt = request.args.get("format", "xlsx")
    if fmt not in exports.FORMATS:
        abort(400)
    form = AuditFilterForm(request.args)
    query = _audit_query(form).limit(AUDIT_EXPORT_LIMIT)
    records = db.session.scalars(query).all()
    actors = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_({r.actor_id for r in records if r.actor_id}))
        )
    }
    headers = [
        _("Time"),
        _("Account"),
        _("Action"),
        _("Object"),
        _("Object id"),
        _("Address"),
        _("Result"),
        _("Details (JSON)"),
    ]
    rows = [
        [
            to_local(r.at).replace(tzinfo=None, microsecond=0),
            actors[r.actor_id].masked_phone if r.actor_id in actors else "",
            r.action,
            r.object_type or "",
            r.object_id or "",
            r.ip or "",
            _("succeeded") if r.success else _("failed"),
            json.dumps(r.detail, ensure_ascii=False, sort_keys=True) if r.detail else "",
        ]
        for r in records
    ]
    body, mimetype = exports.render(fmt, headers, rows, title=_("Audit log"))
    audit_service.record(
        "export.audit",
        actor=current_user,
        ip=request.remote_addr,
        rows=len(rows),
        format=fmt,
        filters={"action": form.action.data or "", "phone": form.phone.data or ""},
    )
    return send_file(
        io.BytesIO(body),
        mimetype=mimetype,
        as_attachment=True,
        download_name=f"audit-{to_local(utcnow()).strftime('%Y%m%d-%H%M')}.{fmt}",
        max_age=0,
    )
