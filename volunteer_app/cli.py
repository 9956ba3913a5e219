"""flask commands: seed, create-admin."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from .extensions import db
from .models import OrgUnit, User

seed_cli = AppGroup("seed", help="Load demo or scale data.")


@seed_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has accounts.")
def seed_demo_command(if_empty: bool) -> None:
    """Load the demo org trees and one login per role (idempotent)."""
    from .demo import seed_demo

    if if_empty and db.session.scalar(select(func.count()).select_from(User)):
        click.echo("Database already has data; demo seed skipped.")
        _print_logins()
        return
    seed_demo(current_app.config["DEMO_PASSWORD"])
    db.session.commit()
    nodes = db.session.scalar(select(func.count()).select_from(OrgUnit))
    click.echo(f"Demo data ready: {nodes} org units.")
    _print_logins()


@seed_cli.command("scale")
@click.option("--volunteers", default=200_000, show_default=True)
@click.option("--records", default=2_000_000, show_default=True)
def seed_scale_command(volunteers: int, records: int) -> None:
    """District-scale data for the benchmarks (bulk inserts, tallies rebuilt)."""
    from .scale import seed_scale

    if volunteers < 1 or records < 0:
        raise click.ClickException("--volunteers must be at least 1 and --records at least 0")
    timings = seed_scale(
        volunteers, records, password=current_app.config["DEMO_PASSWORD"], echo=click.echo
    )
    click.echo(f"seed_seconds: {timings['total']:.1f}")


def _print_logins() -> None:
    from .demo import demo_logins

    logins = demo_logins()
    if not logins:
        return
    password = current_app.config["DEMO_PASSWORD"]
    click.echo("")
    click.echo(f"Demo logins (password for all: {password}):")
    for account, user in logins:
        click.echo(f"  {account.phone}  {account.label:<32} {user.display_name}")
    click.echo("")


@click.command("create-admin")
@click.option("--phone", prompt=True)
@click.password_option()
def create_admin_command(phone: str, password: str) -> None:
    """Create an account with the admin role on the district root."""
    from .models import Role, RoleGrant
    from .services import ServiceError, accounts

    root = db.session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)))
    if root is None:
        raise click.ClickException("No org tree yet: run `flask seed demo` or add a district.")
    try:
        user = accounts.find_user(accounts.normalise_phone(phone)) or accounts.register(
            phone, password
        )
    except ServiceError as error:
        raise click.ClickException("; ".join(error.messages)) from None
    db.session.add(RoleGrant(user=user, org_unit=root, role=Role.ADMIN))
    db.session.commit()
    click.echo(f"Admin {user.masked_phone} on {root.name}.")


tallies_cli = AppGroup("tallies", help="Check or rebuild the tally tables.")


@tallies_cli.command("verify")
def tallies_verify_command() -> None:
    """Compare the tally tables with a sum over the ledger; exit 1 on any difference."""
    from .tallies import verify_tallies

    problems = verify_tallies()
    for problem in problems[:50]:
        click.echo(problem)
    if problems:
        raise click.ClickException(f"{len(problems)} differences between tallies and ledger")
    click.echo("Tallies match the ledger.")


@tallies_cli.command("rebuild")
def tallies_rebuild_command() -> None:
    """Recompute the tally tables from the approved ledger rows."""
    from .services.database import begin_write
    from .tallies import rebuild_tallies

    begin_write()
    rebuild_tallies()
    db.session.commit()
    click.echo("Tallies rebuilt from the ledger.")


shifts_cli = AppGroup("shifts", help="Check the shifts' sign-up counters.")


@shifts_cli.command("verify")
@click.option("--repair", is_flag=True, help="Set every differing counter to the count.")
def shifts_verify_command(repair: bool) -> None:
    """Compare each shift's taken/waitlisted with a count of its sign-ups; exit 1 on any
    difference (with --repair: fix them and say what was wrong)."""
    from .signups import repair_counters, verify_counters

    if repair:
        from .services.database import begin_write

        begin_write()
        problems = repair_counters()
        db.session.commit()
    else:
        problems = verify_counters()
    for problem in problems[:50]:
        click.echo(
            f"shift {problem.shift_id}: {problem.counter} is {problem.stored}, "
            f"the sign-ups count {problem.counted}"
        )
    if problems and repair:
        click.echo(f"{len(problems)} counters repaired.")
    elif problems:
        raise click.ClickException(f"{len(problems)} counters differ from the sign-ups")
    else:
        click.echo("Every shift's counters match its sign-ups.")


scheduler_cli = AppGroup("scheduler", help="The background job scheduler.")


@scheduler_cli.command("run")
@click.option("--max-seconds", type=float, default=None, help="Stop after this long (tests).")
@click.option("--scale", type=float, default=1.0, help="Multiply job intervals (tests).")
@click.option(
    "--poll-seconds", type=float, default=10.0, help="How often a standby asks for the lock."
)
def scheduler_run_command(max_seconds: float | None, scale: float, poll_seconds: float) -> None:
    """Run the jobs (one scheduler at a time; a second one stands by)."""
    import logging

    from .scheduler import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run(
        current_app._get_current_object(),
        max_seconds=max_seconds,
        scale=scale,
        poll_seconds=poll_seconds,
    )


@scheduler_cli.command("status")
def scheduler_status_command() -> None:
    """List the jobs, their next run and their last result."""
    from .scheduler import status

    for row in status(current_app._get_current_object()):
        if row["job"] == "(lock)":
            click.echo(f"lock held by {row['holder']} (heartbeat {row['heartbeat']})")
            continue
        outcome = {None: "never run", True: "ok", False: "FAILED"}[row["last_ok"]]
        click.echo(
            f"{row['job']:<18} every {row['every_seconds']:>6}s  next {row['next_run']}  "
            f"last {row['last_run']} {outcome} {row['last_result']}"
        )


@scheduler_cli.command("run-job")
@click.argument("name")
def scheduler_run_job_command(name: str) -> None:
    """Run one job now, in this process (operations, debugging)."""
    from .jobs import JOBS
    from .services.database import begin_write
    from .timeutil import utcnow

    if name not in JOBS:
        raise click.ClickException(f"unknown job {name}; one of {', '.join(JOBS)}")
    begin_write()
    result = JOBS[name](utcnow())
    db.session.commit()
    click.echo(f"{name}: {result}")


def register(app: Flask) -> None:
    from .backup import register as register_backup
    from .cli_people import register as register_people
    from .cli_pii import register as register_pii

    register_backup(app)
    register_people(app)
    register_pii(app)
    app.cli.add_command(seed_cli)
    app.cli.add_command(tallies_cli)
    app.cli.add_command(shifts_cli)
    app.cli.add_command(scheduler_cli)
    app.cli.add_command(create_admin_command)
