"""Registered volunteers per community and branch (tally_registrations): kept in step with
every consent, move, Party change and deletion in the same transaction, equal to a fresh
count after any sequence of changes, and checked by `tallies verify`."""

from __future__ import annotations

from datetime import date, datetime

from concurrency import run_concurrently
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from volunteer_app import tallies
from volunteer_app.extensions import db
from volunteer_app.models import (
    OrgUnit,
    PoliticalStatus,
    TallyRegistration,
    User,
    VolunteerProfile,
)
from volunteer_app.services import registrations, volunteers
from volunteer_app.tallies import Period
from volunteer_app.timeutil import from_local, local_today, utcnow

THIS_YEAR = local_today().year
YEAR = Period(THIS_YEAR * 100 + 1, THIS_YEAR * 100 + 12, "year")


def counted(dim: str, node, period: Period = YEAR, political: str | None = None):
    """(registered, new in the period) at the node, as the tallies show them."""
    f = tallies.figures(dim, [node.id], period, political=political)[node.id]
    return f.registered, f.new_registrations


def consent(user: User) -> None:
    volunteers.give_consent(user, privacy=True, sensitive=True, now=utcnow(), today=local_today())


def start_profile(user: User, community) -> None:
    """A profile filled up to (not including) consent."""
    profile = volunteers.profile_of(user)
    profile.birth_date = date(1990, 1, 1)
    volunteers.set_residence(user, community, now=utcnow())


def test_a_volunteer_counts_as_registered_from_consent_until_deletion(app, tree, make_user):
    user = make_user()
    start_profile(user, tree.community_a1)
    db.session.commit()
    assert counted("area", tree.town_a) == (0, 0)  # not yet consented

    consent(user)
    db.session.commit()
    assert counted("area", tree.community_a1) == (1, 1)
    assert counted("area", tree.town_a) == (1, 1)
    assert counted("area", tree.district) == (1, 1)

    volunteers.delete_account(user, now=utcnow())
    db.session.commit()
    assert counted("area", tree.district) == (0, 0)
    assert registrations.verify() == []


def test_a_move_takes_the_registration_to_the_new_community(app, tree, make_volunteer):
    user = make_volunteer(tree.community_a1)
    assert counted("area", tree.town_a) == (1, 1)
    volunteers.set_residence(user, tree.community_b1, now=utcnow())
    db.session.commit()
    assert counted("area", tree.town_a) == (0, 0)
    assert counted("area", tree.town_b) == (1, 1)
    assert counted("area", tree.district) == (1, 1)
    assert registrations.verify() == []


def test_joining_and_leaving_the_party_moves_the_branch_count_and_the_political_filter(
    app, tree, make_volunteer
):
    user = make_volunteer(tree.community_a1)
    member = PoliticalStatus.CPC_MEMBER.value
    assert counted("party", tree.party_root) == (0, 0)
    volunteers.set_politics(user, PoliticalStatus.CPC_MEMBER, tree.branch, now=utcnow())
    db.session.commit()
    assert counted("party", tree.committee) == (1, 1)
    assert counted("area", tree.town_a, political=member) == (1, 1)

    volunteers.set_politics(user, PoliticalStatus.MASSES, None, now=utcnow())
    db.session.commit()
    assert counted("party", tree.party_root) == (0, 0)
    assert counted("area", tree.town_a, political=member) == (0, 0)
    assert counted("area", tree.town_a) == (1, 1)
    assert registrations.verify() == []


def test_new_registrations_count_in_the_local_month_the_account_was_created(
    app, tree, make_volunteer
):
    user = make_volunteer(tree.community_a1)
    # 2026-03-01 00:30 in Shanghai is still February in UTC.
    user.created_at = from_local(datetime(2026, 3, 1, 0, 30))
    db.session.commit()
    february = Period(202602, 202602, "month")
    march = Period(202603, 202603, "month")
    assert counted("area", tree.town_a, february) == (1, 0)
    assert counted("area", tree.town_a, march) == (1, 1)
    assert registrations.verify() == []


def test_an_account_deleted_outright_leaves_no_count_behind(app, tree, make_volunteer):
    user = make_volunteer(tree.community_a1)
    assert counted("area", tree.district) == (1, 1)
    db.session.delete(db.session.get(VolunteerProfile, user.id))
    db.session.delete(user)
    db.session.commit()
    assert counted("area", tree.district) == (0, 0)
    assert registrations.verify() == []


def test_tallies_verify_finds_a_drifted_counter_and_rebuild_mends_it(app, tree, make_volunteer):
    make_volunteer(tree.community_a1)
    make_volunteer(tree.community_a2)
    db.session.execute(update(TallyRegistration).values(people=TallyRegistration.people + 2))
    db.session.commit()
    problems = tallies.verify_tallies()
    assert problems and all("registrations" in p for p in problems)
    tallies.rebuild_tallies()
    db.session.commit()
    assert tallies.verify_tallies() == []
    assert counted("area", tree.town_a) == (2, 2)


def test_concurrent_consents_in_one_community_are_all_counted(app, tree, make_user):
    users = []
    for _ in range(8):
        user = make_user()
        start_profile(user, tree.community_a1)
        users.append(user.id)
    db.session.commit()

    def job_for(user_id):
        def job():
            consent(db.session.get(User, user_id))
            return "ok"

        return job

    results, errors = run_concurrently(app, [job_for(uid) for uid in users])
    assert errors == []
    assert results == ["ok"] * 8
    assert counted("area", tree.community_a1) == (8, 8)
    assert registrations.verify() == []


# Random sequences of changes to a few volunteers: after each, the counters equal a fresh
# count (what `tallies verify` checks) and the figures equal a brute-force count over every
# profile in the database (hypothesis keeps the database between examples; so does the count).
changes = st.lists(
    st.tuples(
        st.integers(0, 3),  # volunteer
        st.sampled_from(["move", "party", "masses", "consent", "delete", "recreate"]),
        st.integers(0, 2),  # which community
    ),
    max_size=12,
)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=changes)
def test_counters_equal_a_fresh_count_after_any_sequence_of_changes(
    app, tree, make_user, make_volunteer, steps
):
    communities = [tree.community_a1, tree.community_a2, tree.community_b1]
    people = [make_volunteer(communities[i % 3]) for i in range(4)]
    for who, change, where in steps:
        user = people[who]
        if change == "move" and user.deleted_at is None:
            volunteers.set_residence(user, communities[where], now=utcnow())
        elif change == "party" and user.deleted_at is None:
            volunteers.set_politics(user, PoliticalStatus.CPC_MEMBER, tree.branch, now=utcnow())
        elif change == "masses" and user.deleted_at is None:
            volunteers.set_politics(user, PoliticalStatus.MASSES, None, now=utcnow())
        elif change == "consent":
            volunteers.profile_of(user).consented_at = None if where == 0 else utcnow()
        elif change == "delete" and user.deleted_at is None:
            volunteers.delete_account(user, now=utcnow())
        elif change == "recreate":
            user.created_at = from_local(datetime(THIS_YEAR - (where == 0), 6, 1))
        db.session.commit()
        assert registrations.verify() == []
    for dim, nodes in (
        ("area", [tree.district, tree.town_a, tree.town_b, *communities]),
        ("party", [tree.party_root, tree.committee, tree.branch]),
    ):
        column = VolunteerProfile.community_id if dim == "area" else VolunteerProfile.branch_id
        figures = tallies.figures(dim, [n.id for n in nodes], YEAR)
        rows = db.session.execute(
            select(column, User.created_at)
            .join(User, User.id == VolunteerProfile.user_id)
            .where(VolunteerProfile.consented_at.is_not(None), User.deleted_at.is_(None))
        ).all()
        start = from_local(datetime(THIS_YEAR, 1, 1))
        end = from_local(datetime(THIS_YEAR + 1, 1, 1))
        for node in nodes:
            below = [
                created
                for leaf, created in rows
                if leaf is not None and node.id in db.session.get(OrgUnit, leaf).ancestor_ids
            ]
            new = sum(1 for created in below if start <= created < end)
            found = figures[node.id]
            assert (found.registered, found.new_registrations) == (len(below), new), node.name
