"""Who may do what: one policy per resource, asked by loaders, services and the menu.

Each policy answers two questions the same way everywhere:

- `can(user, obj)` — may this user act on this one object?
- `visible(user)` — a WHERE clause keeping the rows this user may act on (for lists).

and gives a loader, `load(ident)`, for views: the object when the current user may act on
it, else 404 — a missing object and one outside the caller's scope answer alike, so ids of
other scopes cannot be probed.

Scope: a role granted on an org node covers its subtree (`services.scope`).

| policy | resource | who |
|---|---|---|
| `events` | Event | organisers of the event's host |
| `shifts` | Shift | organisers of the event's host |
| `event_signups` | Signup | organisers of the event's host |
| `led_shifts` | Shift | the shift's assigned leads, and organisers of the event's host |
| `service_records` | ServiceRecord | organisers of the record's host |
| `correction_requests` | CorrectionRequest | organisers of the record's host |
| `decidable_records` | ServiceRecord | its shift's leads, its host's organisers (see below) |
| `organised_nodes` | OrgUnit | organisers of the node (or an ancestor) |
| `administered_nodes` / `grants` | OrgUnit / RoleGrant | organisers and admins of the node |
| `recorded_nodes` / `batches` | OrgUnit / ExchangeBatch | 志愿服务信息报送员 of the scope |
| `tally_nodes[dim]` | OrgUnit of the kind | organisers; Party tree: branch secretaries too |
| `PAGE_ROLES` | a menu entry and its page | the roles that open it (admin always) |

Under the four-eyes rule (`services.approvals`) only an organiser of the record's host who
neither confirmed nor entered it decides a record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any, Generic, TypeVar

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import ColumnElement, Select, and_, bindparam, false, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm.interfaces import ORMOption

from .extensions import db
from .models import (
    CorrectionRequest,
    Event,
    ExchangeBatch,
    OrgKind,
    OrgUnit,
    Role,
    RoleGrant,
    ServiceRecord,
    Shift,
    ShiftLead,
    Signup,
    User,
)
from .services.scope import covers, path_filter

T = TypeVar("T")

#: Ids beyond this are no row's (a 32-bit key on PostgreSQL); SQLite cannot even bind
#: integers past 2**63, so such ids answer 404 before any query.
MAX_ID = 2**31 - 1

ORGANISER = (Role.ORGANISER,)
ORGANISER_OR_ADMIN = (Role.ORGANISER, Role.ADMIN)
RECORDER = (Role.RECORDER,)
LEAD_OR_ORGANISER = frozenset({Role.LEAD, Role.ORGANISER})
ORGANISER_OR_SECRETARY = frozenset({Role.ORGANISER, Role.BRANCH_SECRETARY})

#: The staff pages and the roles that open them (admin opens every one). The menu shows an
#: entry only to these roles, and the views check the same set (`role_required(*PAGE_ROLES[…])`).
PAGE_ROLES: dict[str, frozenset[Role]] = {
    "checkin.index": LEAD_OR_ORGANISER,
    "hours.pending": LEAD_OR_ORGANISER,
    "organise.dashboard": frozenset(ORGANISER),
    "events.organise_list": frozenset(ORGANISER),
    "volunteers.search": ORGANISER_OR_SECRETARY,
    "tallies.index": ORGANISER_OR_SECRETARY,
    "exchange.index": frozenset(RECORDER),
    # Open to every account (it lists the caller's own duties); offered to those with some.
    "main.my_roles": frozenset({Role.LEAD, Role.ORGANISER, Role.BRANCH_SECRETARY, Role.RECORDER}),
    "admin.orgs": frozenset(ORGANISER),
    "admin.grants": frozenset(ORGANISER),
    "admin.audit": frozenset({Role.ADMIN}),
}


def may_open(user: User, endpoint: str) -> bool:
    """May the user open this staff page? (Pages not listed are anyone's.)"""
    roles = PAGE_ROLES.get(endpoint)
    if roles is None:
        return True
    return bool(getattr(user, "is_authenticated", False) and user.has_role(*roles, Role.ADMIN))


def get_row(
    model: type[T], ident: object, options: Iterable[Any] = (), *, for_update: bool = False
) -> T | None:
    """The row with this id, or None (also for an id no row can have: not a number, not
    positive, past MAX_ID)."""
    if not isinstance(ident, int) or isinstance(ident, bool) or not 0 < ident <= MAX_ID:
        try:
            ident = int(ident)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return None
        if not 0 < ident <= MAX_ID:
            return None
    options = tuple(options)
    if not options and not for_update:
        return db.session.get(model, ident)
    # A statement built once per model, options and lock (the options are module-level
    # constants), so that a request pays neither for building it nor for its cache key.
    return db.session.scalars(
        _load_statement(model, options, for_update), {"ident": ident}
    ).unique().first()


@lru_cache(maxsize=64)
def _load_statement(model: type, options: tuple[Any, ...], for_update: bool) -> Select:
    (primary_key,) = sa_inspect(model).primary_key
    statement = select(model).where(primary_key == bindparam("ident")).options(*options)
    # OF the row's own table: the options may outer-join relations, which cannot lock.
    return statement.with_for_update(of=model) if for_update else statement


def nodes_in_scope(user: User, roles: Iterable[Role]):
    """The ids of the org nodes the user's grants of `roles` cover (a subquery)."""
    return select(OrgUnit.id).where(path_filter(OrgUnit.path, user, roles))


class Policy(Generic[T]):
    model: type[T]

    def can(self, user: User, obj: T) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def visible(self, user: User) -> ColumnElement[bool]:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(
        self,
        ident: object,
        user: User | None = None,
        *,
        options: Iterable[Any] = (),
        for_update: bool = False,
    ) -> T:
        """The object if `user` (default: the current user) may act on it; 404 otherwise.
        `options`: loader options for the one query (e.g. the relations the page reads);
        `for_update`: the row locked by the same query (PostgreSQL; SQLite has no row
        locks, a write transaction holds the database)."""
        obj = get_row(self.model, ident, options, for_update=for_update)
        if obj is None or not self.can(user or current_user, obj):
            abort(404)
        return obj


@dataclass(frozen=True)
class Scoped(Policy[T]):
    """Holders of `roles` on the object's org node or an ancestor."""

    model: type[T]
    roles: tuple[Role, ...]
    org_of: Callable[[T], OrgUnit | None]
    #: The object's org node id as a column, or a subquery of the object's ids by org node
    #: (`ids_by_org(nodes)`), for `visible`.
    org_column: Any = None
    ids_by_org: Callable[[Any], ColumnElement[bool]] | None = None

    def can(self, user: User, obj: T) -> bool:
        return covers(user, self.org_of(obj), self.roles)

    def visible(self, user: User) -> ColumnElement[bool]:
        nodes = nodes_in_scope(user, self.roles)
        if self.ids_by_org is not None:
            return self.ids_by_org(nodes)
        if self.org_column is None:
            raise TypeError(f"{self.model.__name__}: no column to filter by")
        return self.org_column.in_(nodes)


def _host_of_record(record: ServiceRecord) -> OrgUnit | None:
    return db.session.get(OrgUnit, record.host_id) if record.host_id else None


events: Scoped[Event] = Scoped(Event, ORGANISER, lambda e: e.host, Event.host_id)
shifts: Scoped[Shift] = Scoped(
    Shift,
    ORGANISER,
    lambda s: s.event.host,
    ids_by_org=lambda nodes: Shift.event_id.in_(select(Event.id).where(Event.host_id.in_(nodes))),
)
event_signups: Scoped[Signup] = Scoped(
    Signup,
    ORGANISER,
    lambda s: s.shift.event.host,
    ids_by_org=lambda nodes: Signup.shift_id.in_(
        select(Shift.id).join(Event, Event.id == Shift.event_id).where(Event.host_id.in_(nodes))
    ),
)
service_records: Scoped[ServiceRecord] = Scoped(
    ServiceRecord, ORGANISER, _host_of_record, ServiceRecord.host_id
)
correction_requests: Scoped[CorrectionRequest] = Scoped(
    CorrectionRequest,
    ORGANISER,
    lambda c: _host_of_record(c.record) if c.record is not None else None,
    ids_by_org=lambda nodes: CorrectionRequest.record_id.in_(
        select(ServiceRecord.id).where(ServiceRecord.host_id.in_(nodes))
    ),
)
organised_nodes: Scoped[OrgUnit] = Scoped(OrgUnit, ORGANISER, lambda n: n, OrgUnit.id)
administered_nodes: Scoped[OrgUnit] = Scoped(OrgUnit, ORGANISER_OR_ADMIN, lambda n: n, OrgUnit.id)
grants: Scoped[RoleGrant] = Scoped(
    RoleGrant, ORGANISER_OR_ADMIN, lambda g: g.org_unit, RoleGrant.org_unit_id
)
recorded_nodes: Scoped[OrgUnit] = Scoped(OrgUnit, RECORDER, lambda n: n, OrgUnit.id)
batches: Scoped[ExchangeBatch] = Scoped(
    ExchangeBatch, RECORDER, lambda b: b.scope, ExchangeBatch.scope_id
)


class LedShifts(Policy[Shift]):
    """Shifts whose check-in and hours the user runs: assigned leads, and organisers of
    the event's host."""

    model = Shift

    def can(self, user: User, shift: Shift) -> bool:
        if not getattr(user, "is_authenticated", False):
            return False
        if any(lead.user_id == user.id for lead in shift.leads):
            return True
        return shifts.can(user, shift)

    def visible(self, user: User) -> ColumnElement[bool]:
        led = select(ShiftLead.shift_id).where(ShiftLead.user_id == user.id)
        return or_(Shift.id.in_(led), shifts.visible(user))


class DecidableRecords(Policy[ServiceRecord]):
    """Ledger rows the user may approve or reject."""

    model = ServiceRecord

    def can(self, user: User, record: ServiceRecord) -> bool:
        from .services import approvals

        if approvals.four_eyes():
            return approvals.may_approve(user, record)
        if record.shift_id is not None:
            shift = db.session.get(Shift, record.shift_id)
            if shift is not None and led_shifts.can(user, shift):
                return True
        return service_records.can(user, record)

    def visible(self, user: User) -> ColumnElement[bool]:
        """A first cut for lists (host in scope, or a shift the user leads); the four-eyes
        rule is then applied per row by `can`."""
        if not getattr(user, "is_authenticated", False):
            return false()
        led = select(ShiftLead.shift_id).where(ShiftLead.user_id == user.id)
        return or_(service_records.visible(user), ServiceRecord.shift_id.in_(led))


class TallyNodes(Policy[OrgUnit]):
    """The nodes whose figures a user may read in one dimension of the tallies: organisers
    for the area and host trees, organisers and Party branch secretaries for the Party tree;
    the node must be of the dimension's kind."""

    model = OrgUnit

    def __init__(self, roles: tuple[Role, ...], kind: OrgKind | None):
        self.roles, self.kind = roles, kind

    def can(self, user: User, node: OrgUnit) -> bool:
        return (self.kind is None or node.kind is self.kind) and covers(user, node, self.roles)

    def visible(self, user: User) -> ColumnElement[bool]:
        inside = OrgUnit.id.in_(nodes_in_scope(user, self.roles))
        return inside if self.kind is None else and_(inside, OrgUnit.kind == self.kind)


#: One per dimension of the tallies: area (社区), party (党组织), host (组织单位).
tally_nodes: dict[str, TallyNodes] = {
    "area": TallyNodes(ORGANISER, OrgKind.AREA),
    "party": TallyNodes((Role.ORGANISER, Role.BRANCH_SECRETARY), OrgKind.PARTY),
    "host": TallyNodes(ORGANISER, None),
}

led_shifts = LedShifts()
decidable_records = DecidableRecords()


def load_in_scope(
    model: type[T],
    ident: object,
    roles: Iterable[Role],
    org_of: Callable[[T], OrgUnit | None] = lambda obj: obj,  # type: ignore[assignment,return-value]
    options: Sequence[ORMOption] = (),
) -> T:
    """The object with this id if the current user's grants of `roles` cover it; 404
    otherwise (for resources without a policy of their own above). `options`: loader
    options for the object's query (e.g. joining in what `org_of` reads)."""
    return Scoped(model, tuple(roles), org_of).load(ident, options=options)


def role_required(*roles: Role) -> Callable:
    """Require a login and at least one of `roles` (admin always passes); 403 otherwise."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles, Role.ADMIN):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapped

    return decorator
