"""flask people: duplicate accounts of one person — list, merge, normalise stored numbers."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from .extensions import db
from .models import Role, User
from .services import ServiceError, account_merge, accounts, duplicates
from .services.database import begin_write
from .timeutil import to_local, utcnow

people_cli = AppGroup("people", help="Duplicate accounts of one person.")


def _when(moment) -> str:
    return to_local(moment).strftime("%Y-%m-%d %H:%M") if moment else "never"


@people_cli.command("duplicates")
def duplicates_command() -> None:
    """List accounts whose normalised ID numbers or phone numbers are the same."""
    groups = duplicates.find()
    for group in groups:
        what = "ID number" if group.kind == "id" else "phone number"
        click.echo(f"{what} {group.label}: {len(group.accounts)} accounts")
        for a in group.accounts:
            flag = "  (stored in an old spelling)" if a.stored_unnormalised else ""
            click.echo(
                f"  account {a.user_id:>8}  {a.masked_phone}  {a.name or '—'}  "
                f"created {_when(a.created_at)}  last login {_when(a.last_login_at)}{flag}"
            )
    if groups:
        click.echo(
            f"{len(groups)} groups. Merge each with: flask --app wsgi people merge "
            "--keep <account> --close <account> --by <admin phone>"
        )
    else:
        click.echo("No duplicate accounts.")


@people_cli.command("merge")
@click.option("--keep", "keep_id", type=int, required=True, help="The account that stays.")
@click.option("--close", "close_id", type=int, required=True, help="The account to close.")
@click.option("--by", "by_phone", required=True, help="Phone number of the administrator.")
@click.option(
    "--cancel-clashes",
    is_flag=True,
    help="Where both accounts hold one shift, cancel the weaker sign-up (not attended).",
)
def merge_command(keep_id: int, close_id: int, by_phone: str, cancel_clashes: bool) -> None:
    """Move everything of one account to the other and close it (audited)."""
    begin_write()
    admin = accounts.find_user(accounts.normalise_phone(by_phone))
    if admin is None or not admin.has_role(Role.ADMIN) or not admin.active:
        raise click.ClickException(f"{by_phone} is not an active administrator's account")
    keep, close = db.session.get(User, keep_id), db.session.get(User, close_id)
    if keep is None or close is None:
        raise click.ClickException(f"no account {keep_id if keep is None else close_id}")
    try:
        report = account_merge.merge(
            keep, close, actor=admin, now=utcnow(), cancel_clashes=cancel_clashes
        )
    except ServiceError as error:
        db.session.rollback()
        raise click.ClickException("\n".join(error.messages)) from None
    db.session.commit()
    for name, count in sorted(report.moved.items()):
        click.echo(f"  moved {count:>6}  {name}")
    for name, count in sorted(report.dropped.items()):
        click.echo(f"  kept once {count:>3}  {name} (the surviving account had the same)")
    if report.cancelled_signups:
        click.echo(f"  cancelled sign-ups: {', '.join(map(str, report.cancelled_signups))}")
    click.echo(f"Account {close_id} merged into {keep_id} and closed.")


@people_cli.command("normalise")
def normalise_command() -> None:
    """Store ID numbers written by older code in their normal form (where not taken)."""
    begin_write()
    rewritten, left = duplicates.normalise_stored()
    db.session.commit()
    click.echo(f"{rewritten} ID numbers rewritten in their normal form.")
    if left:
        click.echo(
            f"{left} left as they are: another account has the same number (see duplicates)."
        )


def register(app: Flask) -> None:
    app.cli.add_command(people_cli)
