"""What every blueprint's views share for a service call: refuse (undo and tell why) and
attempt (call, then say it worked or why not).

A request commits once, in `hooks.commit_request`, after its view: views never commit. A
view that catches a `ServiceError` calls `refuse`, which rolls back what the request changed
and shows every reason — in the form, so that nothing the user typed is lost, or flashed.
A `ServiceError` a view does not catch is answered by `errors.py`: rolled back, every reason
flashed, back to the page the form was on (JSON 422 under /api/).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, g, redirect
from werkzeug.wrappers import Response

from .extensions import db
from .services import ServiceError


def refuse(error: ServiceError, form: Any = None) -> None:
    """Undo what this request changed; each reason goes into the form's errors when a form
    is given (it is shown again with what the user entered), else flashed."""
    db.session.rollback()
    if form is not None:
        form.form_errors.extend(error.messages)
        return
    for message in error.messages:
        flash(message, "danger")


def flash_form_errors(form: Any) -> None:
    """Each field error of a form that did not validate, flashed (forms on list pages)."""
    for errors in form.errors.values():
        for message in errors:
            flash(message, "danger")


def attempt(action: Callable[[], object], success: str, *, form: Any = None) -> bool:
    """Run one service call: flash `success` (the request then commits), or refuse it.
    True when it went through."""
    try:
        action()
    except ServiceError as error:
        refuse(error, form)
        return False
    flash(success, "success")
    return True


def submit(
    form: Any, action: Callable[[], Any], done: Callable[[Any], tuple[str, str]]
) -> Response | None:
    """A form page's POST: when the form is valid, run the service call and redirect (`done`
    gives the success message and the target); a refusal puts every reason on the form.
    None when the page should be shown again with the form's errors."""
    if not form.validate_on_submit():
        return None
    try:
        result = action()
    except ServiceError as error:
        refuse(error, form)
        return None
    message, target = done(result)
    flash(message, "success")
    return redirect(target)


def after_commit(work: Callable[[], object]) -> None:
    """Run `work` once this request's changes are committed, in a transaction of its own
    (hooks.commit_request): a message that must not go out before what it refers to is
    kept, such as a verification code or an invitation."""
    g.setdefault("after_commit", []).append(work)
