"""Service-hour statistics: by community, by Party organisation and by organising unit,
with drill-down, charts, leaderboards, the 双报到 report and audited exports."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import tallies
from ..extensions import db
from ..models import OrgUnit, VolunteerProfile
from ..permissions import role_required
from ..query import arg_int
from ..timeutil import local_today
from .blueprint import bp
from .forms import DualForm, FilterForm
from .node_page import UnitRow, render_node
from .periods import Period
from .web import (
    DIM_ORDER,
    PAGE_ROLES,
    _download,
    _export_format,
    _month_date,
    _url_with,
    fmt_count,
    fmt_hours,
    fmt_ratio,
    load_node,
    mask_name,
    period_label,
    start_nodes,
)

# ---------------------------------------------------------------- routes


@bp.route("/")
@role_required(*PAGE_ROLES)
def index():
    starts = start_nodes(current_user)
    dims = [d for d in DIM_ORDER if starts[d]]
    if not dims:
        return render_template("tallies/none.html")
    dim = request.args.get("dim")
    dim = dim if dim in dims else dims[0]
    return render_node(dim, starts[dim][0], starts)


@bp.route("/<dim>/<int:node_id>")
@role_required(*PAGE_ROLES)
def node(dim: str, node_id: int):
    unit = load_node(dim, node_id)
    return render_node(dim, unit, start_nodes(current_user))


@bp.route("/party/<int:branch_id>/dual")
@role_required(*PAGE_ROLES)
def dual(branch_id: int):
    """双报到: members' hours in the community where they live and elsewhere, by quarter."""
    branch = load_node("party", branch_id)
    today = local_today()
    form = DualForm(request.args)
    year = arg_int("year", today.year, low=2000, high=2100)
    quarter = arg_int("quarter", (today.month - 1) // 3 + 1, low=1, high=4)
    form.year.data, form.quarter.data = year, str(quarter)
    period = tallies.quarter_period(year, quarter)
    members = tallies.dual_report(branch, period)
    home = sum(m.home_minutes for m in members)
    away = sum(m.elsewhere_minutes for m in members)
    fmt = _export_format()
    if fmt:
        headers = [
            _("Name"),
            _("Residence community"),
            _("Hours in the residence community"),
            _("Hours elsewhere"),
            _("Total hours"),
        ]
        body = [
            [
                m.name,
                m.community,
                round(m.home_minutes / 60, 1),
                round(m.elsewhere_minutes / 60, 1),
                round((m.home_minutes + m.elsewhere_minutes) / 60, 1),
            ]
            for m in members
        ]
        return _download(
            fmt, f"{branch.name}-{year}Q{quarter}", headers, body, node=branch, table="dual"
        )
    return render_template(
        "tallies/dual.html",
        branch=branch,
        form=form,
        year=year,
        quarter=quarter,
        period_text=period_label(period),
        members=members,
        home=home,
        away=away,
        served_home=sum(1 for m in members if m.home_minutes > 0),
        url_with=_url_with,
        fmt_hours=fmt_hours,
    )


@dataclass
class Leader:
    rank: int
    name: str
    community: str
    minutes: int

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 1)


def _chosen_start(dim: str, starts: dict[str, list[OrgUnit]]) -> OrgUnit | None:
    """?area= / ?party= picks a node in scope; otherwise the first start node."""
    asked = request.args.get(dim, type=int)
    if asked:
        return load_node(dim, asked)
    return starts[dim][0] if starts[dim] else None


def _ranking(dim: str, parent: OrgUnit | None, period: Period, category, political):
    if parent is None:
        return []
    kids = tallies.children(parent, dim)
    figs = tallies.figures(
        dim, [k.id for k in kids], period, category=category, political=political
    )
    rows = [UnitRow(k, figs[k.id]) for k in kids]
    # Units without any approved hours go last, all of them by name (never in the order
    # the database happened to return); ties among the others are broken by name too.
    return sorted(
        rows,
        key=lambda r: (
            r.figures.minutes == 0,
            -r.figures.hours_per_volunteer,
            -r.figures.minutes,
            r.node.name,
            r.node.id,
        ),
    )


@bp.route("/leaderboard")
@role_required(*PAGE_ROLES)
def leaderboard():
    starts = start_nodes(current_user)
    form = FilterForm(request.args)
    today = local_today()
    period = form.chosen_period(today)
    category, political = form.filters()
    area = _chosen_start("area", starts)
    party = _chosen_start("party", starts)
    this_month = today.year * 100 + today.month
    month = min(period.last, this_month)

    dim, top_node = ("area", area) if area is not None else ("party", party)
    leaders: list[Leader] = []
    if top_node is not None:
        top = tallies.top_volunteers(dim, top_node.id, month, limit=10)
        ids = [user_id for user_id, _m in top]
        info = {
            user_id: (name, community)
            for user_id, name, community in db.session.execute(
                select(VolunteerProfile.user_id, VolunteerProfile.real_name, OrgUnit.name)
                .outerjoin(OrgUnit, OrgUnit.id == VolunteerProfile.community_id)
                .where(VolunteerProfile.user_id.in_(ids))
            )
        }
        for rank, (user_id, minutes) in enumerate(top, start=1):
            name, community = info.get(user_id, ("", ""))
            leaders.append(Leader(rank, mask_name(name), community or "—", minutes))

    return render_template(
        "tallies/leaderboard.html",
        form=form,
        period_text=period_label(period),
        month_text=format_date(_month_date(month), "yyyy-MM"),
        top_node=top_node,
        leaders=leaders,
        area=area,
        party=party,
        area_rows=_ranking("area", area, period, category, political),
        party_rows=_ranking("party", party, period, category, political),
        hidden_args={k: v for k, v in request.args.items() if k in ("area", "party") and v},
        fmt_hours=fmt_hours,
        fmt_ratio=fmt_ratio,
        fmt_count=fmt_count,
    )
