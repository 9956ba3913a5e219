"""Transactions that behave alike on SQLite and PostgreSQL."""

from __future__ import annotations

import select
import sqlite3
import time
from functools import lru_cache
from typing import Any

from flask import Flask, g, has_request_context
from sqlalchemy import ColumnElement, Connection, Engine, Insert, Row, Table, event, inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, make_transient_to_detached

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


def write_from_here(session: Session | None = None) -> None:
    """Where a view marked `@hooks.locks_late` starts to write: on SQLite its transaction
    becomes the writer here (`become_writer`), as on PostgreSQL a request's reads come
    before its first row lock. Anywhere else (PostgreSQL, a view locked from its start, a
    job or a test) nothing changes."""
    if not has_request_context() or not g.pop("write_lock_deferred", False):
        return
    become_writer(session)


def become_writer(session: Session | None = None) -> None:
    """The session's transaction becomes SQLite's writer: the read transaction it may be
    in ends (its objects kept, as commit_and_keep keeps them) and `BEGIN IMMEDIATE`
    follows. With nothing to send, both happen on the same connection, inside the
    session's one transaction — without the session's commit machinery and a second
    checkout from the pool; with changes pending, the session's own commit sends them
    first. Used by `hooks.take_write_lock` and `write_from_here`."""
    session = session or db.session()
    if not session.in_transaction():
        begin_write(session)
        return
    if not _nothing_to_send(session):
        commit_and_keep(session)
        begin_write(session)
        return
    _commit_connection(session)
    connection = session.connection()
    _begin_immediate(connection, connection.engine._volunteer_busy_timeout)  # type: ignore[attr-defined]


def commit_and_keep(session: Session | None = None) -> None:
    """Commit without expiring the session's objects: for a request that only answers from
    what it has just written (a scan's JSON, a sign-up's redirect), so that the answer, the
    flash message and the response hooks do not load the user, the shift and its leads
    again. Nothing outside this request shares the session, so nothing it keeps is stale."""
    session = session or db.session()
    if session.in_transaction() and _nothing_to_send(session):
        _commit_connection(session)
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def _nothing_to_send(session: Session) -> bool:
    """A SQLite session, in its outer transaction, with no change waiting for a flush."""
    return (
        is_sqlite(session)
        and session.get_nested_transaction() is None
        and not (session.new or session.dirty or session.deleted)
    )


def _commit_connection(session: Session) -> None:
    """Commit the SQLite transaction of a session that has nothing left to send, before
    the session's own commit does its bookkeeping: the one write lock is let go at once,
    and the session's commit then finds the connection's transaction already ended
    (sqlite3's commit changes nothing). On PostgreSQL, where two workers hold few row
    locks that anyone waits for, the session commits as it always did."""
    raw = session.connection().connection.dbapi_connection
    if raw.in_transaction:
        raw.execute("COMMIT")


def insert_now(
    obj: object,
    session: Session | None = None,
    *,
    unless_taken: str | None = None,
    returning: tuple[ColumnElement, ...] = (),
) -> Row | None:
    """Store a new object at once with one INSERT … RETURNING its id, and make it a
    persistent object of the session as it stands, every column loaded: for a hot path's
    one new row, instead of the unit of work's flush (which works out the same INSERT at
    several times the cost). Column defaults are applied here, as the flush would; an
    IntegrityError is raised as the flush would raise it. The answer is the row RETURNING
    gave: the new id, then the value of each of `returning` (expressions built once, by
    the caller's module: they are part of a statement cached per table), which the same
    statement reads, so that a read that must follow the insert costs no statement.

    `unless_taken`: a column with a unique index; when a row holds the same value already
    (a concurrent twin's), nothing is written (ON CONFLICT … DO NOTHING), the object stays
    new and the answer is None."""
    session = session or db.session()
    state = inspect(obj)
    if not state.transient:
        raise ValueError("insert_now takes a new object, not yet in a session")
    mapper = state.mapper
    table = mapper.local_table
    values: dict[str, object] = {}
    for column in table.columns:
        key = mapper.get_property_by_column(column).key
        if column.primary_key and key not in state.dict:
            continue
        if key in state.dict:
            value = state.dict[key]
        elif column.default is None and column.server_default is not None:
            continue  # the database's default; the attribute is read when first used
        elif column.default is None:
            value = None
        elif column.default.is_scalar:
            value = column.default.arg
        elif column.default.is_callable:
            value = column.default.arg(None)
        else:
            raise ValueError(f"{table.name}.{column.name}: a default insert_now cannot apply")
        values[column.name] = value
        setattr(obj, key, value)
    (primary_key,) = table.primary_key.columns
    statement = (
        insert_skipping(table, unless_taken, primary_key.name, session=session)
        if unless_taken
        else _insert_returning(table)
    )
    if returning:
        statement = returning_also(statement, returning)
    row = session.execute(statement, values).first()
    if row is None:
        return None
    setattr(obj, mapper.get_property_by_column(primary_key).key, row[0])
    make_transient_to_detached(obj)
    session.add(obj)
    return row


@lru_cache(maxsize=32)
def _insert_returning(table: Table):
    (primary_key,) = table.primary_key.columns
    return table.insert().returning(primary_key)


@lru_cache(maxsize=32)
def returning_also(statement: Insert, returning: tuple[ColumnElement, ...]) -> Insert:
    """A statement built once (`insert_skipping`, …) that also returns `returning`
    (expressions built once by the caller's module), itself built once."""
    return statement.returning(*returning)


def insert_skipping(
    table: Table, unique: str, *returning: str, session: Session | None = None
) -> Insert:
    """INSERT … ON CONFLICT (`unique`) DO NOTHING RETURNING the named columns, for the
    session's database (SQLite and PostgreSQL write it alike), built once: a row whose
    unique value is taken already is skipped and not returned. The values are bound when
    it runs (one dict, or a list for several rows)."""
    dialect = (session or db.session()).get_bind().dialect.name
    return _insert_skipping(dialect, table, unique, returning)


@lru_cache(maxsize=32)
def _insert_skipping(dialect: str, table: Table, unique: str, returning: tuple[str, ...]):
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=[table.c[unique]])
        .returning(*(table.c[name] for name in returning))
    )


def configure_engine(app: Flask) -> None:
    """SQLite pragmas (WAL, busy timeout, foreign keys) and explicit BEGIN handling; on
    PostgreSQL, the pre-ping that asks the server only when the socket says it spoke."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql":
        _quiet_ping(engine)
        return
    if engine.dialect.name != "sqlite":
        return
    _configure_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT"])


def _quiet_ping(engine: Engine) -> None:
    """`pool_pre_ping` without a round trip while a pooled connection's socket is quiet.

    A connection the server has ended (a restart, `pg_terminate_backend`, an idle timeout)
    has something to read when it is checked out: the server's last message, or the end
    of the stream. Only then is the usual `SELECT 1` sent, which finds the connection dead
    and has the pool replaced as before. A quiet socket on an idle connection means the
    server has said nothing since its last answer, so the request's first statement is
    the round trip, not a ping before it. Any other driver keeps the full ping."""
    if getattr(engine, "_volunteer_quiet_ping", False):
        return
    engine._volunteer_quiet_ping = True  # type: ignore[attr-defined]
    dialect = engine.dialect
    full_ping = dialect.do_ping

    def do_ping(dbapi_connection: Any) -> bool:
        pgconn = getattr(dbapi_connection, "pgconn", None)
        if pgconn is not None and pgconn.status == 0:  # psycopg: ConnStatus.OK
            try:
                poller = select.poll()
                poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
                if not poller.poll(0):
                    return True
            except (OSError, ValueError):
                pass  # no socket to ask: ping as usual
        return full_ping(dbapi_connection)

    dialect.do_ping = do_ping  # type: ignore[method-assign]


def _configure_sqlite(engine: Engine, busy_timeout: int) -> None:
    if getattr(engine, "_volunteer_configured", False):
        return
    engine._volunteer_configured = True  # type: ignore[attr-defined]
    engine._volunteer_busy_timeout = busy_timeout  # type: ignore[attr-defined]
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
        if mode == "IMMEDIATE":
            _begin_immediate(connection, busy_timeout)
        else:
            connection.exec_driver_sql(f"BEGIN {mode}".strip())


#: How a writer waits for SQLite's write lock: a try every `SHORT` seconds for the first
#: `FAST_WINDOW` seconds (a hot path holds the lock 1–3 ms, so most waits end there, and a
#: waiter that tries often gets it within ~0.05 ms of its release), then pauses doubling up
#: to `LONGEST`, so that a long wait (an import, a rebuild) costs a few hundred tries a
#: second, not twenty thousand.
WRITE_LOCK_SHORT = 0.00005
WRITE_LOCK_FAST_WINDOW = 0.005
WRITE_LOCK_LONGEST = 0.0008


def _begin_immediate(connection: Connection, busy_timeout: float) -> None:
    """BEGIN IMMEDIATE, waiting up to `busy_timeout` seconds for the write lock in short
    pauses (see WRITE_LOCK_SHORT) instead of SQLite's own busy handler, which sleeps 1, 2,
    5, 10, 15 … ms between tries: a writer that waits for one a few milliseconds long
    would often sleep past the moment it is free, while the other worker takes it again,
    and two workers would write little faster than one. The first try is sent like any
    statement; the connection's own busy timeout is off meanwhile and restored after."""
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as error:
            if not _is_busy(error.orig):
                raise
        started = time.monotonic()
        fast_until, deadline = started + WRITE_LOCK_FAST_WINDOW, started + busy_timeout
        pause = WRITE_LOCK_SHORT
        while (now := time.monotonic()) < deadline:
            time.sleep(pause)
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
            if now >= fast_until:
                pause = min(pause * 2, WRITE_LOCK_LONGEST)
        # Still locked at the deadline: the last try fails as any statement does (a busy
        # database: 503), or gets the lock after all.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        raw.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")


def _is_busy(error: BaseException | None) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


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
