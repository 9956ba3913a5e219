"""The migrations build the schema from empty on each database and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from volunteer_app.extensions import db


def test_migrations_reach_head_and_match_the_models(app):
    # `database_url` built this database from empty with `flask db upgrade`.
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "render_as_batch": True,
                # APScheduler's own job table is not ours to migrate.
                "include_object": lambda o, name, type_, r, c: name != "apscheduler_jobs",
            },
        )
        diff = compare_metadata(context, db.metadata)
        heads = context.get_current_heads()
    assert diff == [], f"models and migrations differ: {diff}"
    assert heads, "no migration applied"


def test_every_model_table_exists(app):
    tables = set(inspect(db.engine).get_table_names())
    assert {t.name for t in db.metadata.sorted_tables} <= tables
