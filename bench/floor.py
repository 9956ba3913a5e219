"""The framework floor: the least a logged-in, CSRF-checked write costs in this app's stack.

A bench-only route, never part of the product: it lives here in bench/, and only the bench
registers it (`register(app)`, which also sets `BENCH_FLOOR` in the app's config), on the
app that bench/floor_app.py serves under gunicorn and on the one bench/inprocess.py builds.
`wsgi:app` never has it, so no production server can answer it.

    POST /bench/floor/<shift>   the same JSON body as a scan ({"scans": [{nonce, token,
                                scanned_at}]}), the lead's session cookie and X-CSRFToken

It goes through everything every request of the app goes through — the app's request hooks
(write lock, NUL check, staff idle timeout, security headers), Flask-Login's user loader,
Flask-WTF's CSRF check, the session, Flask-Compress, Flask-Limiter, Flask-Babel — and then
does what the baseline app's scan route does: one insert into bench_scans and a commit. The
difference between a hot path and this floor is the hot path's own work; the difference
between this floor and the baseline app is the framework's."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, request
from flask_login import login_required
from sqlalchemy import text

from volunteer_app.extensions import db
from volunteer_app.services.database import commit_and_keep

bp = Blueprint("bench_floor", __name__)

INSERT = text(
    "INSERT INTO bench_scans (nonce, token, scanned_at, created_at) "
    "VALUES (:nonce, :token, :scanned_at, CURRENT_TIMESTAMP)"
)


@bp.post("/bench/floor/<int:shift_id>")
@login_required
def floor(shift_id: int):
    payload = request.get_json(silent=True) or {}
    scan = (payload.get("scans") or [{}])[0]
    db.session.execute(
        INSERT,
        {
            "nonce": str(scan.get("nonce", ""))[:64],
            "token": str(scan.get("token", ""))[:80],
            "scanned_at": scan.get("scanned_at"),
        },
    )
    commit_and_keep()  # as the app's hot paths commit (no reload of the user afterwards)
    return jsonify(results=[{"nonce": scan.get("nonce"), "ok": True}], shift=shift_id)


def register(app: Flask) -> Flask:
    """Add the floor route to an app built by the bench (before its first request)."""
    app.config["BENCH_FLOOR"] = True
    app.register_blueprint(bp)
    return app
