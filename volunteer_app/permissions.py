"""The one permission helper views use: load the object, check the scope, act."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import wraps
from typing import TypeVar

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy.orm.interfaces import ORMOption

from .extensions import db
from .models import OrgUnit, Role
from .services.scope import covers

T = TypeVar("T")


def load_in_scope(
    model: type[T],
    ident: object,
    roles: Iterable[Role],
    org_of: Callable[[T], OrgUnit | None] = lambda obj: obj,  # type: ignore[assignment,return-value]
    options: Sequence[ORMOption] = (),
) -> T:
    """The object with this id if the current user's grants cover it; 404 otherwise.

    A missing object and one outside the caller's scope answer the same, so ids of
    other scopes cannot be probed. `options` are loader options for the object's query
    (e.g. joining in what `org_of` reads).
    """
    obj = db.session.get(model, ident, options=options)
    if obj is None or not covers(current_user, org_of(obj), roles):
        abort(404)
    return obj


def role_required(*roles: Role) -> Callable:
    """Require a login and at least one of `roles` (admin always passes); 403 otherwise."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles, Role.ADMIN):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
