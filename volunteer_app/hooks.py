"""Per-request behaviour: write transactions and their one commit, the staff idle timeout,
security headers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from flask import (
    Flask,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from .extensions import db
from .services.database import become_writer, begin_write, commit_and_keep, is_sqlite

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

F = TypeVar("F", bound=Callable)


def writes(view: F) -> F:
    """Mark a view that writes whatever the method (a GET that a phone camera opens, a
    download that is audited): its SQLite transaction starts as the writer too.

    The mark survives `functools.wraps`, so it may sit anywhere under the route."""
    view.takes_write_lock = True  # type: ignore[attr-defined]
    return view


def locks_late(view: F) -> F:
    """Mark a write view whose reads come before its writes: on SQLite its transaction
    becomes the writer where the writes begin (`services.database.write_from_here`, called
    by the service), not before the view, so that SQLite's one write lock is held for the
    writes only. Its reads then see what PostgreSQL's see before the first row lock: the
    rule a write depends on is checked again by the write itself (a conditional UPDATE, a
    unique index)."""
    view.locks_late = True  # type: ignore[attr-defined]
    return view


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


#: The scanner API takes at most a 500-scan batch or one 2 MB camera frame; anything
#: larger is refused (413) before it is read, whatever MAX_CONTENT_LENGTH allows forms.
API_MAX_BYTES = 3 * 1024 * 1024


def register(app: Flask) -> None:
    # First of all, before the CSRF check reads a form body.
    app.before_request_funcs.setdefault(None, []).insert(0, limit_api_body)
    app.before_request(refuse_nul_bytes)
    # The user is loaded (for the idle check) before the write lock is taken, so that a
    # writer holds SQLite's one write lock only for the view's own work.
    app.before_request(expire_idle_staff)
    app.before_request(take_write_lock)
    app.after_request(security_headers)
    # After-request functions run last-registered first: the commit runs before the rest, so
    # an error answer it turns into (a busy database: 503) still gets the headers.
    app.after_request(commit_request)
    if not event.contains(Session, "after_flush", _note_write):
        event.listen(Session, "after_flush", _note_write)
        event.listen(Session, "do_orm_execute", _note_statement)


def _wrote() -> bool:
    """This request changed something: flushed, ran a DML statement, or holds pending rows."""
    return bool(g.get("wrote") or db.session.new or db.session.dirty or db.session.deleted)


def _note_write(*_args) -> None:
    if has_request_context():
        g.wrote = True


def _note_statement(state: ORMExecuteState) -> None:
    if has_request_context() and (state.is_insert or state.is_update or state.is_delete):
        g.wrote = True


def limit_api_body() -> None:
    """A tighter body limit for the JSON API (413 when exceeded)."""
    if request.path.startswith("/api/"):
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        request.max_content_length = min(limit, API_MAX_BYTES) if limit else API_MAX_BYTES


def refuse_nul_bytes():
    """A NUL character has no place in any field (PostgreSQL cannot even store it)."""
    values = list(request.args.values())
    if request.method in UNSAFE_METHODS and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        values += list(request.form.values())
    if any("\x00" in value for value in values):
        from .errors import render_error

        return render_error(400)
    return None


def take_write_lock() -> None:
    """A request that may write starts its SQLite transaction as the writer (DESIGN.md):
    every unsafe method, and any view marked with `writes`. A read transaction could not
    become the writer later once another request has written ("database is locked" at
    once, whatever the busy timeout); BEGIN IMMEDIATE waits its turn instead.

    The reads before it (the logged-in user, loaded for the idle check) end in their own
    read transaction, its objects kept: the lock is held for the view's work only, which
    on SQLite, with one writer at a time, is what bounds the writes per second. A view
    marked `locks_late` takes it later, where its writes begin (write_from_here)."""
    if is_sqlite() and (request.method in UNSAFE_METHODS or _marked_as_writing()):
        if _marked("locks_late"):
            g.write_lock_deferred = True
            return
        become_writer()


def _marked_as_writing() -> bool:
    return _marked("takes_write_lock")


def _marked(mark: str) -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, mark, False))


def commit_request(response):
    """Commit once per request. A request that may write (an unsafe method, or a view marked
    `writes`) commits here, after its view has answered without an error; an error answer
    (4xx, 5xx) rolls back. A GET that wrote without the mark (an audited download) commits
    too, as it did when views committed themselves. Views never commit and services only
    flush, so a request's changes land together or not at all. A failed commit is answered
    like any error of its kind (a busy or restarting database: 503)."""
    if not (request.method in UNSAFE_METHODS or _marked_as_writing()):
        if not _wrote():
            return response
        # Wrote without the write lock: under load on SQLite this may answer 503. Noted
        # for tests/test_route_walk.py, which walks every GET and expects none.
        current_app.extensions.setdefault("unmarked_get_writes", set()).add(request.endpoint)
        current_app.logger.warning("GET %s wrote without @writes", request.endpoint)
    if response.status_code >= 400:
        db.session.rollback()
        return response
    try:
        # The answer is already made: nothing needs the session's objects reloaded.
        commit_and_keep()
        # Work that must follow the commit (web.after_commit: an SMS to send once the code
        # it carries is kept), each in a transaction of its own, as the writer.
        for work in g.pop("after_commit", []):
            begin_write()
            work()
            commit_and_keep()
    except Exception as error:
        db.session.rollback()
        return current_app.make_response(current_app.handle_user_exception(error))
    return response


#: How stale the session's "last seen" time may get before a request writes it again: the
#: cookie is signed and sent again only when it changes, not on every request.
SEEN_RESOLUTION_SECONDS = 60


def seen_now() -> None:
    """Start the idle clock at a login: the login's own cookie carries the time, so the
    next request need not sign and send the cookie again to set it."""
    session["seen"] = int(time.time())


def expire_idle_staff():
    """Log staff out after STAFF_IDLE_MINUTES without a request (to the minute: the time
    last seen is kept in the session cookie at SEEN_RESOLUTION_SECONDS)."""
    if request.endpoint in (None, "static", "bootstrap.static"):
        return None
    if not current_user.is_authenticated:
        return None
    now = int(time.time())
    seen = session.get("seen")
    if seen is None or now - int(seen) >= SEEN_RESOLUTION_SECONDS:
        session["seen"] = now
    if seen is None or now - int(seen) <= current_app.config["STAFF_IDLE_MINUTES"] * 60:
        return None
    # Idle long enough: only now does it matter whether the user is staff (their role
    # grants are loaded for this, so an active request does not pay for them).
    if current_user.is_staff:
        logout_user()
        session.pop("seen", None)
        flash(_("You were logged out after a period of inactivity. Please log in again."), "info")
        return redirect(url_for("auth.login", next=request.full_path))
    return None


def security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if current_app.config.get("HSTS"):
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if response.mimetype in ("text/html", "application/json") and current_user.is_authenticated:
        # Pages and API answers with personal data stay out of shared and browser caches.
        response.headers["Cache-Control"] = "no-store"
    response.vary.add("Cookie")
    return response
