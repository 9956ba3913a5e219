"""Transactions that behave alike on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3

from flask import Flask
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from ..extensions import db

#: Off only while migrations run: SQLite's batch mode copies and drops tables that other
#: tables reference, which enforced foreign keys would refuse.
SQLITE_FOREIGN_KEYS = {"on": True}


def is_sqlite(session: Session | None = None) -> bool:
    """True when the session's database is SQLite."""
    bind = (session or db.session).get_bind()
    return bind.dialect.name == "sqlite"


def begin_write(session: Session | None = None) -> None:
    """Start the session's transaction as a writer.

    On SQLite this is `BEGIN IMMEDIATE`: the write lock is taken at the start, so that
    concurrent writers queue on the busy timeout instead of failing with "database is
    locked" when a read lock would be upgraded. On PostgreSQL it is a plain BEGIN.
    Call it before the first statement of a transaction; later it changes nothing.
    """
    session = session or db.session()
    if not session.in_transaction():
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def commit_and_keep(session: Session | None = None) -> None:
    """Commit without expiring the session's objects: for a request that only answers from
    what it has just written (a scan's JSON, a sign-up's redirect), so that the answer, the
    flash message and the response hooks do not load the user, the shift and its leads
    again. Nothing outside this request shares the session, so nothing it keeps is stale."""
    session = session or db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def configure_engine(app: Flask) -> None:
    """SQLite pragmas (WAL, busy timeout, foreign keys) and explicit BEGIN handling."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return
    _configure_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT"])


def _configure_sqlite(engine: Engine, busy_timeout: int) -> None:
    if getattr(engine, "_volunteer_configured", False):
        return
    engine._volunteer_configured = True  # type: ignore[attr-defined]
    in_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite's own
        # implicit transactions would defeat BEGIN IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if SQLITE_FOREIGN_KEYS['on'] else 'OFF'}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


def upsert_sql(table: str, keys: list[str], adds: list[str], extra: tuple = ()) -> str:
    """An INSERT … ON CONFLICT upsert (SQLite and PostgreSQL) adding `adds` to an existing
    row; `extra` columns are only written on insert. Built from constants only."""
    columns = [*keys, *adds, *extra]
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in adds)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 - constant names
        f"({', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )
