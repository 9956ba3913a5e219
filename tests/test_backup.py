"""Backups that restore: `flask --app wsgi backup PATH`, destroy, `flask --app wsgi restore
PATH`, and every row of every table is back.

SQLite runs the real command line (APP_CONFIG=development) on a file database in
tmp_path. PostgreSQL runs when TEST_DATABASE_URL is set and pg_dump is installed, on a
scratch database of its own made on the same server and dropped afterwards (the shared
test database is never touched).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, make_url, text

from config import TestingConfig
from tests.conftest import PG_URL, ROOT
from volunteer_app import create_app
from volunteer_app.extensions import db

FAST_HASH = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "1024", "ARGON2_PARALLELISM": "1"}


def flask(env: dict, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
    )


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def environment(tmp_path: Path, url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SQLITE_"))}
    for key in ("SECRET_KEY", "PII_ENCRYPTION_KEY", "DATABASE_URL", "TEST_SQLITE_URL"):
        env.pop(key, None)
    return {
        **env,
        **FAST_HASH,
        "APP_CONFIG": "development",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": url,
        "DEV_TOOLS": "0",
    }


class InProcess:
    """The app on `url` with the Flask CLI runner (TestingConfig: fast password hashes)."""

    def __init__(self, url: str):
        self.app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
        self.runner = self.app.test_cli_runner()

    def upgrade_and_seed(self) -> None:
        from flask_migrate import upgrade

        with self.app.app_context():
            upgrade()
        self.ok("seed", "demo")

    def invoke(self, *args: str, stdin: str = ""):
        result = self.runner.invoke(args=list(args), input=stdin)
        self.close()
        return result

    def ok(self, *args: str) -> str:
        result = self.invoke(*args)
        assert result.exit_code == 0, f"{args}: {result.output}\n{result.exception!r}"
        return result.output

    def close(self) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Every table: (rows, a hash of all its rows in a stable order); PostgreSQL
    sequences too, so that ids continue where they were."""
    engine = create_engine(url)
    out: dict[str, tuple[int, str]] = {}
    try:
        with engine.connect() as connection:
            for table in sorted(inspect(connection).get_table_names()):
                rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
                lines = sorted(repr(tuple(row)) for row in rows)
                digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
                out[table] = (len(rows), digest)
            if connection.dialect.name == "postgresql":
                for name, value in connection.execute(
                    text(
                        "SELECT sequencename, last_value FROM pg_sequences "
                        "WHERE schemaname = 'public'"
                    )
                ):
                    out[f"sequence {name}"] = (0, str(value))
    finally:
        engine.dispose()
    return out


def rows(print_: dict[str, tuple[int, str]]) -> int:
    return sum(n for n, _digest in print_.values())


def lost(before: dict, after: dict) -> int:
    """Rows of `before` missing from `after` (a changed table counts all its rows)."""
    return sum(n for table, (n, digest) in before.items() if after.get(table) != (n, digest))


def report(capsys, line: str) -> None:
    with capsys.disabled():
        print(f"\nbackup: {line}")


# ---------------------------------------------------------------- SQLite


@pytest.fixture(scope="module")
def seeded_sqlite(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("backup")
    database = folder / "volunteer.db"
    InProcess(f"sqlite:///{database}").upgrade_and_seed()
    return database, environment(folder, f"sqlite:///{database}")


def test_sqlite_backup_destroy_restore_brings_every_row_back(seeded_sqlite, tmp_path, capsys):
    database, env = seeded_sqlite
    url = f"sqlite:///{database}"
    cli = InProcess(url)
    before = fingerprint(url)
    assert rows(before) > 1000, "the demo data should fill the tables"
    copy = tmp_path / "nightly" / "volunteer-backup.db"

    # The real command line, as an operator types it (APP_CONFIG=development).
    out = ok(flask(env, "backup", str(copy)))
    assert "Backed up" in out and copy.is_file()
    assert copy.read_bytes()[:16] == b"SQLite format 3\x00"
    assert copy.stat().st_mode & 0o077 == 0, "a backup holds personal data: owner only"
    assert fingerprint(f"sqlite:///{copy}") == before

    # An existing file is not overwritten without --force.
    stamp = copy.stat().st_mtime_ns
    again = cli.invoke("backup", str(copy))
    assert again.exit_code != 0 and "--force" in again.output
    assert copy.stat().st_mtime_ns == stamp
    cli.ok("backup", str(copy), "--force")

    # Destroy 1: every row deleted.
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA foreign_keys = OFF")
        for table in before:
            connection.execute(f'DELETE FROM "{table}"')
    assert rows(fingerprint(url)) == 0

    refused = cli.invoke("restore", str(copy), stdin="n\n")
    assert refused.exit_code != 0 and "Aborted" in refused.output
    assert rows(fingerprint(url)) == 0, "restore without --yes must ask, and stop on no"
    assert "Restored" in cli.ok("restore", str(copy), "--yes")
    after_delete = fingerprint(url)
    assert after_delete == before

    # Destroy 2: the database file is gone (with its write-ahead log).
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    out = ok(flask(env, "restore", str(copy), "--yes"))
    assert "Restored" in out
    after_drop = fingerprint(url)
    assert after_drop == before
    # The restored database is consistent and the app works on it.
    assert "Tallies match the ledger." in cli.ok("tallies", "verify")
    report(
        capsys,
        f"SQLite: {rows(before)} rows in {len(before)} tables; destroyed twice "
        f"(rows deleted, file dropped); rows lost: "
        f"{lost(before, after_delete) + lost(before, after_drop)}",
    )


def test_restore_refuses_what_is_not_a_backup_of_this_app(seeded_sqlite, tmp_path):
    database, _env = seeded_sqlite
    live = tmp_path / "live.db"
    shutil.copy(database, live)
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{live}")
    runner = app.test_cli_runner()
    before = fingerprint(f"sqlite:///{live}")

    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database\n")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE things (id INTEGER PRIMARY KEY)")
    future = tmp_path / "future.db"
    shutil.copy(database, future)
    with sqlite3.connect(future) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    pg_dump = tmp_path / "dump.pgc"
    pg_dump.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 64)

    cases = {
        text_file: "not a SQLite database",
        foreign: "no alembic_version",
        future: "does not know",
        pg_dump: "not a SQLite database",
        tmp_path / "missing.db": "not a file",
    }
    for path, reason in cases.items():
        result = runner.invoke(args=["restore", str(path), "--yes"])
        assert result.exit_code != 0, f"{path.name} was restored"
        assert reason in result.output, f"{path.name}: {result.output}"
    assert fingerprint(f"sqlite:///{live}") == before

    # The command also refuses an in-memory database and a directory as the target.
    memory = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
    result = memory.test_cli_runner().invoke(args=["backup", str(tmp_path / "m.db")])
    assert result.exit_code != 0 and "in memory" in result.output
    result = runner.invoke(args=["backup", str(tmp_path)])
    assert result.exit_code != 0
    with app.app_context():
        from volunteer_app.extensions import db

        db.engine.dispose()


# ---------------------------------------------------------------- PostgreSQL


@pytest.fixture
def scratch_postgres():
    """A database of our own on the test server, dropped afterwards."""
    if not PG_URL:
        pytest.skip("PostgreSQL backup test skipped: TEST_DATABASE_URL is not set")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("PostgreSQL backup test skipped: pg_dump / pg_restore are not installed")
    name = f"volunteer_backup_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_postgresql_backup_destroy_restore_brings_every_row_back(
    scratch_postgres, tmp_path, capsys
):
    url = scratch_postgres
    env = environment(tmp_path, url)
    cli = InProcess(url)
    cli.upgrade_and_seed()
    before = fingerprint(url)
    assert rows(before) > 1000
    dump = tmp_path / "volunteer.dump"

    out = ok(flask(env, "backup", str(dump)))  # the real command line
    assert "Backed up" in out and dump.read_bytes()[:5] == b"PGDMP"
    assert dump.stat().st_mode & 0o077 == 0
    again = cli.invoke("backup", str(dump))
    assert again.exit_code != 0 and "--force" in again.output

    engine = create_engine(url)
    tables = [t for t in before if not t.startswith("sequence ")]
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    engine.dispose()
    assert rows(fingerprint(url)) == 0
    refused = cli.invoke("restore", str(dump), stdin="n\n")
    assert refused.exit_code != 0 and rows(fingerprint(url)) == 0
    cli.ok("restore", str(dump), "--yes")
    after_truncate = fingerprint(url)
    assert after_truncate == before

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    ok(flask(env, "restore", str(dump), "--yes"))
    after_drop = fingerprint(url)
    assert after_drop == before
    assert "Tallies match the ledger." in cli.ok("tallies", "verify")

    sqlite_file = tmp_path / "not-a-dump.db"
    with sqlite3.connect(sqlite_file) as connection:
        connection.execute("CREATE TABLE t (id INTEGER)")
    wrong = cli.invoke("restore", str(sqlite_file), "--yes")
    assert wrong.exit_code != 0 and "pg_dump" in wrong.output
    assert fingerprint(url) == before
    report(
        capsys,
        f"PostgreSQL: {rows(before)} rows in {len(tables)} tables; destroyed twice "
        f"(truncated, schema dropped); rows lost: "
        f"{lost(before, after_truncate) + lost(before, after_drop)}",
    )
