"""The organiser's workspace (/organise/): upcoming events and their fill rates, today's
check-in, hours to approve, team requests, newcomers and cancellations — all within the
organiser's own scope, in a number of queries that does not grow with the data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event

from tests.test_rosters import QueryCounter, sign_up
from volunteer_app.extensions import db
from volunteer_app.models import (
    Attendance,
    MembershipStatus,
    OrgLevel,
    RecordKind,
    RecordStatus,
    Role,
    ScanMethod,
    ServiceRecord,
    SignupStatus,
    TeamMembership,
)
from volunteer_app.organise import dashboard
from volunteer_app.services import orgs
from volunteer_app.timeutil import local_today, utcnow


def text(response) -> str:
    return response.get_data(as_text=True)


def section(page: str, testid: str) -> str:
    """The HTML of the element with this data-testid, up to the end of its section."""
    start = page.index(f'data-testid="{testid}"')
    return page[start : page.index("</section>", start)]


@pytest.fixture
def youth(login_as, tree):
    return login_as(Role.ORGANISER, tree.youth_league)


@pytest.fixture
def women(login_as, tree):
    return login_as(Role.ORGANISER, tree.womens_federation)


def pending_record(user, host, days_ago: int, minutes: int = 60) -> ServiceRecord:
    record = ServiceRecord(
        user_id=user.id,
        kind=RecordKind.MANUAL,
        status=RecordStatus.PENDING,
        activity=f"护河{days_ago}",
        service_date=local_today() - timedelta(days=days_ago),
        minutes=minutes,
        host_id=host.id,
    )
    db.session.add(record)
    return record


def test_only_organisers_open_the_workspace_and_the_menu_links_it(youth, login_as, client):
    client_yl, _user = youth
    assert client_yl.get("/organise/").status_code == 200
    assert 'href="/organise/"' in text(client_yl.get("/"))
    volunteer, _v = login_as(None)
    assert volunteer.get("/organise/").status_code == 403
    assert 'href="/organise/"' not in text(volunteer.get("/"))
    lead, _l = login_as(Role.LEAD)
    assert lead.get("/organise/").status_code == 403
    assert client.get("/organise/").status_code == 302  # to the login page


def test_upcoming_events_show_their_fill_rates_and_the_shifts_below_half(
    youth, women, tree, make_event, make_volunteer
):
    client, _user = youth
    low_event, low_shift = make_event(capacity=10, host=tree.youth_league, title="青春护河")
    _full_event, full_shift = make_event(capacity=2, host=tree.youth_league, title="网格巡查")
    make_event(host=tree.womens_federation, title="巾帼敬老")
    for _i in range(3):
        sign_up(make_volunteer(commit=False), low_shift)
    for _i in range(2):
        sign_up(make_volunteer(commit=False), full_shift)
    db.session.commit()
    page = text(client.get("/organise/"))
    upcoming = section(page, "upcoming")
    assert "青春护河" in upcoming and "网格巡查" in upcoming and "巾帼敬老" not in upcoming
    assert "3/10 (30%)" in upcoming and "2/2 (100%)" in upcoming
    assert f"/organise/rosters/events/{low_event.id}" in upcoming
    low = section(page, "low-shifts")
    assert f'data-shift="{low_shift.id}"' in low and f'data-shift="{full_shift.id}"' not in low
    other = text(women[0].get("/organise/"))
    assert "巾帼敬老" in other and "青春护河" not in other and "网格巡查" not in other


def test_todays_shifts_show_live_check_in_progress(youth, tree, make_event, make_volunteer):
    client, _user = youth
    # Overlaps today whatever the hour: started ten minutes ago, half an hour long.
    _event, shift = make_event(
        host=tree.youth_league, starts_in=timedelta(minutes=-10), hours=0.5, title="晨间值守"
    )
    _later, tomorrow = make_event(host=tree.youth_league, starts_in=timedelta(days=2))
    people = [make_volunteer(commit=False) for _i in range(4)]
    signups = [
        sign_up(people[0], shift, SignupStatus.ATTENDED),
        sign_up(people[1], shift, SignupStatus.ATTENDED),
        sign_up(people[2], shift, SignupStatus.CONFIRMED),
        sign_up(people[3], shift, SignupStatus.WAITLISTED),
    ]
    for signup, out in ((signups[0], None), (signups[1], shift.starts_at + timedelta(minutes=5))):
        db.session.add(
            Attendance(
                signup_id=signup.id,
                shift_id=shift.id,
                user_id=signup.user_id,
                checked_in_at=shift.starts_at,
                checked_out_at=out,
                in_method=ScanMethod.SCANNER,
            )
        )
    db.session.commit()
    page = text(client.get("/organise/"))
    today = section(page, "today")
    row = today[today.index(f'data-shift="{shift.id}"') :]
    row = row[: row.index("</tr>")]
    for name, value in (("expected", 3), ("in", 1), ("out", 1), ("missing", 1)):
        assert f'data-count="{name}">{value}<' in row, name
    assert f'data-shift="{tomorrow.id}"' not in today
    assert f"/organise/rosters/shifts/{shift.id}/print" in row


def test_hours_to_approve_and_the_overdue_ones(youth, women, tree, make_volunteer, app):
    client, _user = youth
    volunteer = make_volunteer()
    pending_record(volunteer, tree.youth_league, days_ago=30)  # overdue
    pending_record(volunteer, tree.youth_league, days_ago=1)
    pending_record(volunteer, tree.womens_federation, days_ago=30)  # not ours
    db.session.commit()
    page = text(client.get("/organise/"))
    assert 'data-testid="pending-count">2<' in page
    assert 'data-testid="overdue-count" data-count="1"' in page
    oldest = section(page, "oldest-pending")
    assert oldest.count("<li>") == 2 and oldest.count("text-bg-danger") == 1
    if "hours.pending" in app.view_functions:
        assert 'data-testid="hours-pending-link"' in page
    ws = dashboard.workspace(women[1], now=utcnow(), today=local_today())
    assert (ws.pending_total, ws.pending_overdue) == (1, 1)


def test_team_requests_newcomers_and_cancellations_in_scope(
    youth, women, tree, make_event, make_volunteer
):
    client, _user = youth
    ours = orgs.create_node("青年突击队", OrgLevel.TEAM, tree.youth_league)
    theirs = orgs.create_node("巾帼志愿服务队", OrgLevel.TEAM, tree.womens_federation)
    asking, joined, elsewhere = make_volunteer(), make_volunteer(), make_volunteer()
    db.session.add_all(
        [
            TeamMembership(user_id=asking.id, team_id=ours.id),
            TeamMembership(user_id=elsewhere.id, team_id=theirs.id),
            TeamMembership(user_id=joined.id, team_id=ours.id, status=MembershipStatus.APPROVED),
        ]
    )
    _event, shift = make_event(host=tree.youth_league, title="青春护河")
    _other, other_shift = make_event(host=tree.womens_federation, title="巾帼敬老")
    recent = sign_up(make_volunteer(commit=False), shift, SignupStatus.CANCELLED)
    recent.cancel_reason = "临时加班"
    old = sign_up(make_volunteer(commit=False), shift, SignupStatus.CANCELLED)
    old.cancelled_at = utcnow() - timedelta(days=10)
    sign_up(make_volunteer(commit=False), other_shift, SignupStatus.CANCELLED)
    db.session.commit()

    page = text(client.get("/organise/"))
    requests = section(page, "team-requests")
    assert "青年突击队" in requests and "巾帼志愿服务队" not in requests
    assert 'data-testid="requests-count">1<' in page
    newcomers = section(page, "new-volunteers")
    assert f"/volunteers/{joined.id}" in newcomers  # an approved member of our team
    assert f"/volunteers/{elsewhere.id}" not in newcomers
    cancellations = section(page, "cancellations")
    assert "临时加班" in cancellations and cancellations.count("<li>") == 1
    assert "巾帼敬老" not in cancellations
    # Links: answering requests, granting leads and organisers, the unit rosters.
    assert "/volunteers/team-requests" in page
    assert 'data-testid="grants-link"' in page and "/admin/roles" in page
    assert f"/organise/rosters/nodes/{ours.id}" in section(page, "node-links")
    assert f"/organise/rosters/nodes/{theirs.id}" not in page

    ws = dashboard.workspace(women[1], now=utcnow(), today=local_today())
    assert ws.team_requests_total == 1 and ws.team_requests[0].team_id == theirs.id
    assert ws.cancellations_total == 1


def test_the_workspace_needs_the_same_queries_however_much_there_is(
    youth, tree, make_event, make_volunteer
):
    client, user = youth
    team = orgs.create_node("青年突击队", OrgLevel.TEAM, tree.youth_league)

    def add_data(n: int) -> None:
        for i in range(n):
            _event, shift = make_event(
                host=tree.youth_league,
                capacity=10,
                starts_in=timedelta(minutes=-10 if i % 2 else 60 * 24 * (i + 1)),
                hours=0.5,
                title=f"活动{i}",
            )
            for j in range(3):
                volunteer = make_volunteer(commit=False)
                status = SignupStatus.CANCELLED if j == 2 else SignupStatus.CONFIRMED
                sign_up(volunteer, shift, status)
                db.session.add(TeamMembership(user_id=volunteer.id, team_id=team.id))
                pending_record(volunteer, tree.youth_league, days_ago=20 * j)
        db.session.commit()

    def queries() -> int:
        client.get("/organise/")  # warm
        with QueryCounter(db.engine) as counter:
            assert client.get("/organise/").status_code == 200
        return counter.count

    add_data(2)
    few = queries()
    add_data(12)
    many = queries()
    assert many == few, (few, many)
    assert many <= 25, many
    # The lists stop at a few rows; the totals count everything.
    ws = dashboard.workspace(user, now=utcnow(), today=local_today())
    limit = dashboard.WORKSPACE_LIMIT
    assert (len(ws.upcoming), ws.upcoming_total) == (limit, 14)
    assert (len(ws.low_shifts), ws.low_shifts_total) == (7, 7)
    assert ws.today_total == 7 and len(ws.today) == 7
    assert (len(ws.team_requests), ws.team_requests_total) == (limit, 42)
    assert (len(ws.cancellations), ws.cancellations_total) == (limit, 14)
    assert ws.pending_total == 42 and ws.pending_overdue == 28


def test_a_listener_counts_queries():
    """The counter used above counts every statement sent (guards against a silent zero)."""
    from sqlalchemy import create_engine, text

    engine = create_engine("sqlite://")
    with QueryCounter(engine) as counter, engine.connect() as conn:
        conn.execute(text("select 1"))
        conn.execute(text("select 2"))
    assert counter.count == 2
    assert not sa_event.contains(engine, "before_cursor_execute", counter)
