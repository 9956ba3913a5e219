"""Sign-up rosters for organisers and leads: who signed up for a shift or an event, the
printed sign-in sheet, and the audit of full numbers shown and rosters exported.

Each roster is built in a handful of queries whatever its size: one for the rows (every
column joined in, the waitlist position from a window function), one for the volunteers'
teams, one for the total, one for the filter choices. Nothing is loaded row by row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Select, bindparam, case, func, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from ..checkin.queries import credited_minutes
from ..extensions import db
from ..models import (
    Attendance,
    Event,
    OrgUnit,
    Shift,
    Signup,
    SignupStatus,
    User,
    VolunteerProfile,
)
from ..services import audit
from ..signups.queries import ACTIVE
from .rows import PER_PAGE, Roster, RosterRow, mask_phone, name_of, page_of, paged, teams_of

#: How a roster may be sorted (the first is the default).
SIGNUP_SORTS = ("status", "name", "signup", "community")
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
    page = page_of(page, per_page, total or 0)

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
    query = paged(query, page, per_page)
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
                name=name_of(real_name, display_name),
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
    teams = teams_of(r.user_id for r in rows)
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


# ---------------------------------------------------------------- the roster page


#: One sign-up as the organiser's roster page shows it (events.organise_roster): a plain
#: tuple, which the template unpacks (500 named tuples would cost 0.17 ms more a page):
#: (signup id, status value, name, masked phone, community or "—", place in line or None,
#: beyond capacity, added by an organiser, cancellation reason or None, removable).
RosterLine = tuple[int, str, str, str, str, int | None, bool, bool, str | None, bool]


@cache
def _lines_query() -> Select:
    """shift_lines' statement, built once (the shift id is a bound parameter)."""
    signups = Signup.__table__
    users = User.__table__
    profiles = VolunteerProfile.__table__
    community = OrgUnit.__table__.alias("community")
    rank = case(dict(_STATUS_RANK), value=signups.c.status, else_=9)
    return (
        select(
            signups.c.id,
            signups.c.status,
            signups.c.over_capacity,
            signups.c.source,
            signups.c.cancel_reason,
            users.c.phone,
            users.c.display_name,
            profiles.c.real_name,
            community.c.name,
        )
        .select_from(signups)
        .join(users, users.c.id == signups.c.user_id)
        .outerjoin(profiles, profiles.c.user_id == signups.c.user_id)
        .outerjoin(community, community.c.id == profiles.c.community_id)
        .where(signups.c.shift_id == bindparam("shift_id"))
        .order_by(rank, signups.c.queued_at, signups.c.id)
    )


def shift_lines(shift: Shift) -> list[RosterLine]:
    """Every sign-up of the shift for its roster page, in roster order (holding a place,
    the waitlist in line, did not come, cancelled): only the columns the page shows, in one
    Core query. The 500-sign-up page is a hot path; the full roster (teams, attendance,
    paging, filters) is shift_roster's."""
    rows = db.session.connection().execute(_lines_query(), {"shift_id": shift.id}).all()
    waitlisted, cancelled = SignupStatus.WAITLISTED, SignupStatus.CANCELLED
    lines: list[RosterLine] = []
    # The waitlist is listed in its own order (queued_at, id): the place in line counts up.
    in_line = 0
    for signup_id, status, over, source, reason, phone, display, real, place in rows:
        position = None
        if status is waitlisted:
            in_line += 1
            position = in_line
        lines.append(
            (
                signup_id,
                status.value,
                real or display or "—",
                mask_phone(phone),
                place or "—",
                position,
                bool(over),
                source == "organiser",
                reason if status is cancelled else None,
                status in ACTIVE,
            )
        )
    return lines


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
