"""Rosters for organisers and leads: who signed up for a shift or an event, the members of
a team or an org node with their hours, the organiser's workspace, and paper times.

Each roster is built in a handful of queries whatever its size: one for the rows (every
column joined in, the waitlist position from a window function), one for the volunteers'
teams, one for the totals, one for the filter choices. Nothing is loaded row by row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, contains_eager, joinedload
from sqlalchemy.sql.elements import ColumnElement

from .. import hours
from ..checkin.queries import credited_minutes, leads_shift
from ..extensions import db
from ..models import (
    Attendance,
    Event,
    EventStatus,
    MembershipStatus,
    OrgLevel,
    OrgUnit,
    PoliticalStatus,
    RecordStatus,
    Role,
    ScanMethod,
    ServiceRecord,
    Shift,
    ShiftLead,
    Signup,
    SignupStatus,
    TeamMembership,
    User,
    VolunteerProfile,
)
from ..signups.transitions import transition
from ..timeutil import from_local, to_local
from . import ServiceError, audit
from .scope import path_filter
from .volunteers import scope_condition

ORGANISER = (Role.ORGANISER,)
#: Rows per roster page.
PER_PAGE = 50
#: How a roster may be sorted (the first is the default).
SIGNUP_SORTS = ("status", "name", "signup", "community")
NODE_SORTS = ("name", "community", "hours")
#: The statuses expected at the site: the sign-in sheet lists these.
EXPECTED = (SignupStatus.CONFIRMED, SignupStatus.ATTENDED)
#: Holding a place first, then the waitlist, those who did not come, the cancelled.
_STATUS_RANK = {
    SignupStatus.CONFIRMED: 0,
    SignupStatus.ATTENDED: 0,
    SignupStatus.WAITLISTED: 1,
    SignupStatus.NO_SHOW: 2,
    SignupStatus.CANCELLED: 3,
}


def mask_phone(phone: str | None) -> str:
    """138****0002: the first three and last four digits."""
    if not phone:
        return ""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


# ---------------------------------------------------------------- rows and pages


@dataclass
class RosterRow:
    """One sign-up on a shift roster (or one member on a node roster)."""

    user_id: int
    name: str
    phone: str
    community_id: int | None
    community: str
    branch: str
    political_status: PoliticalStatus | None
    teams: list[str] = field(default_factory=list)
    # Sign-up rosters only:
    signup_id: int | None = None
    shift_id: int | None = None
    post: str = ""
    shift_starts_at: datetime | None = None
    status: SignupStatus | None = None
    signed_up_at: datetime | None = None
    waitlist_position: int | None = None
    over_capacity: bool = False
    source: str = ""
    cancel_reason: str | None = None
    attendance_id: int | None = None
    checked_in_at: datetime | None = None
    checked_out_at: datetime | None = None
    in_method: ScanMethod | None = None
    credited_minutes: int = 0
    # Node rosters only:
    approved_minutes: int = 0

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def no_show(self) -> bool:
        return self.status is SignupStatus.NO_SHOW

    @property
    def needs_paper_times(self) -> bool:
        """Expected at the site but with no check-in recorded (the paper sheet may show one)."""
        return self.attendance_id is None and self.status in (
            SignupStatus.CONFIRMED,
            SignupStatus.NO_SHOW,
        )


@dataclass
class Roster:
    rows: list[RosterRow]
    total: int
    page: int
    per_page: int | None
    #: (community id, name) of everyone on the roster, for the filter.
    communities: list[tuple[int, str]] = field(default_factory=list)
    #: Sign-ups per status over the whole roster (filters not applied).
    status_counts: dict[str, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        if not self.per_page:
            return 1
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_number(self) -> int:
        """The running number (序号) of the page's first row."""
        return (self.page - 1) * (self.per_page or 0) + 1


def _name(real_name: str | None, display_name: str | None) -> str:
    return real_name or display_name or "—"


def _teams_of(user_ids: Iterable[int]) -> dict[int, list[str]]:
    """The approved teams of these volunteers, by name, in the teams' order. Two small
    queries: the memberships (by their user_id index), then the teams' names; one joined
    query let SQLite scan every org unit and probe the ids for each (55 ms at 500 rows)."""
    ids = sorted(set(user_ids))
    found: dict[int, list[str]] = defaultdict(list)
    if not ids:
        return found
    memberships = db.session.execute(
        select(TeamMembership.user_id, TeamMembership.team_id).where(
            TeamMembership.user_id.in_(ids),
            TeamMembership.status == MembershipStatus.APPROVED,
        )
    ).all()
    if not memberships:
        return found
    teams = db.session.execute(
        select(OrgUnit.id, OrgUnit.name)
        .where(OrgUnit.id.in_({team_id for _u, team_id in memberships}))
        .order_by(OrgUnit.sort_order, OrgUnit.id)
    ).all()
    rank = {team_id: (i, name) for i, (team_id, name) in enumerate(teams)}
    for user_id, team_id in sorted(memberships, key=lambda m: rank[m[1]][0]):
        found[user_id].append(rank[team_id][1])
    return found


def _page_of(page: int, per_page: int | None, total: int) -> int:
    if not per_page:
        return 1
    last = max(1, -(-total // per_page))
    return min(max(page, 1), last)


# ---------------------------------------------------------------- sign-up rosters


@dataclass(frozen=True)
class SignupFilter:
    statuses: tuple[SignupStatus, ...] = ()
    community_id: int | None = None
    sort: str = SIGNUP_SORTS[0]


def _signup_rows(
    scope: ColumnElement,
    filters: SignupFilter,
    *,
    page: int = 1,
    per_page: int | None = PER_PAGE,
    grace_minutes: int = 0,
    summary: bool = True,
) -> Roster:
    """The sign-ups matching `scope` (a condition on Signup), filtered, sorted, one page;
    with `summary`, also the filter's communities and the counts per status."""
    community, branch = aliased(OrgUnit), aliased(OrgUnit)
    # Waitlist positions over each shift's whole waitlist, whatever the filters show.
    positions = (
        select(
            Signup.id.label("signup_id"),
            func.row_number()
            .over(partition_by=Signup.shift_id, order_by=(Signup.queued_at, Signup.id))
            .label("position"),
        )
        .where(scope, Signup.status == SignupStatus.WAITLISTED)
        .subquery()
    )
    conditions = [scope]
    if filters.statuses:
        conditions.append(Signup.status.in_(filters.statuses))
    if filters.community_id:
        conditions.append(VolunteerProfile.community_id == filters.community_id)

    def joined(query):
        return query.join(User, User.id == Signup.user_id).outerjoin(
            VolunteerProfile, VolunteerProfile.user_id == Signup.user_id
        )

    # Paged: count first to keep the page in range. Unpaged, the rows are the count.
    total = (
        db.session.scalar(joined(select(func.count()).select_from(Signup)).where(*conditions))
        if per_page
        else None
    )
    page = _page_of(page, per_page, total or 0)

    rank = case(
        dict(_STATUS_RANK),
        value=Signup.status,
        else_=9,
    )
    name = func.coalesce(VolunteerProfile.real_name, User.display_name)
    order = {
        "status": (Shift.starts_at, Shift.id, rank, Signup.queued_at, Signup.id),
        "name": (name, Signup.id),
        "signup": (Signup.created_at, Signup.id),
        "community": (community.name.is_(None), community.name, name, Signup.id),
    }[filters.sort if filters.sort in SIGNUP_SORTS else SIGNUP_SORTS[0]]
    query = (
        joined(
            select(
                Signup.id,
                Signup.user_id,
                Signup.shift_id,
                Signup.status,
                Signup.created_at,
                Signup.over_capacity,
                Signup.source,
                Signup.cancel_reason,
                User.phone,
                User.display_name,
                VolunteerProfile.real_name,
                VolunteerProfile.community_id,
                community.name,
                branch.name,
                VolunteerProfile.political_status,
                Shift.post,
                Shift.starts_at,
                Shift.ends_at,
                Attendance.id,
                Attendance.checked_in_at,
                Attendance.checked_out_at,
                Attendance.in_method,
                positions.c.position,
            ).select_from(Signup)
        )
        .join(Shift, Shift.id == Signup.shift_id)
        .outerjoin(community, community.id == VolunteerProfile.community_id)
        .outerjoin(branch, branch.id == VolunteerProfile.branch_id)
        .outerjoin(Attendance, Attendance.signup_id == Signup.id)
        .outerjoin(positions, positions.c.signup_id == Signup.id)
        .where(*conditions)
        .order_by(*order)
    )
    if per_page:
        query = query.limit(per_page).offset((page - 1) * per_page)
    rows: list[RosterRow] = []
    for (
        signup_id,
        user_id,
        shift_id,
        status,
        created_at,
        over_capacity,
        source,
        cancel_reason,
        phone,
        display_name,
        real_name,
        community_id,
        community_name,
        branch_name,
        political,
        post,
        starts_at,
        ends_at,
        attendance_id,
        checked_in_at,
        checked_out_at,
        in_method,
        position,
    ) in db.session.execute(query):
        rows.append(
            RosterRow(
                user_id=user_id,
                name=_name(real_name, display_name),
                phone=phone,
                community_id=community_id,
                community=community_name or "",
                branch=branch_name or "",
                political_status=political,
                signup_id=signup_id,
                shift_id=shift_id,
                post=post,
                shift_starts_at=starts_at,
                status=status,
                signed_up_at=created_at,
                waitlist_position=int(position) if position else None,
                over_capacity=bool(over_capacity),
                source=source or "",
                cancel_reason=cancel_reason,
                attendance_id=attendance_id,
                checked_in_at=checked_in_at,
                checked_out_at=checked_out_at,
                in_method=in_method,
                credited_minutes=(
                    credited_minutes(
                        checked_in_at, checked_out_at, starts_at, ends_at, grace_minutes
                    )
                    if checked_in_at
                    else 0
                ),
            )
        )
    teams = _teams_of(r.user_id for r in rows)
    for row in rows:
        row.teams = teams.get(row.user_id, [])
    if total is None:
        total = len(rows)
    if not summary:
        return Roster(rows=rows, total=total, page=page, per_page=per_page)

    # Filter choices and per-status counts over the whole roster, in one grouped query.
    communities: dict[int, str] = {}
    counts: dict[str, int] = defaultdict(int)
    for community_id, community_name, status, n in db.session.execute(
        joined(
            select(community.id, community.name, Signup.status, func.count()).select_from(Signup)
        )
        .outerjoin(community, community.id == VolunteerProfile.community_id)
        .where(scope)
        .group_by(community.id, community.name, Signup.status)
    ):
        if community_id is not None:
            communities[community_id] = community_name
        counts[status.value] += n
    return Roster(
        rows=rows,
        total=int(total or 0),
        page=page,
        per_page=per_page,
        communities=sorted(communities.items(), key=lambda item: (item[1], item[0])),
        status_counts=dict(counts),
    )


def shift_roster(
    shift: Shift,
    filters: SignupFilter | None = None,
    *,
    page: int = 1,
    per_page: int | None = PER_PAGE,
    grace_minutes: int = 0,
    summary: bool = True,
) -> Roster:
    """A shift's sign-ups (every status unless filtered)."""
    return _signup_rows(
        Signup.shift_id == shift.id,
        filters or SignupFilter(),
        page=page,
        per_page=per_page,
        grace_minutes=grace_minutes,
        summary=summary,
    )


def event_roster(
    event: Event,
    filters: SignupFilter | None = None,
    *,
    page: int = 1,
    per_page: int | None = PER_PAGE,
    grace_minutes: int = 0,
) -> Roster:
    """The sign-ups of all of an event's shifts, by shift unless sorted otherwise."""
    return _signup_rows(
        Signup.shift_id.in_(select(Shift.id).where(Shift.event_id == event.id)),
        filters or SignupFilter(),
        page=page,
        per_page=per_page,
        grace_minutes=grace_minutes,
    )


def sign_in_sheets(shifts: list[Shift]) -> dict[int, list[RosterRow]]:
    """For each shift, the volunteers expected at the site (confirmed or already checked
    in), by name: the rows of the printed sign-in sheet (签到表). One roster query."""
    if not shifts:
        return {}
    roster = _signup_rows(
        Signup.shift_id.in_([s.id for s in shifts]),
        SignupFilter(statuses=EXPECTED, sort="name"),
        per_page=None,
        summary=False,
    )
    sheets: dict[int, list[RosterRow]] = {s.id: [] for s in shifts}
    for row in roster.rows:
        sheets[row.shift_id].append(row)
    return sheets


# ---------------------------------------------------------------- node and team rosters


def year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def node_members(node: OrgUnit) -> ColumnElement:
    """Volunteers who belong to the node: living in its area subtree, in a Party branch of
    its subtree, or approved members of a team (志愿服务队) in its subtree."""
    nodes = select(OrgUnit.id).where(OrgUnit.path.startswith(node.path, autoescape=True))
    team_members = select(TeamMembership.user_id).where(
        TeamMembership.status == MembershipStatus.APPROVED, TeamMembership.team_id.in_(nodes)
    )
    return or_(
        VolunteerProfile.community_id.in_(nodes),
        VolunteerProfile.branch_id.in_(nodes),
        VolunteerProfile.user_id.in_(team_members),
    )


@dataclass(frozen=True)
class NodeFilter:
    community_id: int | None = None
    sort: str = NODE_SORTS[0]


def node_roster(
    node: OrgUnit,
    year: int,
    filters: NodeFilter | None = None,
    *,
    page: int = 1,
    per_page: int | None = PER_PAGE,
) -> Roster:
    """The node's members with their approved service time in the year (ledger sums,
    corrections included, in one grouped subquery joined to the rows)."""
    filters = filters or NodeFilter()
    members = node_members(node)
    first, last = year_bounds(year)
    minutes = (
        select(
            ServiceRecord.user_id.label("user_id"),
            func.sum(ServiceRecord.minutes).label("minutes"),
        )
        .where(
            ServiceRecord.status == RecordStatus.APPROVED,
            ServiceRecord.service_date >= first,
            ServiceRecord.service_date <= last,
            ServiceRecord.user_id.in_(select(VolunteerProfile.user_id).where(members)),
        )
        .group_by(ServiceRecord.user_id)
        .subquery()
    )
    community, branch = aliased(OrgUnit), aliased(OrgUnit)
    conditions = [members, User.deleted_at.is_(None)]
    if filters.community_id:
        conditions.append(VolunteerProfile.community_id == filters.community_id)
    total = db.session.scalar(
        select(func.count())
        .select_from(VolunteerProfile)
        .join(User, User.id == VolunteerProfile.user_id)
        .where(*conditions)
    )
    page = _page_of(page, per_page, total or 0)
    approved = func.coalesce(minutes.c.minutes, 0)
    name = func.coalesce(VolunteerProfile.real_name, User.display_name)
    order = {
        "name": (name, VolunteerProfile.user_id),
        "community": (community.name.is_(None), community.name, name, VolunteerProfile.user_id),
        "hours": (approved.desc(), name, VolunteerProfile.user_id),
    }[filters.sort if filters.sort in NODE_SORTS else NODE_SORTS[0]]
    query = (
        select(
            VolunteerProfile.user_id,
            User.phone,
            User.display_name,
            VolunteerProfile.real_name,
            VolunteerProfile.community_id,
            community.name,
            branch.name,
            VolunteerProfile.political_status,
            approved,
        )
        .select_from(VolunteerProfile)
        .join(User, User.id == VolunteerProfile.user_id)
        .outerjoin(community, community.id == VolunteerProfile.community_id)
        .outerjoin(branch, branch.id == VolunteerProfile.branch_id)
        .outerjoin(minutes, minutes.c.user_id == VolunteerProfile.user_id)
        .where(*conditions)
        .order_by(*order)
    )
    if per_page:
        query = query.limit(per_page).offset((page - 1) * per_page)
    rows = [
        RosterRow(
            user_id=user_id,
            name=_name(real_name, display_name),
            phone=phone,
            community_id=community_id,
            community=community_name or "",
            branch=branch_name or "",
            political_status=political,
            approved_minutes=int(total_minutes or 0),
        )
        for (
            user_id,
            phone,
            display_name,
            real_name,
            community_id,
            community_name,
            branch_name,
            political,
            total_minutes,
        ) in db.session.execute(query)
    ]
    teams = _teams_of(r.user_id for r in rows)
    for row in rows:
        row.teams = teams.get(row.user_id, [])
    communities = db.session.execute(
        select(community.id, community.name)
        .select_from(VolunteerProfile)
        .join(User, User.id == VolunteerProfile.user_id)
        .join(community, community.id == VolunteerProfile.community_id)
        .where(members, User.deleted_at.is_(None))
        .group_by(community.id, community.name)
        .order_by(community.name, community.id)
    ).all()
    return Roster(
        rows=rows,
        total=int(total or 0),
        page=page,
        per_page=per_page,
        communities=[(cid, cname) for cid, cname in communities],
    )


# ---------------------------------------------------------------- showing full numbers


def reveal_phones(
    actor: User, scope: dict, rows: int, *, ip: str | None = None, obj: object | None = None
) -> None:
    """An organiser asked for a roster's full mobile numbers: written to the audit log."""
    audit.record("pii.roster_phones", actor=actor, ip=ip, obj=obj, scope=scope, rows=rows)


def record_export(
    actor: User, scope: dict, rows: int, fmt: str, *, ip: str | None = None, **detail
) -> None:
    """Who exported which roster, in which format, how many rows."""
    audit.record("export.roster", actor=actor, ip=ip, scope=scope, rows=rows, format=fmt, **detail)


# ---------------------------------------------------------------- paper times


def enter_paper_times(
    actor: User,
    signup: Signup,
    checked_in_at: datetime,
    checked_out_at: datetime | None,
    *,
    now: datetime,
    ip: str | None = None,
) -> Attendance:
    """The lead copies a volunteer's times from the paper sign-in sheet: an attendance
    made by hand (method PAPER) for a sign-up that has none yet. Every reason that
    applies is given at once."""
    shift = signup.shift
    if not leads_shift(actor, shift):
        raise ServiceError(_l("You do not lead this shift."))
    problems: list[str] = []
    if signup.status not in (SignupStatus.CONFIRMED, SignupStatus.NO_SHOW):
        problems.append(str(_l("Only a confirmed volunteer can be given times from paper.")))
    if db.session.scalar(select(Attendance.id).where(Attendance.signup_id == signup.id)):
        problems.append(
            str(
                _l(
                    "This volunteer already has check-in times; correct them on the "
                    "attendance page."
                )
            )
        )
    if shift.confirmed_at is not None:
        problems.append(
            str(
                _l(
                    "The shift's hours have been confirmed already; record the time as a "
                    "manual record instead."
                )
            )
        )
    if checked_out_at is not None and checked_out_at <= checked_in_at:
        problems.append(str(_l("The check-out must be after the check-in.")))
    margin = timedelta(hours=12)
    if not shift.starts_at - margin <= checked_in_at <= shift.ends_at + margin:
        problems.append(str(_l("The times must lie near the shift.")))
    if checked_in_at > now or (checked_out_at is not None and checked_out_at > now):
        problems.append(str(_l("Times from paper cannot lie in the future.")))
    if problems:
        raise ServiceError(problems)
    was_no_show = signup.status is SignupStatus.NO_SHOW
    attendance = Attendance(
        signup_id=signup.id,
        shift_id=shift.id,
        user_id=signup.user_id,
        checked_in_at=checked_in_at,
        checked_out_at=checked_out_at,
        in_method=ScanMethod.PAPER,
        out_method=ScanMethod.PAPER if checked_out_at else None,
        in_by_id=actor.id,
        out_by_id=actor.id if checked_out_at else None,
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(attendance)
            db.session.flush()
    except IntegrityError:
        raise ServiceError(
            _l("This volunteer already has check-in times; correct them on the attendance page.")
        ) from None
    # Marked absent, but the sheet shows them there: the place is held again.
    transition(signup, SignupStatus.ATTENDED, now=now, actor=actor)
    db.session.flush()
    audit.record(
        "attendance.paper",
        actor=actor,
        ip=ip,
        obj=attendance,
        shift=shift.id,
        signup=signup.id,
        user=signup.user_id,
        checked_in=checked_in_at.isoformat(),
        checked_out=checked_out_at.isoformat() if checked_out_at else None,
        was_no_show=was_no_show,
    )
    return attendance


# ---------------------------------------------------------------- the workspace


def checkin_counts(shift_ids: list[int]) -> dict[int, dict[str, int]]:
    """services.checkin.counts for many shifts in one grouped query: expected, in, out,
    missing per shift."""
    found = {shift_id: {"expected": 0, "in": 0, "out": 0, "missing": 0} for shift_id in shift_ids}
    if not shift_ids:
        return found
    rows = db.session.execute(
        select(
            Signup.shift_id,
            func.count(),
            func.sum(
                case(
                    (
                        and_(
                            Attendance.checked_in_at.is_not(None),
                            Attendance.checked_out_at.is_(None),
                        ),
                        1,
                    ),
                    else_=0,
                )
            ),
            func.sum(case((Attendance.checked_out_at.is_not(None), 1), else_=0)),
        )
        .outerjoin(Attendance, Attendance.signup_id == Signup.id)
        .where(Signup.shift_id.in_(shift_ids), Signup.status.in_(EXPECTED))
        .group_by(Signup.shift_id)
    )
    for shift_id, expected, checked_in, checked_out in rows:
        checked_in, checked_out = int(checked_in or 0), int(checked_out or 0)
        found[shift_id] = {
            "expected": int(expected),
            "in": checked_in,
            "out": checked_out,
            "missing": int(expected) - checked_in - checked_out,
        }
    return found


def overdue_cutoff(today: date) -> date:
    """The latest service date whose pending records are overdue today."""
    day = today
    while hours.working_days_between(day, today) <= hours.OVERDUE_WORKING_DAYS:
        day -= timedelta(days=1)
    return day


@dataclass
class EventFill:
    event: Event
    shifts: int
    taken: int
    capacity: int

    @property
    def rate(self) -> float:
        return self.taken / self.capacity if self.capacity else 0.0


@dataclass
class Workspace:
    upcoming: list[EventFill]
    upcoming_total: int
    low_shifts: list[Shift]
    low_shifts_total: int
    today: list[Shift]
    today_total: int
    today_counts: dict[int, dict[str, int]]
    pending_total: int
    pending_overdue: int
    oldest_pending: list[tuple[ServiceRecord, bool]]
    team_requests: list[TeamMembership]
    team_requests_total: int
    new_volunteers: list[VolunteerProfile]
    new_volunteers_total: int
    cancellations: list[Signup]
    cancellations_total: int
    nodes: list[OrgUnit]


#: How many rows each list of the workspace shows (the totals count them all).
WORKSPACE_LIMIT = 8
LOW_FILL = 0.5


def _hosts(actor: User):
    return select(OrgUnit.id).where(path_filter(OrgUnit.path, actor, ORGANISER))


def _first(query, limit: int) -> tuple[list, int]:
    """The first `limit` objects of the query and how many match in all, in one query
    (a window count, evaluated before the LIMIT)."""
    rows = db.session.execute(query.add_columns(func.count().over()).limit(limit)).all()
    return [row[0] for row in rows], int(rows[0][1]) if rows else 0


def workspace(actor: User, *, now: datetime, today: date) -> Workspace:
    """Everything the organiser's dashboard shows, in a fixed number of queries: events of
    hosts in the actor's organiser scope, hours to approve, team requests, newcomers and
    cancellations."""
    hosts = _hosts(actor)
    limit = WORKSPACE_LIMIT

    upcoming_events, upcoming_total = _first(
        select(Event)
        .where(
            Event.host_id.in_(hosts),
            Event.status == EventStatus.PUBLISHED,
            Event.ends_at > now,
        )
        .options(joinedload(Event.host))
        .order_by(Event.starts_at, Event.id),
        limit,
    )
    stats = {
        event_id: (int(n), int(taken or 0), int(capacity or 0))
        for event_id, n, taken, capacity in db.session.execute(
            select(Shift.event_id, func.count(), func.sum(Shift.taken), func.sum(Shift.capacity))
            .where(
                Shift.event_id.in_([e.id for e in upcoming_events]),
                Shift.cancelled.is_(False),
            )
            .group_by(Shift.event_id)
        )
    }
    upcoming = [EventFill(e, *stats.get(e.id, (0, 0, 0))) for e in upcoming_events]

    live_shift = (
        select(Shift)
        .join(Event, Event.id == Shift.event_id)
        .where(Event.host_id.in_(hosts), Shift.cancelled.is_(False))
        .options(contains_eager(Shift.event))
    )
    low_shifts, low_total = _first(
        live_shift.where(
            Event.status == EventStatus.PUBLISHED,
            Shift.starts_at > now,
            Shift.capacity > 0,
            Shift.taken < Shift.capacity * LOW_FILL,
        ).order_by(Shift.starts_at, Shift.id),
        limit,
    )

    day_start = from_local(datetime.combine(today, time()))
    day_end = day_start + timedelta(days=1)
    today_shifts, today_total = _first(
        live_shift.where(
            Event.status.in_([EventStatus.PUBLISHED, EventStatus.COMPLETED]),
            Shift.starts_at < day_end,
            Shift.ends_at > day_start,
        ).order_by(Shift.starts_at, Shift.id),
        limit * 2,
    )
    today_counts = checkin_counts([s.id for s in today_shifts])

    led = select(ShiftLead.shift_id).where(ShiftLead.user_id == actor.id)
    in_care = and_(
        ServiceRecord.status == RecordStatus.PENDING,
        or_(ServiceRecord.host_id.in_(hosts), ServiceRecord.shift_id.in_(led)),
    )
    cutoff = overdue_cutoff(today)
    oldest_rows = db.session.execute(
        select(
            ServiceRecord,
            func.count().over(),
            func.sum(case((ServiceRecord.service_date <= cutoff, 1), else_=0)).over(),
        )
        .where(in_care)
        .options(joinedload(ServiceRecord.user))
        .order_by(ServiceRecord.service_date, ServiceRecord.id)
        .limit(limit)
    ).all()
    pending_total = int(oldest_rows[0][1]) if oldest_rows else 0
    pending_overdue = int(oldest_rows[0][2] or 0) if oldest_rows else 0

    team = aliased(OrgUnit)
    team_requests, requests_total = _first(
        select(TeamMembership)
        .join(team, team.id == TeamMembership.team_id)
        .where(
            TeamMembership.status == MembershipStatus.PENDING,
            path_filter(team.path, actor, ORGANISER),
        )
        .options(contains_eager(TeamMembership.team.of_type(team)), joinedload(TeamMembership.user))
        .order_by(TeamMembership.requested_at.desc(), TeamMembership.id.desc()),
        limit,
    )

    week_start = from_local(datetime.combine(today - timedelta(days=today.weekday()), time()))
    newcomers, newcomers_total = _first(
        select(VolunteerProfile)
        .join(User, User.id == VolunteerProfile.user_id)
        .where(
            User.deleted_at.is_(None),
            VolunteerProfile.created_at >= week_start,
            scope_condition(actor),
        )
        .options(contains_eager(VolunteerProfile.user), joinedload(VolunteerProfile.community))
        .order_by(VolunteerProfile.created_at.desc(), VolunteerProfile.user_id.desc()),
        limit,
    )

    cancellations, cancellations_total = _first(
        select(Signup)
        .join(Shift, Shift.id == Signup.shift_id)
        .join(Event, Event.id == Shift.event_id)
        .where(
            Signup.status == SignupStatus.CANCELLED,
            Signup.cancelled_at >= now - timedelta(days=7),
            Event.host_id.in_(hosts),
        )
        .options(contains_eager(Signup.shift).contains_eager(Shift.event), joinedload(Signup.user))
        .order_by(Signup.cancelled_at.desc(), Signup.id.desc()),
        limit,
    )

    nodes = db.session.scalars(
        select(OrgUnit)
        .where(
            path_filter(OrgUnit.path, actor, ORGANISER),
            OrgUnit.active.is_(True),
            OrgUnit.level.in_(
                [OrgLevel.ORGANISER, OrgLevel.PRACTICE_STATION, OrgLevel.TEAM, OrgLevel.TOWN]
            ),
        )
        .order_by(OrgUnit.path)
        .limit(limit * 3)
    ).all()

    return Workspace(
        upcoming=upcoming,
        upcoming_total=upcoming_total,
        low_shifts=low_shifts,
        low_shifts_total=low_total,
        today=today_shifts,
        today_total=today_total,
        today_counts=today_counts,
        pending_total=pending_total,
        pending_overdue=pending_overdue,
        oldest_pending=[(r, hours.is_overdue(r, today)) for r, _n, _o in oldest_rows],
        team_requests=team_requests,
        team_requests_total=requests_total,
        new_volunteers=newcomers,
        new_volunteers_total=newcomers_total,
        cancellations=cancellations,
        cancellations_total=cancellations_total,
        nodes=list(nodes),
    )


# ---------------------------------------------------------------- tables for exports

STATUS_LABELS = {
    SignupStatus.CONFIRMED.value: _l("Confirmed"),
    SignupStatus.WAITLISTED.value: _l("Waitlisted"),
    SignupStatus.ATTENDED.value: _l("Attended"),
    SignupStatus.NO_SHOW.value: _l("Did not come"),
    SignupStatus.CANCELLED.value: _l("Cancelled"),
}


def _local(moment: datetime | None) -> datetime | None:
    """A stored time as a naive local time (what a spreadsheet shows)."""
    return to_local(moment).replace(tzinfo=None, microsecond=0) if moment else None


def hm(minutes: int | None) -> str:
    """Minutes as h:mm (125 -> "2:05")."""
    minutes = int(minutes or 0)
    sign = "-" if minutes < 0 else ""
    return f"{sign}{abs(minutes) // 60}:{abs(minutes) % 60:02d}"


def signup_table(roster: Roster, *, with_shift: bool) -> tuple[list, list[list]]:
    """Headers and rows of a sign-up roster for a download. Numbers stay masked."""
    from ..catalog import POLITICAL_STATUS

    headers = [_l("No."), _l("Full name"), _l("Mobile number")]
    if with_shift:
        headers += [_l("Post"), _l("Shift starts")]
    headers += [
        _l("Community"),
        _l("Party branch"),
        _l("Political status"),
        _l("Teams"),
        _l("Status"),
        _l("Signed up at"),
        _l("Place on the waitlist"),
        _l("Checked in at"),
        _l("Checked out at"),
        _l("Credited time (minutes)"),
        _l("No-show"),
    ]
    rows = []
    for number, row in enumerate(roster.rows, start=roster.first_number):
        line: list = [number, row.name, row.masked_phone]
        if with_shift:
            line += [row.post, _local(row.shift_starts_at)]
        line += [
            row.community,
            row.branch,
            POLITICAL_STATUS.get(row.political_status, "") if row.political_status else "",
            "、".join(row.teams),
            STATUS_LABELS[row.status.value] if row.status else "",
            _local(row.signed_up_at),
            row.waitlist_position,
            _local(row.checked_in_at),
            _local(row.checked_out_at),
            row.credited_minutes if row.checked_out_at else None,
            _l("yes") if row.no_show else "",
        ]
        rows.append(line)
    return headers, rows


def node_table(roster: Roster) -> tuple[list, list[list]]:
    """Headers and rows of a node's member roster for a download. Numbers stay masked."""
    from ..catalog import POLITICAL_STATUS

    headers = [
        _l("No."),
        _l("Full name"),
        _l("Mobile number"),
        _l("Community"),
        _l("Party branch"),
        _l("Political status"),
        _l("Teams"),
        _l("Approved hours this year"),
    ]
    rows = [
        [
            number,
            row.name,
            row.masked_phone,
            row.community,
            row.branch,
            POLITICAL_STATUS.get(row.political_status, "") if row.political_status else "",
            "、".join(row.teams),
            round(row.approved_minutes / 60, 2),
        ]
        for number, row in enumerate(roster.rows, start=roster.first_number)
    ]
    return headers, rows
