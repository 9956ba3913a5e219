"""The demo seed: 即墨区's trees and a login per role, idempotent."""

from __future__ import annotations

from sqlalchemy import func, select

from volunteer_app.demo import DEMO_ACCOUNTS, DEMO_VOLUNTEERS
from volunteer_app.extensions import db
from volunteer_app.models import OrgLevel, OrgUnit, RoleGrant, User
from volunteer_app.timeutil import local_today


def counts() -> tuple[int, int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(OrgUnit)),
        db.session.scalar(select(func.count()).select_from(User)),
        db.session.scalar(select(func.count()).select_from(RoleGrant)),
    )


def test_seed_demo_builds_jimo_and_is_idempotent(runner):
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    first = counts()
    assert "13800000001" in result.output and "Volunteer2026" in result.output
    again = runner.invoke(args=["seed", "demo"])
    assert again.exit_code == 0
    assert counts() == first

    towns = db.session.scalars(select(OrgUnit).where(OrgUnit.level == OrgLevel.TOWN)).all()
    assert len(towns) == 15
    assert sum(t.name.endswith("街道") for t in towns) == 11
    assert {t.name for t in towns if t.name.endswith("镇")} == {
        "田横镇",
        "金口镇",
        "段泊岚镇",
        "移风店镇",
    }
    for town in towns:
        assert 3 <= len(town.children) <= 8, town.name
    branches = db.session.scalar(
        select(func.count()).select_from(OrgUnit).where(OrgUnit.level == OrgLevel.PARTY_BRANCH)
    )
    assert branches >= 75
    practice = db.session.scalars(
        select(OrgUnit.name).where(OrgUnit.name.endswith("新时代文明实践所"))
    ).all()
    assert len(practice) == 15
    assert first[1] == len(DEMO_ACCOUNTS) + DEMO_VOLUNTEERS


def test_demo_volunteers_are_valid_and_varied(runner):
    from volunteer_app.models import PoliticalStatus, TeamMembership, VolunteerProfile
    from volunteer_app.services import idnumbers, volunteers

    runner.invoke(args=["seed", "demo"])
    profiles = db.session.scalars(select(VolunteerProfile)).all()
    assert len(profiles) == DEMO_VOLUNTEERS + 1
    today = local_today()
    for profile in profiles[:50]:
        info = idnumbers.parse(volunteers.id_number_of(profile), today=today)
        assert info.birth_date == profile.birth_date
    statuses = {p.political_status for p in profiles}
    assert {
        PoliticalStatus.CPC_MEMBER,
        PoliticalStatus.CYL_MEMBER,
        PoliticalStatus.MASSES,
    } <= statuses
    assert any(volunteers.is_minor(p, today) for p in profiles)
    # 双报到: Party members whose branch is not in the town they live in.
    away = [
        p
        for p in profiles
        if p.branch is not None and not p.branch.name.startswith(p.community.name)
    ]
    assert len(away) >= 10
    assert db.session.scalar(select(func.count()).select_from(TeamMembership)) >= 30


def test_seed_if_empty_leaves_a_used_database_alone(runner, make_user):
    make_user()
    result = runner.invoke(args=["seed", "demo", "--if-empty"])
    assert "skipped" in result.output
    assert counts()[0] == 0


def test_every_demo_account_can_log_in(runner, app):
    from tests.conftest import Auth

    runner.invoke(args=["seed", "demo"])
    for account in DEMO_ACCOUNTS:
        client = app.test_client()
        response = Auth(client).login(account.phone, app.config["DEMO_PASSWORD"])
        assert response.status_code == 302, account.label
