"""What the workspace's pages share: loading an event, shift or node within the caller's
scope (the permissions policies), the client address, the query arguments a page keeps."""

from __future__ import annotations

from flask import (
    current_app,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import joinedload, lazyload

from ..catalog import POLITICAL_STATUS
from ..models import Event, OrgUnit, Role, Shift
from ..permissions import events, led_shifts, organised_nodes, shifts
from ..services.scope import covers
from . import tables
from .blueprint import bp

ORGANISER = [Role.ORGANISER]
#: Empty lines at the foot of a sign-in sheet, for walk-ins.
BLANK_LINES = 5


@bp.context_processor
def _helpers() -> dict:
    return {
        "hm": tables.hm,
        "status_labels": tables.STATUS_LABELS,
        "politics": POLITICAL_STATUS,
        "hours_pending_url": (
            url_for("hours.pending") if "hours.pending" in current_app.view_functions else None
        ),
    }


def _ip() -> str | None:
    return request.remote_addr


def _grace() -> int:
    return int(current_app.config.get("CREDIT_GRACE_MINUTES", 0))


def _is_organiser_of(event: Event) -> bool:
    return covers(current_user, event.host, ORGANISER)


# ---------------------------------------------------------------- loading in scope


#: A shift with its event and host (what the scope check reads) in one query.
SHIFT_WITH_EVENT = (joinedload(Shift.event).joinedload(Event.host), lazyload(Shift.leads))


def _event(event_id: int) -> Event:
    return events.load(event_id)


def _shift(shift_id: int) -> Shift:
    return shifts.load(shift_id, options=SHIFT_WITH_EVENT)


def _led_shift(shift_id: int) -> Shift:
    """A shift the caller leads or organises; 404 otherwise."""
    return led_shifts.load(shift_id, options=SHIFT_WITH_EVENT[:1])


def _node(node_id: int) -> OrgUnit:
    return organised_nodes.load(node_id)


#: The query parameters a roster link carries over (never url_for's own _external etc.).
KEPT_ARGS = ("status", "community", "sort", "page")


def _same_args(endpoint: str, **values) -> str:
    """The URL of `endpoint` keeping this request's filters, sort and page."""
    args = {k: request.args[k] for k in KEPT_ARGS if k in request.args and k not in values}
    return url_for(endpoint, **args, **values)
