"""Backup and restore of the whole database (docs/operations.md).

    flask --app wsgi backup PATH [--force]
    flask --app wsgi restore PATH [--yes]

SQLite: the online backup API (`sqlite3.Connection.backup`) copies a consistent snapshot
while the app keeps running; the copy is a single self-contained file (journal mode
DELETE), checked with `PRAGMA integrity_check`. Restoring copies the backup back into the
live file through the same API, so the database's own locking applies (no file copied
over an open WAL database).

PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --if-exists
--single-transaction` (all or nothing), with the SQLAlchemy URL turned into a libpq one
and the password passed in PGPASSWORD, never on the command line.

Either way a backup is refused over an existing file without --force, is written to
PATH.part and renamed when complete, and is readable by its owner only (it holds
personal data). A restore first checks that the file is a backup of this application:
the right format, and an `alembic_version` revision that this code's migrations know.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import URL

from .extensions import db

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that was refused or failed; the message says why."""


# ---------------------------------------------------------------- helpers


def _url() -> URL:
    return db.engine.url


def _is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _sqlite_file(url: URL) -> Path:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise BackupError("the database is in memory: there is no file to back up or restore")
    return Path(database)


def describe(url: URL | None = None) -> str:
    """The database in words, without its password."""
    url = url or _url()
    if _is_sqlite(url):
        return f"SQLite database {_sqlite_file(url)}"
    return f"PostgreSQL database {url.render_as_string(hide_password=True)}"


def known_revisions() -> tuple[set[str], set[str]]:
    """(every revision of this code's migrations, the heads)."""
    from alembic.script import ScriptDirectory

    directory = current_app.extensions["migrate"].directory
    script = ScriptDirectory(directory)
    return {rev.revision for rev in script.walk_revisions()}, set(script.get_heads())


def _check_revision(revisions: list[str], path: Path) -> str:
    if not revisions:
        raise BackupError(f"{path} has no alembic_version: it is not a backup of this application")
    known, _heads = known_revisions()
    unknown = [rev for rev in revisions if rev not in known]
    if unknown:
        raise BackupError(
            f"{path} is at migration revision {', '.join(unknown)}, which this code does not "
            "know (a backup of another application, or of a newer release)"
        )
    return ", ".join(revisions)


def _private(path: Path) -> None:
    path.chmod(0o600)


def _start(path: Path, force: bool) -> Path:
    """The temporary file to write; refuses an existing PATH unless `force`."""
    if path.exists() and not force:
        raise BackupError(f"{path} exists already; choose another name or add --force")
    if path.is_dir():
        raise BackupError(f"{path} is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.unlink(missing_ok=True)
    return part


def _head(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


# ---------------------------------------------------------------- SQLite


def _busy_ms() -> int:
    return int(current_app.config.get("SQLITE_BUSY_TIMEOUT", 15) * 1000)


def _sqlite_backup(source_file: Path, path: Path, force: bool) -> str:
    if not source_file.exists():
        raise BackupError(f"{source_file} does not exist")
    part = _start(path, force)
    source = sqlite3.connect(str(source_file), timeout=_busy_ms() / 1000)
    copy = sqlite3.connect(str(part))
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        result = copy.execute("PRAGMA integrity_check").fetchone()[0]
        revisions = [r[0] for r in copy.execute("SELECT version_num FROM alembic_version")]
    except sqlite3.Error as error:
        copy.close()
        part.unlink(missing_ok=True)
        raise BackupError(f"the backup failed: {error}") from None
    finally:
        source.close()
    copy.close()
    if result != "ok":
        part.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check: {result}")
    _private(part)
    os.replace(part, path)
    return f"revision {', '.join(revisions) or 'none'}, {path.stat().st_size} bytes"


def _open_readonly(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _sqlite_check(path: Path) -> str:
    if _head(path, len(SQLITE_MAGIC)) != SQLITE_MAGIC:
        raise BackupError(f"{path} is not a SQLite database")
    try:
        connection = _open_readonly(path)
        try:
            result = connection.execute("PRAGMA quick_check").fetchone()[0]
            tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
            revisions = (
                [r[0] for r in connection.execute("SELECT version_num FROM alembic_version")]
                if "alembic_version" in tables
                else []
            )
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise BackupError(f"{path} cannot be read as a SQLite database: {error}") from None
    if result != "ok":
        raise BackupError(f"{path} fails its integrity check: {result}")
    return _check_revision(revisions, path)


def _sqlite_restore(path: Path, target: Path) -> None:
    db.session.remove()
    db.engine.dispose()
    if not target.exists():
        # A write-ahead log left beside a deleted database belongs to the old file.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = _open_readonly(path)
    destination = sqlite3.connect(str(target), timeout=_busy_ms() / 1000)
    try:
        source.backup(destination)
        result = destination.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.Error as error:
        raise BackupError(f"the restore failed: {error}") from None
    finally:
        source.close()
        destination.close()
    if result != "ok":
        raise BackupError(f"the restored database fails its integrity check: {result}")


# ---------------------------------------------------------------- PostgreSQL


def libpq_url(url: URL) -> tuple[str, dict[str, str]]:
    """The URL as pg_dump / pg_restore take it (no driver suffix, no password) and the
    environment carrying the password."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} was not found: install the PostgreSQL client tools "
            "(the same major version as the server or newer)"
        )
    return found


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip()[:2000]}")
    return done.stdout


def _pg_backup(url: URL, path: Path, force: bool) -> str:
    pg_dump = _tool("pg_dump")
    part = _start(path, force)
    target, env = libpq_url(url)
    try:
        _run([pg_dump, "--format=custom", f"--file={part}", f"--dbname={target}"], env)
    except BackupError:
        part.unlink(missing_ok=True)
        raise
    _private(part)
    revision = _pg_check(part)
    os.replace(part, path)
    return f"revision {revision}, {path.stat().st_size} bytes"


_COPY = re.compile(
    r"^COPY \S*alembic_version \(version_num\) FROM stdin;\n(.*?)^\\\.$", re.M | re.S
)


def _pg_check(path: Path) -> str:
    if _head(path, len(PGDUMP_MAGIC)) != PGDUMP_MAGIC:
        raise BackupError(f"{path} is not a pg_dump archive in custom format (pg_dump -Fc)")
    pg_restore = _tool("pg_restore")
    env = dict(os.environ)
    listing = _run([pg_restore, "--list", str(path)], env)
    if not re.search(r"\bTABLE DATA \S+ alembic_version\b", listing):
        raise BackupError(f"{path} has no alembic_version: it is not a backup of this application")
    data = _run([pg_restore, "--data-only", "--table=alembic_version", "--file=-", str(path)], env)
    match = _COPY.search(data)
    revisions = [line for line in (match.group(1) if match else "").splitlines() if line]
    return _check_revision(revisions, path)


def _pg_restore(url: URL, path: Path) -> None:
    pg_restore = _tool("pg_restore")
    target, env = libpq_url(url)
    db.session.remove()
    db.engine.dispose()  # our own connections would hold locks the DROPs wait for
    _run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={target}",
            str(path),
        ],
        env,
    )


# ---------------------------------------------------------------- the operations


def backup(path: Path, *, force: bool = False) -> str:
    """Write a backup of the app's database to `path`; a one-line summary."""
    url = _url()
    path = Path(path)
    if _is_sqlite(url):
        summary = _sqlite_backup(_sqlite_file(url), path, force)
    else:
        summary = _pg_backup(url, path, force)
    return f"Backed up the {describe(url)} to {path} ({summary})."


def check(path: Path) -> str:
    """The backup's migration revision if `path` is a backup of this application in the
    format the configured database takes; BackupError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    if _is_sqlite(_url()):
        _sqlite_file(_url())
        return _sqlite_check(path)
    return _pg_check(path)


def restore(path: Path) -> str:
    """Replace the database's content with the backup (checked first); a summary."""
    path = Path(path)
    revision = check(path)
    url = _url()
    if _is_sqlite(url):
        _sqlite_restore(path, _sqlite_file(url))
    else:
        _pg_restore(url, path)
    _known, heads = known_revisions()
    note = "" if revision in heads else " Run `flask --app wsgi db upgrade` next."
    return f"Restored the {describe(url)} from {path} (revision {revision}).{note}"


# ---------------------------------------------------------------- commands


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@with_appcontext
def backup_command(path: Path, force: bool) -> None:
    """Back up the whole database to PATH (SQLite copy, or pg_dump custom format)."""
    try:
        click.echo(backup(path, force=force))
    except BackupError as error:
        raise click.ClickException(str(error)) from None


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace the database without asking.")
@with_appcontext
def restore_command(path: Path, yes: bool) -> None:
    """Replace every row of the database with the backup at PATH.

    Stop the web workers and the scheduler first."""
    try:
        revision = check(path)
        if not yes:
            click.confirm(
                f"Replace every row of the {describe()} with {path} (revision {revision})?",
                abort=True,
            )
        click.echo(restore(path))
    except BackupError as error:
        raise click.ClickException(str(error)) from None


def register(app: Flask) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
