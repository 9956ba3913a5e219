"""Migration 0009_issue25_tally_politics: tally_people and tally_served of an existing
database are recomputed by political status at the time of service (the ledger's
snapshot), on SQLite and PostgreSQL, and the downgrade gives one row per volunteer back."""

from __future__ import annotations

from datetime import date

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, func, select, text

from config import TestingConfig
from tests.conftest import PG_URL
from volunteer_app import create_app, tallies
from volunteer_app.extensions import db
from volunteer_app.models import OrgLevel, RecordKind, RecordStatus, ServiceRecord, User
from volunteer_app.services import orgs

BEFORE = "0009_issue23_merged_accounts"
SCHEMA = "issue25_migration"


def _database(kind: str, tmp_path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'migrate.db'}"
    if not PG_URL:
        pytest.skip("PostgreSQL run skipped: TEST_DATABASE_URL is not set")
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    engine.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{SCHEMA}"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_migration_recounts_people_by_the_status_at_the_time_of_service(kind, tmp_path):
    url = _database(kind, tmp_path)
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(revision=BEFORE)
        district = orgs.create_node("即墨区", OrgLevel.DISTRICT, None)
        town = orgs.create_node("环秀街道", OrgLevel.TOWN, district)
        community = orgs.create_node("东关社区", OrgLevel.COMMUNITY, town)
        user = User(phone="13900000001", password_hash="x", display_name="志愿者")
        db.session.add(user)
        db.session.flush()
        for day, political in ((date(2026, 2, 10), "13"), (date(2026, 3, 10), "01")):
            db.session.add(
                ServiceRecord(
                    user_id=user.id,
                    kind=RecordKind.MANUAL,
                    status=RecordStatus.APPROVED,
                    activity="街巷清洁",
                    service_date=day,
                    minutes=60,
                    community_id=community.id,
                    host_id=town.id,
                    political_status=political,
                )
            )
        db.session.flush()
        # What the old code kept: one row per volunteer and period with the first status.
        for node in (district, town, community):
            for month in (202602, 202603, 202621, 202600):
                db.session.execute(
                    text(
                        "INSERT INTO tally_people (dim, node_id, month, user_id, political, "
                        "minutes) VALUES ('area', :n, :m, :u, '13', 60)"
                    ),
                    {"n": node.id, "m": month, "u": user.id},
                )
        db.session.commit()
        district_id = district.id
        db.session.remove()

        upgrade()
        problems = [p for p in tallies.verify_tallies() if "people" in p or "served" in p]
        assert problems == []
        counts = dict(
            db.session.execute(
                text(
                    "SELECT political, people FROM tally_served "
                    "WHERE dim = 'area' AND node_id = :n AND month = 202621"
                ),
                {"n": district_id},
            ).all()
        )
        assert counts == {"01": 1, "13": 1, "*": 1}
        db.session.remove()

        downgrade(revision=BEFORE)
        rows = db.session.execute(text("SELECT COUNT(*) FROM tally_people")).scalar_one()
        keys = db.session.execute(
            text(
                "SELECT COUNT(*) FROM "
                "(SELECT DISTINCT dim, node_id, month, user_id FROM tally_people) k"
            )
        ).scalar_one()
        assert rows == keys > 0
        assert db.session.scalar(select(func.count()).select_from(ServiceRecord)) == 2
        db.session.remove()
        db.engine.dispose()
    if kind == "postgresql":
        engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        engine.dispose()
