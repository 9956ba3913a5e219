"""Error pages in the user's language (JSON under /api/)."""

from __future__ import annotations

from flask import Flask, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

from .extensions import db
from .services import ServiceError


def _titles() -> dict[int, tuple[str, str]]:
    retry = _("Please go back and try again.")
    return {
        400: (_("Bad request"), _("The request could not be understood.") + " " + retry),
        403: (_("Not allowed"), _("Your account does not have permission to open this page.")),
        404: (_("Page not found"), _("This page does not exist or is not available to you.")),
        405: (_("Not allowed"), _("This action is not available here.")),
        413: (_("Too large"), _("The file or form you sent is too large.")),
        429: (
            _("Too many requests"),
            _("You have tried too often. Please wait a minute and try again."),
        ),
        500: (
            _("Something went wrong"),
            _("An unexpected error happened. Nothing you entered was saved; please try again."),
        ),
        503: (
            _("Busy, please try again"),
            _("The system is busy right now. Nothing you entered was lost; please try again."),
        ),
    }


def render_error(code: int, message: str | None = None):
    title, default = _titles().get(code, (_("Error"), _("Please try again.")))
    text = message or default
    if request.path.startswith("/api/"):
        return jsonify(error={"code": code, "title": title, "message": text}), code
    return render_template("errors/error.html", code=code, title=title, message=text), code


def _back() -> str:
    """The page the form was on (this site's only), else the home page."""
    from .query import safe_referrer

    return safe_referrer() or url_for("main.index")


def register(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def refused(error: ServiceError):
        # A refusal no view caught: nothing of the request is kept, every reason is told.
        db.session.rollback()
        if request.path.startswith("/api/"):
            message = " ".join(error.messages)
            return jsonify(error={"code": "refused", "message": message}), 422
        for message in error.messages:
            flash(message, "danger")
        return redirect(_back(), 303)

    @app.errorhandler(CSRFError)
    def csrf_error(_error: CSRFError):
        db.session.rollback()
        return render_error(
            400,
            _("The form has expired or was not sent from this site.")
            + " "
            + _("Please reload the page and try again."),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        db.session.rollback()
        code = error.code or 500
        if code in (301, 302, 303, 307, 308):
            return error
        return render_error(code)

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def out_of_range(error: Exception):
        # A number no column can hold (an id or a page typed by hand): nothing is there.
        db.session.rollback()
        app.logger.info("value out of range: %s", error)
        return render_error(404)

    @app.errorhandler(OperationalError)
    def database_busy(error: OperationalError):
        # A locked SQLite file or a restarting PostgreSQL: nothing was committed.
        db.session.rollback()
        app.logger.warning("database unavailable: %s", error)
        return render_error(503)
