"""The benchmark's baseline: a bare Flask app on the same database and the same gunicorn
settings as the product, doing the least each measured request needs. Bench-only — never
part of the product; gunicorn loads it as `baseline_app:app` with bench/ on its path.

    GET  /health                      -> "ok"
    POST /scans/<shift>               -> inserts one row (bench_scans) and commits
    POST /signup/<shift>/<user>       -> UPDATE shifts SET taken = taken + 1
                                         WHERE id = :shift AND taken < capacity,
                                         then one insert (bench_signups), commit
    GET  /roster/<shift>              -> the roster's rows in a bare Jinja template

SQLite gets the product's connection settings (WAL, synchronous NORMAL, the same busy
timeout, foreign keys on) and writes begin with BEGIN IMMEDIATE, as the product's do."""

from __future__ import annotations

import os

from flask import Flask, jsonify, render_template_string, request
from sqlalchemy import create_engine, event, text

DATABASE_URL = os.environ["DATABASE_URL"]
BUSY_TIMEOUT_MS = int(os.environ.get("SQLITE_BUSY_TIMEOUT", "15")) * 1000

engine = create_engine(DATABASE_URL, pool_pre_ping=True)
SQLITE = engine.dialect.name == "sqlite"

if SQLITE:

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


def writer():
    """A connection whose transaction starts as the SQLite writer (plain BEGIN elsewhere)."""
    return engine.connect().execution_options(sqlite_begin="IMMEDIATE")


app = Flask(__name__)

ROSTER = """<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>名单</title></head><body>
<h1>名单: {{ post }}</h1>
<table>
<thead><tr><th>志愿者</th><th>手机号</th><th>社区</th><th>状态</th></tr></thead>
<tbody>
{% for r in rows %}<tr data-signup="{{ r.id }}"><td>{{ r.real_name or r.display_name or '—' }}</td>
<td>{{ r.phone[:3] }}****{{ r.phone[-4:] }}</td><td>{{ r.community or '—' }}</td>
<td>{{ r.status }}</td></tr>
{% endfor %}</tbody></table></body></html>"""


@app.get("/health")
def health():
    return "ok"


@app.post("/scans/<int:shift_id>")
def scans(shift_id: int):
    payload = request.get_json(silent=True) or {}
    scan = (payload.get("scans") or [{}])[0]
    with writer() as conn, conn.begin():
        conn.execute(
            text(
                "INSERT INTO bench_scans (nonce, token, scanned_at, created_at) "
                "VALUES (:nonce, :token, :scanned_at, CURRENT_TIMESTAMP)"
            ),
            {
                "nonce": str(scan.get("nonce", ""))[:64],
                "token": str(scan.get("token", ""))[:80],
                "scanned_at": scan.get("scanned_at"),
            },
        )
    return jsonify(results=[{"nonce": scan.get("nonce"), "ok": True}], shift=shift_id)


@app.post("/signup/<int:shift_id>/<int:user_id>")
def signup(shift_id: int, user_id: int):
    with writer() as conn, conn.begin():
        claimed = conn.execute(
            text("UPDATE shifts SET taken = taken + 1 WHERE id = :shift AND taken < capacity"),
            {"shift": shift_id},
        ).rowcount
        if claimed == 1:
            conn.execute(
                text(
                    "INSERT INTO bench_signups (shift_id, user_id, created_at) "
                    "VALUES (:shift, :user, CURRENT_TIMESTAMP)"
                ),
                {"shift": shift_id, "user": user_id},
            )
    return ("signed up", 200) if claimed == 1 else ("full", 409)


@app.get("/roster/<int:shift_id>")
def roster(shift_id: int):
    with engine.connect() as conn:
        post = conn.execute(text("SELECT post FROM shifts WHERE id = :s"), {"s": shift_id}).scalar()
        rows = conn.execute(
            text(
                "SELECT s.id, s.status, u.phone, u.display_name, p.real_name, o.name AS community "
                "FROM signups s JOIN users u ON u.id = s.user_id "
                "LEFT JOIN volunteer_profiles p ON p.user_id = s.user_id "
                "LEFT JOIN org_units o ON o.id = p.community_id "
                "WHERE s.shift_id = :s ORDER BY s.queued_at, s.id"
            ),
            {"s": shift_id},
        ).all()
    return render_template_string(ROSTER, post=post, rows=rows)
