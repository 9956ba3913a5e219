"""flask pii …: key rotation for the personal data at rest (docs/operations.md)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from .extensions import db

pii_cli = AppGroup("pii", help="Personal data at rest: key rotation.")


@pii_cli.command("reencrypt")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=500, show_default=True)
@click.option("--rehash", is_flag=True, help="Also re-compute the ID hashes (last key changed).")
@click.option("--dry-run", is_flag=True, help="Count what would change; write nothing.")
@click.option("--after-id", type=click.IntRange(0), default=0, help="Start after this user id.")
def reencrypt_command(batch_size: int, rehash: bool, dry_run: bool, after_id: int) -> None:
    """Re-encrypt every ID number under the first key (and re-hash); resumable, in batches."""
    from .services.database import begin_write
    from .services.keyrotation import Progress, count_rows, next_batch, rotate_batch

    total = count_rows(after_id)
    db.session.rollback()
    done = Progress()
    last = after_id
    label = (
        "dry run" if dry_run else ("re-encrypting and re-hashing" if rehash else "re-encrypting")
    )
    with click.progressbar(length=total, label=label, show_pos=True) as bar:
        while True:
            begin_write()
            ids = next_batch(batch_size, last)
            if not ids:
                db.session.rollback()
                break
            progress = rotate_batch(ids, rehash=rehash)
            if dry_run:
                db.session.rollback()
            else:
                db.session.commit()  # each batch stands on its own: a rerun resumes
            done.add(progress)
            last = ids[-1]
            bar.update(len(ids))
    verb = "would re-encrypt" if dry_run else "re-encrypted"
    click.echo(
        f"{done.seen} ID numbers: {verb} {done.reencrypted}, already under the first key "
        f"{done.already_current}"
        + (f", {'would re-hash' if dry_run else 're-hashed'} {done.rehashed}" if rehash else "")
        + f" (last user id {last})."
    )
    if done.conflicts:
        click.echo(
            f"{len(done.conflicts)} ID numbers are held by two profiles (hash kept): user ids "
            + ", ".join(map(str, done.conflicts[:50])),
            err=True,
        )
    if done.unreadable:
        raise click.ClickException(
            f"{len(done.unreadable)} ID numbers open with none of the listed keys (user ids "
            + ", ".join(map(str, done.unreadable[:50]))
            + "): put the key that encrypted them back in PII_ENCRYPTION_KEY and run again"
        )
    if done.conflicts:
        raise click.ClickException("some hashes could not be re-computed (see above)")


def register(app) -> None:
    app.cli.add_command(pii_cli)
