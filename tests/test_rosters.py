"""Rosters, sign-in sheets, paper times, exports and messages: every route kept to the
caller's scope, phone numbers masked unless an organiser asks (audited), a bounded number
of queries however large the roster, and every export and message in the audit log."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from tests.conftest import Auth, Tree
from volunteer_app import checkin
from volunteer_app.extensions import db
from volunteer_app.models import (
    Attendance,
    AuditLog,
    MembershipStatus,
    Notification,
    OrgLevel,
    RecordKind,
    RecordStatus,
    Role,
    ScanMethod,
    ServiceRecord,
    ShiftLead,
    Signup,
    SignupStatus,
    TeamMembership,
    VolunteerProfile,
)
from volunteer_app.organise import dashboard, members, paper, rosters
from volunteer_app.organise.rows import PER_PAGE, mask_phone
from volunteer_app.services import ServiceError, messages, orgs
from volunteer_app.timeutil import local_today, to_local, utcnow


def text(response) -> str:
    return response.get_data(as_text=True)


def post(client, path: str, data: dict | None = None, **kwargs):
    return Auth(client).post(path, data, **kwargs)


def audits(action: str) -> list[AuditLog]:
    return list(
        db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
    )


def csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def xlsx_cells(body: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True))


def sign_up(user, shift, status: SignupStatus = SignupStatus.CONFIRMED, minutes: int = 0):
    """A sign-up made directly, keeping the shift's counters right."""
    when = utcnow() - timedelta(days=1) + timedelta(minutes=minutes)
    signup = Signup(
        shift_id=shift.id, user_id=user.id, status=status, queued_at=when, created_at=when
    )
    if status in (SignupStatus.CONFIRMED, SignupStatus.ATTENDED):
        shift.taken += 1
    elif status is SignupStatus.WAITLISTED:
        shift.waitlisted += 1
    elif status is SignupStatus.CANCELLED:
        signup.cancelled_at = utcnow() - timedelta(hours=1)
        signup.cancelled_by_id = user.id
    db.session.add(signup)
    db.session.flush()
    return signup


@dataclass
class Scene:
    tree: Tree
    youth: object  # (client, user) of the Youth League organiser
    women: object  # (client, user) of the Women's Federation organiser
    event: object
    shift: object
    other_event: object
    other_shift: object
    people: dict
    signups: dict
    team: object

    @property
    def yl(self):
        return self.youth[0]

    @property
    def wf(self):
        return self.women[0]


@pytest.fixture
def scene(app, tree, login_as, make_volunteer, make_event) -> Scene:
    """A Youth League event (one shift, volunteers in every status, a team member, an
    attendance) and a Women's Federation event, each organiser logged in."""
    youth = login_as(Role.ORGANISER, tree.youth_league)
    women = login_as(Role.ORGANISER, tree.womens_federation)
    event, shift = make_event(
        capacity=3,
        waitlist=5,
        host=tree.youth_league,
        title="青春护河",
        starts_in=timedelta(hours=-3),
    )
    other_event, other_shift = make_event(host=tree.womens_federation, title="巾帼敬老")
    team = orgs.create_node("青年突击队", OrgLevel.TEAM, tree.youth_league)
    people = {
        "ann": make_volunteer(tree.community_a1, party=True),
        "bob": make_volunteer(tree.community_a2),
        "cat": make_volunteer(tree.community_b1),
        "dan": make_volunteer(tree.community_a1),
        "eve": make_volunteer(tree.community_a1),
        "fay": make_volunteer(tree.community_a2),
        "gus": make_volunteer(tree.community_b1),
    }
    db.session.add(
        TeamMembership(user_id=people["ann"].id, team_id=team.id, status=MembershipStatus.APPROVED)
    )
    statuses = {
        "ann": SignupStatus.ATTENDED,
        "bob": SignupStatus.CONFIRMED,
        "cat": SignupStatus.NO_SHOW,
        "dan": SignupStatus.WAITLISTED,
        "eve": SignupStatus.WAITLISTED,
        "fay": SignupStatus.CANCELLED,
    }
    signups = {
        name: sign_up(people[name], shift, status, minutes=i)
        for i, (name, status) in enumerate(statuses.items())
    }
    # Ann checked in at the start and out two hours later.
    db.session.add(
        Attendance(
            signup_id=signups["ann"].id,
            shift_id=shift.id,
            user_id=people["ann"].id,
            checked_in_at=shift.starts_at,
            checked_out_at=shift.starts_at + timedelta(hours=2),
            in_method=ScanMethod.LEAD_SCAN,
        )
    )
    sign_up(people["gus"], other_shift)
    db.session.commit()
    return Scene(tree, youth, women, event, shift, other_event, other_shift, people, signups, team)


def roster_urls(s: Scene, shift, event, node) -> list[tuple[str, str]]:
    """(method, URL) of every roster, export, print and message route for these objects."""
    return [
        ("GET", f"/organise/rosters/shifts/{shift.id}"),
        ("GET", f"/organise/rosters/shifts/{shift.id}?sort=name&status=confirmed&page=2"),
        ("POST", f"/organise/rosters/shifts/{shift.id}/phones"),
        ("GET", f"/organise/rosters/shifts/{shift.id}/print"),
        ("POST", f"/organise/rosters/shifts/{shift.id}/paper"),
        ("GET", f"/organise/rosters/shifts/{shift.id}/export?format=csv"),
        ("GET", f"/organise/rosters/shifts/{shift.id}/export?format=xlsx"),
        ("GET", f"/organise/rosters/events/{event.id}"),
        ("POST", f"/organise/rosters/events/{event.id}/phones"),
        ("GET", f"/organise/rosters/events/{event.id}/print"),
        ("GET", f"/organise/rosters/events/{event.id}/export?format=csv"),
        ("GET", f"/organise/rosters/events/{event.id}/export?format=xlsx"),
        ("GET", f"/organise/rosters/nodes/{node.id}"),
        ("POST", f"/organise/rosters/nodes/{node.id}/phones"),
        ("GET", f"/organise/rosters/nodes/{node.id}/export?format=csv"),
        ("GET", f"/organise/messages/shifts/{shift.id}"),
        ("POST", f"/organise/messages/shifts/{shift.id}"),
        ("GET", f"/organise/messages/events/{event.id}"),
        ("POST", f"/organise/messages/events/{event.id}"),
    ]


def _open(client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    return post(client, url, {"text": "明早改在北门集合", "preview": "y"})


# ---------------------------------------------------------------- scope


def test_another_organisers_rosters_exports_and_messages_answer_404(scene):
    """A Women's Federation organiser gets 404 on every Youth League roster, print view,
    export, reveal, paper entry and message URL (and the other way round); nothing about
    them is exported or audited."""
    s = scene
    theirs = roster_urls(s, s.shift, s.event, s.tree.youth_league)
    for method, url in theirs:
        assert _open(s.wf, method, url).status_code == 404, f"{method} {url}"
    for method, url in roster_urls(s, s.other_shift, s.other_event, s.tree.womens_federation):
        assert _open(s.yl, method, url).status_code == 404, f"{method} {url}"
    assert audits("export.roster") == [] and audits("pii.roster_phones") == []
    assert audits("message.send") == []
    # Their own answer 200 (a POST of the message form previews it).
    for method, url in roster_urls(s, s.shift, s.event, s.tree.youth_league):
        if url.endswith("/paper"):
            continue  # an empty paper form is refused with a flash and a redirect
        assert _open(s.yl, method, url).status_code == 200, f"{method} {url}"


def test_volunteers_and_unassigned_leads_get_no_roster(scene, login_as, make_user):
    s = scene
    volunteer, _user = login_as(None)
    assert volunteer.get(f"/organise/rosters/shifts/{s.shift.id}").status_code == 403
    assert volunteer.get("/organise/").status_code == 403
    other_lead, _lead = login_as(Role.LEAD, s.tree.community_a1)
    assert other_lead.get(f"/organise/rosters/shifts/{s.shift.id}").status_code == 404
    assert other_lead.get(f"/organise/rosters/shifts/{s.shift.id}/print").status_code == 404
    # Leads never reach the organisers' tools.
    assert other_lead.get(f"/organise/rosters/events/{s.event.id}").status_code == 403
    assert other_lead.get(f"/organise/rosters/shifts/{s.shift.id}/export").status_code == 403


def test_the_assigned_lead_sees_the_shift_roster_and_sheet_but_not_the_organisers_tools(
    scene, login_as
):
    s = scene
    client, lead = login_as(Role.LEAD, s.tree.community_a1)
    db.session.add(ShiftLead(shift_id=s.shift.id, user_id=lead.id))
    db.session.commit()
    page = text(client.get(f"/organise/rosters/shifts/{s.shift.id}"))
    assert 'data-testid="roster"' in page
    assert 'data-testid="reveal-form"' not in page and 'data-testid="export-xlsx"' not in page
    assert client.get(f"/organise/rosters/shifts/{s.shift.id}/print").status_code == 200
    assert post(client, f"/organise/rosters/shifts/{s.shift.id}/phones").status_code == 403
    assert client.get(f"/organise/messages/shifts/{s.shift.id}").status_code == 403


def test_exports_and_lists_leave_out_other_organisers_volunteers(scene, make_volunteer):
    s = scene
    # The Women's Federation's own team member.
    their_team = orgs.create_node("巾帼志愿服务队", OrgLevel.TEAM, s.tree.womens_federation)
    theirs = make_volunteer(s.tree.community_b1)
    db.session.add(
        TeamMembership(user_id=theirs.id, team_id=their_team.id, status=MembershipStatus.APPROVED)
    )
    db.session.commit()
    body = s.yl.get(f"/organise/rosters/nodes/{s.tree.youth_league.id}/export?format=csv").data
    names = {row[1] for row in csv_rows(body)[1:]}
    ann = db.session.get(VolunteerProfile, s.people["ann"].id).real_name
    assert ann in names
    assert db.session.get(VolunteerProfile, theirs.id).real_name not in names
    page = text(s.yl.get("/organise/"))
    assert "青春护河" in page and "巾帼敬老" not in page
    page = text(s.wf.get("/organise/"))
    assert "巾帼敬老" in page and "青春护河" not in page


# ---------------------------------------------------------------- the roster's columns


def test_the_shift_roster_shows_every_column(scene):
    s = scene
    roster = rosters.shift_roster(s.shift, grace_minutes=0)
    by_user = {row.user_id: row for row in roster.rows}
    ann = by_user[s.people["ann"].id]
    assert ann.teams == ["青年突击队"]
    assert ann.branch == "东关社区党支部" and ann.community == "东关社区"
    assert ann.political_status.is_party_member
    assert ann.checked_in_at == s.shift.starts_at
    assert ann.credited_minutes == 120
    assert by_user[s.people["cat"].id].no_show
    assert by_user[s.people["dan"].id].waitlist_position == 1
    assert by_user[s.people["eve"].id].waitlist_position == 2
    assert by_user[s.people["fay"].id].status is SignupStatus.CANCELLED
    assert roster.total == 6
    assert roster.status_counts == {
        "attended": 1,
        "confirmed": 1,
        "no_show": 1,
        "waitlisted": 2,
        "cancelled": 1,
    }
    # The waitlist position stays the one in the whole line when filtering.
    only_eve = rosters.shift_roster(
        s.shift, rosters.SignupFilter(statuses=(SignupStatus.WAITLISTED,), sort="signup")
    )
    assert [r.waitlist_position for r in only_eve.rows] == [1, 2]

    page = text(s.yl.get(f"/organise/rosters/shifts/{s.shift.id}"))
    assert "青年突击队" in page and "东关社区党支部" in page
    assert page.count('data-testid="position"') == 2
    assert 'data-testid="no-show"' in page
    assert ">2:00<" in page  # Ann's credited time
    # Paper times: offered for Bob (confirmed, no check-in) and Cat (marked absent) once
    # check-in has opened; not before the shift.
    assert page.count('data-testid="paper-times"') == 2
    future = text(s.wf.get(f"/organise/rosters/shifts/{s.other_shift.id}"))
    assert 'data-testid="roster"' in future and 'data-testid="paper-times"' not in future


def test_sort_filter_and_pages(scene, make_volunteer, tree):
    s = scene
    for i in range(110):
        sign_up(
            make_volunteer(tree.community_a2 if i % 2 else tree.community_a1, commit=False),
            s.shift,
            minutes=10 + i,
        )
    db.session.commit()
    full = rosters.shift_roster(s.shift)
    assert full.total == 116 and full.pages == 3 and len(full.rows) == PER_PAGE
    last = rosters.shift_roster(s.shift, page=3)
    assert len(last.rows) == 16 and last.first_number == 101
    west = rosters.shift_roster(s.shift, rosters.SignupFilter(community_id=tree.community_a2.id))
    assert west.total == 57  # 55 new ones, Bob and Fay (cancelled)
    assert {r.community for r in west.rows} == {"西关社区"}
    by_time = rosters.shift_roster(s.shift, rosters.SignupFilter(sort="signup"), per_page=None)
    times = [r.signed_up_at for r in by_time.rows]
    assert times == sorted(times)
    by_community = rosters.shift_roster(
        s.shift, rosters.SignupFilter(sort="community"), per_page=None
    )
    communities = [r.community for r in by_community.rows]
    assert communities == sorted(communities)
    by_name = rosters.shift_roster(s.shift, rosters.SignupFilter(sort="name"), per_page=None)
    names = [r.name for r in by_name.rows]
    assert sorted(names) == sorted(n for n in names) and len(names) == 116

    url = f"/organise/rosters/shifts/{s.shift.id}"
    page = text(s.yl.get(f"{url}?status=waitlisted"))
    assert page.count('data-status="waitlisted"') == 2 and 'data-status="confirmed"' not in page
    page = text(s.yl.get(f"{url}?page=3"))
    assert page.count("<tr data-signup=") == 16 and 'data-testid="pager"' in page
    page = text(s.yl.get(f"{url}?community={tree.community_a2.id}&sort=community&page=99"))
    assert page.count("<tr data-signup=") == 7  # the last page of 57


# ---------------------------------------------------------------- masking and revealing


def test_phones_are_masked_in_the_roster_the_print_view_and_every_export(scene):
    s = scene
    phones = [u.phone for u in s.people.values() if u is not s.people["gus"]]
    masked = [mask_phone(p) for p in phones]
    for url in (
        f"/organise/rosters/shifts/{s.shift.id}",
        f"/organise/rosters/events/{s.event.id}",
        f"/organise/rosters/nodes/{s.tree.youth_league.id}",
        f"/organise/rosters/shifts/{s.shift.id}/print",
        f"/organise/rosters/events/{s.event.id}/print",
        f"/organise/shifts/{s.shift.id}/roster",
    ):
        page = text(s.yl.get(url))
        assert not [p for p in phones if p in page], url
    page = text(s.yl.get(f"/organise/rosters/shifts/{s.shift.id}"))
    assert all(m in page for m in masked)
    for kind, ident in (("shifts", s.shift.id), ("events", s.event.id)):
        body = s.yl.get(f"/organise/rosters/{kind}/{ident}/export?format=csv").data
        flat = body.decode("utf-8-sig")
        assert not [p for p in phones if p in flat]
        assert all(m in flat for m in masked)
        cells = [
            str(c)
            for row in xlsx_cells(s.yl.get(f"/organise/rosters/{kind}/{ident}/export").data)
            for c in row
        ]
        assert not [p for p in phones if any(p in c for c in cells)]
    body = s.yl.get(f"/organise/rosters/nodes/{s.tree.youth_league.id}/export?format=csv").data
    assert s.people["ann"].phone not in body.decode("utf-8-sig")


def test_showing_full_numbers_is_an_audited_post_for_organisers(scene):
    s = scene
    ann = s.people["ann"]
    response = post(s.yl, f"/organise/rosters/shifts/{s.shift.id}/phones?status=attended")
    page = text(response)
    assert ann.phone in page and 'data-testid="phones-shown"' in page
    assert s.people["bob"].phone not in page  # the filter is kept: attended only
    (row,) = audits("pii.roster_phones")
    assert row.actor_id == s.youth[1].id and row.object_type == "Shift"
    assert row.detail["scope"] == {"kind": "shift", "shift_id": s.shift.id, "event_id": s.event.id}
    assert row.detail["rows"] == 1
    # A GET never shows them, and the reveal needs the CSRF token.
    assert ann.phone not in text(s.yl.get(f"/organise/rosters/shifts/{s.shift.id}"))
    assert s.yl.post(f"/organise/rosters/shifts/{s.shift.id}/phones").status_code == 400
    post(s.yl, f"/organise/rosters/events/{s.event.id}/phones")
    post(s.yl, f"/organise/rosters/nodes/{s.tree.youth_league.id}/phones")
    kinds = [r.detail["scope"]["kind"] for r in audits("pii.roster_phones")]
    assert kinds == ["shift", "event", "node"]


# ---------------------------------------------------------------- the sign-in sheet


def test_the_print_view_is_an_a4_sign_in_sheet_with_masked_numbers(scene):
    s = scene
    lead = s.people["gus"]
    db.session.add(ShiftLead(shift_id=s.shift.id, user_id=lead.id))
    db.session.commit()
    page = text(s.yl.get(f"/organise/rosters/shifts/{s.shift.id}/print"))
    assert 'data-testid="sheet-table"' in page and "data-print" in page
    assert "/static/css/sheet.css" in page
    head = page[page.index('data-testid="sheet-table"') : page.index("</thead>")]
    for column in (  # 签到表: the columns the paper sheet needs, in Chinese
        "序号",
        "姓名",
        "手机号",
        "签到时间",
        "签退时间",
        "签名",
    ):
        assert column in head or column in page
    # The expected volunteers only: attended Ann and confirmed Bob.
    assert page.count("<tr data-signup=") == 2
    assert mask_phone(s.people["bob"].phone) in page
    assert not [u.phone for u in s.people.values() if u.phone in page]
    assert "青春护河" in page and s.event.address in page and lead.display_name in page
    css = s.yl.get("/static/css/sheet.css")
    assert css.mimetype == "text/css" and b"size: A4" in css.data
    # The event's sheets: one per live shift.
    page = text(s.yl.get(f"/organise/rosters/events/{s.event.id}/print"))
    assert page.count('data-testid="sign-in-sheet"') == 1


# ---------------------------------------------------------------- paper times


def test_paper_times_make_an_attendance_for_a_volunteer_without_one(scene):
    s = scene
    bob = s.signups["bob"]
    start = to_local(s.shift.starts_at)
    data = {
        "signup": str(bob.id),
        "checked_in": start.strftime("%H:%M"),
        "checked_out": (start + timedelta(minutes=90)).strftime("%H:%M"),
    }
    response = post(s.yl, f"/organise/rosters/shifts/{s.shift.id}/paper", data)
    assert response.status_code == 302
    attendance = db.session.scalar(select(Attendance).where(Attendance.signup_id == bob.id))
    assert attendance.in_method is ScanMethod.PAPER and attendance.out_method is ScanMethod.PAPER
    on_the_minute = s.shift.starts_at.replace(second=0)  # the sheet has hours and minutes
    assert attendance.checked_in_at == on_the_minute
    assert attendance.checked_out_at == on_the_minute + timedelta(minutes=90)
    db.session.refresh(bob)
    assert bob.status is SignupStatus.ATTENDED
    (row,) = audits("attendance.paper")
    assert row.actor_id == s.youth[1].id and row.detail["signup"] == bob.id
    # Again: refused, the first times stand.
    post(s.yl, f"/organise/rosters/shifts/{s.shift.id}/paper", data)
    assert len(audits("attendance.paper")) == 1
    page = text(s.yl.get(f"/organise/rosters/shifts/{s.shift.id}"))
    assert 'data-testid="paper"' in page


def test_paper_times_for_a_no_show_hold_the_place_again(scene):
    s = scene
    cat = s.signups["cat"]
    taken = s.shift.taken
    when = s.shift.starts_at + timedelta(minutes=5)
    organiser = s.youth[1]
    paper.enter_paper_times(organiser, cat, when, None, now=utcnow())
    db.session.commit()
    db.session.refresh(s.shift)
    assert s.shift.taken == taken + 1
    assert db.session.get(Signup, cat.id).status is SignupStatus.ATTENDED


def test_paper_times_are_refused_with_every_reason(scene, make_user):
    s = scene
    organiser = s.youth[1]
    with pytest.raises(ServiceError) as refused:
        paper.enter_paper_times(
            organiser,
            s.signups["ann"],
            s.shift.starts_at + timedelta(days=3),
            s.shift.starts_at,
            now=utcnow(),
        )
    # Checked in already (attended, with an attendance), out before in, far, future.
    assert len(refused.value.messages) == 5
    with pytest.raises(ServiceError):
        paper.enter_paper_times(
            organiser, s.signups["dan"], s.shift.starts_at, None, now=utcnow()
        )  # waitlisted
    stranger = make_user(Role.LEAD, s.tree.community_a1)
    with pytest.raises(ServiceError):
        paper.enter_paper_times(stranger, s.signups["bob"], s.shift.starts_at, None, now=utcnow())
    assert audits("attendance.paper") == []


def test_the_assigned_lead_enters_paper_times(scene, login_as):
    s = scene
    client, lead = login_as(Role.LEAD, s.tree.community_a1)
    db.session.add(ShiftLead(shift_id=s.shift.id, user_id=lead.id))
    db.session.commit()
    start = to_local(s.shift.starts_at)
    response = post(
        client,
        f"/organise/rosters/shifts/{s.shift.id}/paper",
        {"signup": str(s.signups["bob"].id), "checked_in": start.strftime("%H:%M")},
    )
    assert response.status_code == 302
    (row,) = audits("attendance.paper")
    assert row.actor_id == lead.id
    # A sign-up of another shift is not found through this shift.
    other = post(
        client,
        f"/organise/rosters/shifts/{s.shift.id}/paper",
        {"signup": str(s.other_shift.id + 10_000), "checked_in": "08:00"},
    )
    assert other.status_code == 404


# ---------------------------------------------------------------- exports


def test_exports_are_audited_with_who_what_and_how_many(scene):
    s = scene
    response = s.yl.get(f"/organise/rosters/shifts/{s.shift.id}/export?format=csv&status=active")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = csv_rows(response.data)
    assert len(rows) == 1 + 5  # the header and everyone not cancelled
    response = s.yl.get(f"/organise/rosters/events/{s.event.id}/export?format=xlsx")
    assert response.mimetype.startswith("application/vnd.openxmlformats")
    cells = xlsx_cells(response.data)
    assert len(cells) == 1 + 6
    s.yl.get(f"/organise/rosters/nodes/{s.tree.youth_league.id}/export?format=xlsx")
    rows = audits("export.roster")
    assert [r.detail["scope"]["kind"] for r in rows] == ["shift", "event", "node"]
    assert [r.detail["rows"] for r in rows[:2]] == [5, 6]
    assert [r.detail["format"] for r in rows] == ["csv", "xlsx", "xlsx"]
    assert all(r.actor_id == s.youth[1].id for r in rows)
    assert rows[0].detail["filters"]["statuses"] == [
        "confirmed",
        "waitlisted",
        "attended",
        "no_show",
    ]
    assert s.yl.get(f"/organise/rosters/shifts/{s.shift.id}/export?format=pdf").status_code == 400


def test_exports_neutralise_formulas(scene):
    s = scene
    profile = db.session.get(VolunteerProfile, s.people["bob"].id)
    profile.real_name = "=HYPERLINK(1)"
    db.session.commit()
    rows = csv_rows(s.yl.get(f"/organise/rosters/shifts/{s.shift.id}/export?format=csv").data)
    assert [r[1] for r in rows if "HYPERLINK" in r[1]] == ["'=HYPERLINK(1)"]
    book = load_workbook(io.BytesIO(s.yl.get(f"/organise/rosters/shifts/{s.shift.id}/export").data))
    for row in book.active.iter_rows():
        for cell in row:
            assert cell.data_type != "f"
    assert "'=HYPERLINK(1)" in [c for r in xlsx_cells(book_bytes(book)) for c in r]


def book_bytes(book) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- node and team rosters


def test_a_team_roster_lists_its_members_with_their_approved_hours_this_year(scene, tree):
    s = scene
    ann = s.people["ann"]
    today = local_today()

    def record(minutes, status=RecordStatus.APPROVED, day=today):
        db.session.add(
            ServiceRecord(
                user_id=ann.id,
                kind=RecordKind.MANUAL,
                status=status,
                activity="护河",
                service_date=day,
                minutes=minutes,
            )
        )

    record(90)
    record(30)
    record(600, RecordStatus.PENDING)
    record(45, day=date(today.year - 1, 12, 31))
    db.session.commit()
    roster = members.node_roster(s.team, today.year)
    assert [(r.user_id, r.approved_minutes) for r in roster.rows] == [(ann.id, 120)]
    page = text(s.yl.get(f"/organise/rosters/nodes/{s.team.id}"))
    assert ">2:00<" in page and "青年突击队" in page
    rows = csv_rows(s.yl.get(f"/organise/rosters/nodes/{s.team.id}/export?format=csv").data)
    assert rows[1][-1] == "2.0"
    # A town's roster: everyone living there (and no one from elsewhere).
    town = members.node_roster(tree.town_a, today.year, per_page=None)
    assert {r.community for r in town.rows} <= {"东关社区", "西关社区"}
    assert s.people["cat"].id not in {r.user_id for r in town.rows}
    by_hours = members.node_roster(
        tree.town_a, today.year, members.NodeFilter(sort="hours"), per_page=None
    )
    assert by_hours.rows[0].user_id == ann.id


# ---------------------------------------------------------------- messages


def test_the_preview_counts_the_active_sign_ups_and_sending_twice_duplicates_nothing(scene):
    s = scene
    url = f"/organise/messages/shifts/{s.shift.id}"
    page = text(s.yl.get(url))
    active = db.session.scalar(
        select(func.count())
        .select_from(Signup)
        .where(Signup.shift_id == s.shift.id, Signup.status.in_(messages.RECIPIENT_STATUSES))
    )
    assert active == 4  # Ann (attended), Bob (confirmed), Dan and Eve (waitlisted)
    assert f'data-count="{active}"' in page
    page = text(post(s.yl, url, {"text": "明早改在北门集合", "preview": "y"}))
    assert 'data-testid="preview"' in page and "明早改在北门集合" in page
    message_id = page.split('name="message_id" type="hidden" value="')[1].split('"')[0]
    assert messages.valid_id(message_id)
    assert Notification.query.count() == 0  # a preview sends nothing

    data = {"text": "明早改在北门集合", "message_id": message_id, "send": "y"}
    assert post(s.yl, url, data).status_code == 302
    in_app = db.session.scalars(
        select(Notification).where(Notification.template == messages.TEMPLATE)
    ).all()
    recipients = {n.user_id for n in in_app}
    assert recipients == {s.people[n].id for n in ("ann", "bob", "dan", "eve")}
    assert all("明早改在北门集合" in n.body and "青春护河" in n.body for n in in_app)
    assert all(n.dedupe_key.startswith(f"msg:{message_id}:") for n in in_app)
    total = Notification.query.count()

    post(s.yl, url, data)  # the same message again (a double click, the back button)
    assert Notification.query.count() == total
    (logged,) = audits("message.send")
    assert logged.actor_id == s.youth[1].id
    assert logged.detail["text"] == "明早改在北门集合" and logged.detail["count"] == 4
    assert logged.detail["scope"]["kind"] == "shift"
    assert logged.detail["scope"]["shift_id"] == s.shift.id

    page = text(s.yl.get("/organise/messages"))
    assert "明早改在北门集合" in page and 'data-testid="sent-count">4<' in page
    assert "明早改在北门集合" not in text(s.wf.get("/organise/messages"))


def test_an_event_message_reaches_each_volunteer_once(scene, make_event, tree):
    s = scene
    # A second shift of the same event with Bob again and a new volunteer's cancelled sign-up.
    from volunteer_app.models import Shift

    second = Shift(
        event_id=s.event.id,
        post="宣传组",
        starts_at=s.shift.starts_at,
        ends_at=s.shift.ends_at,
        capacity=5,
    )
    db.session.add(second)
    db.session.flush()
    sign_up(s.people["bob"], second)
    db.session.commit()
    audience = messages.Audience(s.event)
    assert messages.recipient_count(audience) == 4
    sent = messages.send(s.youth[1], audience, "谢谢大家", messages.new_message_id(), now=utcnow())
    assert sent == 4
    with pytest.raises(ServiceError) as refused:
        messages.send(s.women[1], audience, " ", "bad", now=utcnow())
    assert len(refused.value.messages) == 3


def test_sending_needs_a_previewed_message_id(scene):
    s = scene
    url = f"/organise/messages/shifts/{s.shift.id}"
    page = text(post(s.yl, url, {"text": "你好", "send": "y", "message_id": "x"}))
    assert 'data-testid="form-errors"' in page
    assert Notification.query.count() == 0 and audits("message.send") == []


# ---------------------------------------------------------------- many sign-ups


class QueryCounter:
    def __init__(self, engine):
        self.engine = engine
        self.count = 0

    def __call__(self, *_args, **_kwargs):
        self.count += 1

    def __enter__(self):
        sa_event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_exc):
        sa_event.remove(self.engine, "before_cursor_execute", self)


def test_a_roster_of_500_renders_in_a_bounded_number_of_queries(
    scene, make_volunteer, tree, capsys
):
    s = scene
    communities = [tree.community_a1, tree.community_a2, tree.community_b1]
    for i in range(494):
        volunteer = make_volunteer(communities[i % 3], party=i % 7 == 0, commit=False)
        status = (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED, SignupStatus.ATTENDED)[i % 3]
        signup = sign_up(volunteer, s.shift, status, minutes=10 + i)
        if i % 2 == 0:
            db.session.add(
                TeamMembership(
                    user_id=volunteer.id, team_id=s.team.id, status=MembershipStatus.APPROVED
                )
            )
        if status is SignupStatus.ATTENDED:
            db.session.add(
                Attendance(
                    signup_id=signup.id,
                    shift_id=s.shift.id,
                    user_id=volunteer.id,
                    checked_in_at=s.shift.starts_at,
                    in_method=ScanMethod.SCANNER,
                )
            )
    db.session.commit()
    assert db.session.scalar(select(func.count()).where(Signup.shift_id == s.shift.id)) == 500

    pages = {
        "roster": f"/organise/rosters/shifts/{s.shift.id}?sort=name",
        "event roster": f"/organise/rosters/events/{s.event.id}?page=5",
        "print": f"/organise/rosters/shifts/{s.shift.id}/print",
        "export": f"/organise/rosters/shifts/{s.shift.id}/export?format=xlsx",
        "team": f"/organise/rosters/nodes/{s.team.id}",
        "old roster": f"/organise/shifts/{s.shift.id}/roster",
    }
    for url in pages.values():
        s.yl.get(url)  # warm up: templates compiled, caches filled
    counts, timings = {}, {}
    for name, url in pages.items():
        with QueryCounter(db.engine) as counter:
            started = time.perf_counter()
            response = s.yl.get(url)
            timings[name] = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, name
        counts[name] = counter.count
    page = text(s.yl.get(pages["roster"]))
    assert page.count("<tr data-signup=") == PER_PAGE
    with capsys.disabled():
        print(
            f"\nroster_500_ms: {timings['roster']:.0f} (queries: {counts['roster']}; "
            + ", ".join(f"{k} {counts[k]}q {timings[k]:.0f}ms" for k in pages if k != "roster")
            + f"; {db.engine.dialect.name})"
        )
    assert all(n <= 15 for n in counts.values()), counts


# ---------------------------------------------------------------- the workspace's counts


def test_grouped_checkin_counts_match_the_scanner_pages(scene):
    s = scene
    grouped = dashboard.checkin_counts([s.shift.id, s.other_shift.id])
    assert grouped[s.shift.id] == checkin.counts(s.shift)
    assert grouped[s.other_shift.id] == checkin.counts(s.other_shift)
    assert dashboard.checkin_counts([]) == {}


# ---------------------------------------------------------------- the audit log export


def test_admins_export_the_audit_log_and_the_export_is_audited(scene, login_as):
    s = scene
    s.yl.get(f"/organise/rosters/shifts/{s.shift.id}/export?format=csv")
    admin, admin_user = login_as(Role.ADMIN)
    page = text(admin.get("/admin/audit?action=export"))
    assert "/admin/audit/export" in page
    response = admin.get("/admin/audit/export?format=csv&action=export.roster")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = csv_rows(response.data)
    assert len(rows) == 2 and rows[1][2] == "export.roster"
    assert s.youth[1].phone not in response.data.decode("utf-8-sig")
    response = admin.get("/admin/audit/export?format=xlsx")
    assert len(xlsx_cells(response.data)) > 2
    logged = audits("export.audit")
    assert [r.detail["format"] for r in logged] == ["csv", "xlsx"]
    assert logged[0].detail["rows"] == 1 and logged[0].actor_id == admin_user.id
    assert logged[0].detail["filters"]["action"] == "export.roster"
    assert s.yl.get("/admin/audit/export?format=csv").status_code == 403
    assert admin.get("/admin/audit/export?format=pdf").status_code == 400


def test_odd_query_values_fall_back_instead_of_failing(scene):
    s = scene
    url = f"/organise/rosters/shifts/{s.shift.id}"
    for query in (
        "community=99999999999999999999999",
        "community=-1&status=nonsense&sort=drop",
        "page=-3",
        "page=abc",
        "page=99999999999999999999",
        "community=１２",
    ):
        response = s.yl.get(f"{url}?{query}")
        assert response.status_code == 200, query
        assert text(response).count("<tr data-signup=") == 6, query
    node = f"/organise/rosters/nodes/{s.tree.youth_league.id}?community=99999999999999&page=0"
    assert s.yl.get(node).status_code == 200
    big = post(
        s.yl,
        f"/organise/rosters/shifts/{s.shift.id}/paper",
        {"signup": "99999999999999999999", "checked_in": "09:00"},
    )
    assert big.status_code == 404


def test_links_carry_the_filters_but_not_url_building_options(scene):
    s = scene
    query = "status=confirmed&_external=1&_scheme=javascript&_anchor=x"
    page = text(s.yl.get(f"/organise/rosters/shifts/{s.shift.id}?{query}"))
    assert "javascript:" not in page and "http://" not in page.split("<body>")[1]
    assert f"/organise/rosters/shifts/{s.shift.id}/export?status=confirmed" in page
