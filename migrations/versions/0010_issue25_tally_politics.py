"""tally_people keyed by political status at the time of service

A volunteer now has a tally_people row per political status of their ledger rows'
snapshots in a period, and one row with political '*' for all of them together (the
unfiltered figures); tally_served counts each. The rows are recomputed from the approved
ledger (its political_status snapshot is already on every row).

Revision ID: 0009_issue25_tally_politics
Revises: 0008_tally_registrations
Create Date: 2026-12-01 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_issue25_tally_politics'
down_revision = '0009_issue23_merged_accounts'
branch_labels = None
depends_on = None

ALL = "'*'"
COLUMNS = {"area": "community_id", "party": "branch_id"}
SERVED = (
    "INSERT INTO tally_served (dim, node_id, month, political, people) "
    "SELECT dim, node_id, month, political, COUNT(*) FROM tally_people "
    "WHERE minutes > 0 GROUP BY dim, node_id, month, political"
)


def _period_keys(dialect: str) -> list[str]:
    """SQL for the month (yyyymm), quarter (yyyy2q) and year (yyyy00) key of r.service_date."""
    if dialect == "sqlite":
        year = "CAST(strftime('%Y', r.service_date) AS INTEGER)"
        month = "CAST(strftime('%m', r.service_date) AS INTEGER)"
    else:
        year = "CAST(EXTRACT(YEAR FROM r.service_date) AS INTEGER)"
        month = "CAST(EXTRACT(MONTH FROM r.service_date) AS INTEGER)"
    return [
        f"({year} * 100 + {month})",
        f"({year} * 100 + 20 + ({month} - 1) / 3 + 1)",
        f"({year} * 100)",
    ]


def _fill_node_paths(bind) -> None:
    bind.execute(sa.text("DELETE FROM tally_node_paths"))
    rows = [
        {"node_id": node_id, "ancestor_id": int(part)}
        for node_id, path in bind.execute(sa.text("SELECT id, path FROM org_units"))
        for part in path.strip("/").split("/")
        if part
    ]
    if rows:
        bind.execute(
            sa.text(
                "INSERT INTO tally_node_paths (node_id, ancestor_id) "
                "VALUES (:node_id, :ancestor_id)"
            ),
            rows,
        )


def upgrade():
    bind = op.get_bind()
    op.drop_index('uq_tally_people_key', table_name='tally_people')
    op.create_index(
        'uq_tally_people_key',
        'tally_people',
        ['dim', 'node_id', 'month', 'user_id', 'political'],
        unique=True,
    )
    _fill_node_paths(bind)
    op.execute("DELETE FROM tally_people")
    for dim, column in COLUMNS.items():
        for key in _period_keys(bind.dialect.name):
            for political, group in (("r.political_status", ", r.political_status"), (ALL, "")):
                op.execute(
                    "INSERT INTO tally_people (dim, node_id, month, user_id, political, minutes) "
                    f"SELECT '{dim}', np.ancestor_id, {key}, r.user_id, {political}, "
                    "SUM(r.minutes) FROM service_records r "
                    f"JOIN tally_node_paths np ON np.node_id = r.{column} "
                    "WHERE r.status = 'approved' "
                    f"GROUP BY np.ancestor_id, {key}, r.user_id{group}"
                )
    op.execute("DELETE FROM tally_node_paths")
    op.execute("DELETE FROM tally_served")
    op.execute(SERVED)


def downgrade():
    # One row per volunteer again, with the lowest status they served under (as before).
    op.drop_index('uq_tally_people_key', table_name='tally_people')
    op.execute(f"CREATE TEMPORARY TABLE tally_all_rows AS SELECT id FROM tally_people WHERE political = {ALL}")
    op.execute(
        "UPDATE tally_people SET political = COALESCE((SELECT MIN(p.political) "
        "FROM tally_people p WHERE p.dim = tally_people.dim "
        "AND p.node_id = tally_people.node_id AND p.month = tally_people.month "
        f"AND p.user_id = tally_people.user_id AND p.political <> {ALL}), '') "
        f"WHERE political = {ALL}"
    )
    op.execute("DELETE FROM tally_people WHERE id NOT IN (SELECT id FROM tally_all_rows)")
    op.execute("DROP TABLE tally_all_rows")
    op.create_index(
        'uq_tally_people_key', 'tally_people', ['dim', 'node_id', 'month', 'user_id'], unique=True
    )
    op.execute("DELETE FROM tally_served")
    op.execute(SERVED)
