"""Every route of the URL map, walked as every kind of caller, against an explicit table.

Seven callers: anonymous, a volunteer, a lead (assigned to the shift), an organiser of
town A, an organiser of town B, a Party branch secretary and an admin. Every route gets a
GET; every route that takes POST gets a POST carrying a valid CSRF token and nothing else
(a GET-only route must answer such a POST with 405). Every object a URL names (event,
shift, sign-up, record, request, grant, unit, volunteer, certificate, token) lives in
town A, so the town-B organiser must get 404 on every object URL that is not public.

A route missing from EXPECT fails the test by name, and so does an entry for a route
that no longer exists: the table is the record of who may open what. No answer may be
a 500 (the test client re-raises view exceptions under TESTING; they count as 500).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Auth, csrf_token
from volunteer_app import hours
from volunteer_app.extensions import db
from volunteer_app.models import (
    AuditLog,
    CorrectionRequest,
    Role,
    RoleGrant,
    ShiftLead,
    Signup,
    SignupStatus,
    User,
    VolunteerCard,
)
from volunteer_app.services import calendar, certificates, messages, qr
from volunteer_app.timeutil import local_today, utcnow

#: The four-eyes rule is walked in tests/test_national_record.py.
pytestmark = pytest.mark.config(FOUR_EYES_APPROVAL=False)

ROLES = ("anonymous", "volunteer", "lead", "organiser_a", "organiser_b", "secretary", "admin")
ORG_B = ROLES.index("organiser_b")

LOGIN = "302→login"  # a redirect to /auth/login
R = "302"  # a redirect elsewhere (a flash and back, or "you are logged in already")


def every(answer) -> tuple:
    return (answer,) * len(ROLES)


def signed_in(answer) -> tuple:
    """Anonymous callers go to the login page; everybody else gets `answer`."""
    return (LOGIN, *(answer,) * (len(ROLES) - 1))


PUBLIC = every(200)
NOT_ALLOWED = every(405)
MINE = signed_in(200)
#  columns:      anonymous, volunteer, lead, organiser_a, organiser_b, secretary, admin
ADMIN_ONLY = (LOGIN, 403, 403, 403, 403, 403, 200)
ORG_PAGE = (LOGIN, 403, 403, 200, 200, 403, 200)  # an organiser's list or form
ORG_OBJECT = (LOGIN, 403, 403, 200, 404, 403, 200)  # an object in organiser A's scope
ORG_OBJECT_POST_BAD = (LOGIN, 403, 403, 200, 404, 403, 200)  # form shown again with errors
ORG_OBJECT_POST_BACK = (LOGIN, 403, 403, R, 404, 403, R)  # refused with a flash, redirected
LEAD_PAGE = (LOGIN, 403, 200, 200, 200, 403, 200)
LEAD_OBJECT = (LOGIN, 403, 200, 200, 404, 403, 200)  # a shift the lead leads
TALLY_PAGE = (LOGIN, 403, 403, 200, 200, 200, 200)
API_LEAD_OBJECT = (401, 404, 200, 200, 404, 404, 200)
OWN_OBJECT_POST = (LOGIN, R, 404, 404, 404, 404, 404)  # the volunteer's own sign-up/record

EXPECT: dict[str, dict[str, tuple]] = {
    # ------------------------------------------------------------ main
    "main.index": {"GET": PUBLIC},
    "main.my_roles": {"GET": MINE},
    "main.set_language": {"GET": NOT_ALLOWED, "POST": every(R)},
    "main.toggle_large_text": {"GET": NOT_ALLOWED, "POST": every(R)},
    # ------------------------------------------------------------ auth
    "auth.login": {"GET": (200, *(R,) * 6), "POST": (200, *(R,) * 6)},
    "auth.logout": {"GET": NOT_ALLOWED, "POST": every(R)},
    "auth.register": {"GET": (200, *(R,) * 6), "POST": (200, *(R,) * 6)},
    "auth.register_verify": {"GET": every(R), "POST": every(R)},  # no phone in the session
    "auth.reset": {"GET": PUBLIC, "POST": PUBLIC},  # the form again, with its errors
    "auth.login_code": {"GET": (200, *(R,) * 6), "POST": (200, *(R,) * 6)},
    "auth.login_code_verify": {"GET": every(R), "POST": every(R)},  # no phone in the session
    "auth.reset_verify": {"GET": every(R), "POST": every(R)},
    "auth.change_password": {"GET": MINE, "POST": MINE},
    # ------------------------------------------------------------ admin
    "admin.orgs": {"GET": ORG_PAGE},
    "admin.org_detail": {
        "GET": ORG_OBJECT,
        # only an admin edits units; an admin's empty form names no operation: 400
        "POST": (LOGIN, 403, 403, 403, 404, 403, 400),
    },
    "admin.grants": {"GET": ORG_PAGE, "POST": ORG_PAGE},
    "admin.remove_grant": {"GET": NOT_ALLOWED, "POST": ORG_OBJECT_POST_BACK},
    "admin.audit": {"GET": ADMIN_ONLY},
    "admin.audit_export": {"GET": ADMIN_ONLY},  # an .xlsx of the searched rows
    # ------------------------------------------------------------ volunteers
    "volunteers.me": {"GET": MINE},
    # No ID number before the consent: callers without a profile are sent to /me/consent.
    "volunteers.step_identity": {
        "GET": (LOGIN, 200, R, R, R, R, R),
        "POST": (LOGIN, 200, R, R, R, R, R),
    },
    # The volunteer's profile is complete: an empty form keeps the stored answers (saved,
    # redirected); the others have none, so their empty form comes back with errors.
    "volunteers.step_residence": {"GET": MINE, "POST": (LOGIN, R, 200, 200, 200, 200, 200)},
    "volunteers.step_politics": {"GET": MINE, "POST": (LOGIN, R, 200, 200, 200, 200, 200)},
    "volunteers.step_details": {"GET": MINE, "POST": MINE},
    "volunteers.step_consent": {"GET": MINE, "POST": MINE},
    "volunteers.privacy": {"GET": PUBLIC},
    "volunteers.my_data": {"GET": MINE},
    "volunteers.delete_account": {"GET": MINE, "POST": MINE},
    "volunteers.my_teams": {"GET": MINE, "POST": signed_in(404)},  # no such team
    "volunteers.search": {"GET": TALLY_PAGE},
    "volunteers.detail": {"GET": (LOGIN, 403, 403, 200, 404, 200, 200)},
    "volunteers.reveal_phone": {
        "GET": NOT_ALLOWED,
        "POST": (LOGIN, 403, 403, 200, 404, 200, 200),
    },
    "volunteers.team_requests": {
        "GET": ORG_PAGE,
        "POST": (LOGIN, 403, 403, 404, 404, 403, 404),  # no such membership
    },
    "volunteers.import_roster": {"GET": ORG_PAGE, "POST": ORG_PAGE},
    "volunteers.import_template": {"GET": ORG_PAGE},
    "volunteers.import_confirm": {
        "GET": NOT_ALLOWED,
        "POST": (LOGIN, 403, 403, R, R, 403, R),  # nothing checked is waiting
    },
    # ------------------------------------------------------------ events (residents)
    "events.index": {"GET": PUBLIC},
    "events.detail": {"GET": PUBLIC},
    "events.event_ics": {"GET": PUBLIC},
    "events.shift_ics": {"GET": PUBLIC},
    "events.share": {"GET": PUBLIC},
    "events.poster": {"GET": PUBLIC},
    "events.sign_up": {"GET": NOT_ALLOWED, "POST": signed_in(R)},
    "events.cancel": {"GET": NOT_ALLOWED, "POST": OWN_OBJECT_POST},
    "events.my_shifts": {"GET": MINE},
    "events.my_calendar": {"GET": MINE, "POST": signed_in(R)},
    "events.calendar_feed": {"GET": PUBLIC},  # the token is the credential
    # ------------------------------------------------------------ events (organisers)
    "events.organise_list": {"GET": ORG_PAGE},
    "events.organise_new": {"GET": ORG_PAGE, "POST": ORG_PAGE},
    "events.organise_event": {"GET": ORG_OBJECT},
    "events.organise_edit": {"GET": NOT_ALLOWED, "POST": ORG_OBJECT_POST_BAD},
    "events.organise_add_shift": {"GET": NOT_ALLOWED, "POST": ORG_OBJECT_POST_BAD},
    "events.organise_publish": {"GET": NOT_ALLOWED, "POST": ORG_OBJECT_POST_BAD},
    "events.organise_cancel": {"GET": NOT_ALLOWED, "POST": ORG_OBJECT_POST_BAD},
    "events.organise_copy": {"GET": NOT_ALLOWED, "POST": ORG_OBJECT_POST_BAD},
    "events.organise_repeat": {"GET": NOT_ALLOWED, "POST": ORG_OBJECT_POST_BAD},
    "events.organise_shift": {"GET": ORG_OBJECT, "POST": ORG_OBJECT_POST_BAD},
    "events.organise_cancel_shift": {"GET": NOT_ALLOWED, "POST": ORG_OBJECT_POST_BACK},
    "events.organise_roster": {"GET": ORG_OBJECT},
    "events.organise_roster_add": {"GET": NOT_ALLOWED, "POST": ORG_OBJECT_POST_BAD},
    # By then the lead's GET /q/<token> has checked the walk's volunteer in: an attended
    # sign-up is no longer removable, so the page sends the organiser back to the roster.
    "events.organise_roster_remove": {"GET": ORG_OBJECT_POST_BACK, "POST": ORG_OBJECT_POST_BACK},
    # ------------------------------------------------------------ the organisers' workspace
    "organise.dashboard": {"GET": ORG_PAGE},
    "organise.shift_roster": {"GET": LEAD_OBJECT},
    "organise.shift_phones": {"GET": NOT_ALLOWED, "POST": ORG_OBJECT},  # full numbers, audited
    "organise.shift_export": {"GET": ORG_OBJECT},
    "organise.shift_print": {"GET": LEAD_OBJECT},
    "organise.paper_times": {"GET": NOT_ALLOWED, "POST": (LOGIN, 403, R, R, 404, 403, R)},
    "organise.event_roster": {"GET": ORG_OBJECT},
    "organise.event_phones": {"GET": NOT_ALLOWED, "POST": ORG_OBJECT},
    "organise.event_export": {"GET": ORG_OBJECT},
    "organise.event_print": {"GET": ORG_OBJECT},
    "organise.node_roster": {"GET": ORG_OBJECT},
    "organise.node_phones": {"GET": NOT_ALLOWED, "POST": ORG_OBJECT},
    "organise.node_export": {"GET": ORG_OBJECT},
    "organise.message_shift": {"GET": ORG_OBJECT, "POST": ORG_OBJECT_POST_BAD},
    "organise.message_event": {"GET": ORG_OBJECT, "POST": ORG_OBJECT_POST_BAD},
    "organise.messages_log": {"GET": ORG_PAGE},
    "organise.message_delivery": {"GET": ORG_OBJECT},
    # ------------------------------------------------------------ check-in
    "checkin.my_qr": {"GET": MINE},
    "checkin.my_qr_svg": {"GET": MINE},
    "checkin.my_qr_device": {"GET": NOT_ALLOWED, "POST": signed_in(200)},  # a phone secret
    "checkin.my_qr_revoke": {"GET": NOT_ALLOWED, "POST": signed_in(R)},
    "checkin.scan_code": {"GET": PUBLIC},  # anonymous: what the code is; others: a result
    "checkin.site_code": {"GET": MINE},
    "checkin.index": {"GET": LEAD_PAGE},
    "checkin.scanner": {"GET": LEAD_OBJECT},
    "checkin.site": {"GET": LEAD_OBJECT},
    "checkin.site_svg": {"GET": LEAD_OBJECT},
    "checkin.attendance": {
        "GET": LEAD_OBJECT,
        "POST": (LOGIN, 403, 400, 400, 404, 403, 400),  # no operation named
    },
    "checkin.card": {"GET": ORG_OBJECT, "POST": ORG_OBJECT_POST_BACK},
    "checkin.card_svg": {"GET": ORG_OBJECT},
    "checkin.card_sheet": {"GET": ORG_OBJECT, "POST": ORG_OBJECT_POST_BACK},
    # ------------------------------------------------------------ working offline
    "offline.manifest": {"GET": PUBLIC},
    "offline.service_worker": {"GET": PUBLIC},
    "offline.page": {"GET": PUBLIC},
    "offline.start": {"GET": every(R)},
    # ------------------------------------------------------------ scanner API
    "api.roster": {"GET": API_LEAD_OBJECT},
    "api.counts": {"GET": API_LEAD_OBJECT},
    "api.scans": {"GET": NOT_ALLOWED, "POST": (401, 404, 400, 400, 404, 404, 400)},
    # an empty body names no phone: "no volunteer has this number" (JSON 404) for leads
    "api.walk_in": {"GET": NOT_ALLOWED, "POST": (401, *(404,) * 6)},
    # frames are decoded only for those who run check-in (leads, organisers, admin)
    "api.decode": {"GET": NOT_ALLOWED, "POST": (401, 403, 400, 400, 400, 403, 400)},
    # ------------------------------------------------------------ hours
    # The national record (issue 18): the recorder role only; none of these roles holds it.
    "exchange.index": {"GET": ADMIN_ONLY},
    "exchange.create": {"GET": NOT_ALLOWED, "POST": (LOGIN, 403, 403, 403, 403, 403, 400)},
    "exchange.download": {"GET": signed_in(404)},  # no such batch, or not the caller's
    "exchange.import_hours": {"GET": NOT_ALLOWED, "POST": (LOGIN, 403, 403, 403, 403, 403, 400)},
    "exchange.import_template": {"GET": ADMIN_ONLY},
    "exchange.national_number": {"GET": NOT_ALLOWED, "POST": signed_in(R)},
    "hours.mine": {"GET": MINE},
    "hours.ask": {"GET": NOT_ALLOWED, "POST": OWN_OBJECT_POST},
    "hours.certificate": {"GET": signed_in(R)},  # no period chosen: back to "my hours"
    "hours.verify_form": {"GET": PUBLIC},
    "hours.verify": {"GET": PUBLIC},
    "hours.shift": {"GET": LEAD_OBJECT},
    "hours.confirm": {"GET": NOT_ALLOWED, "POST": (LOGIN, 403, R, R, 404, 403, R)},
    "hours.decide_shift": {"GET": NOT_ALLOWED, "POST": (LOGIN, 403, 400, 400, 404, 403, 400)},
    "hours.pending": {"GET": LEAD_PAGE},
    "hours.decide_pending": {
        "GET": NOT_ALLOWED,
        "POST": (LOGIN, 403, 400, 400, 400, 403, 400),
    },
    "hours.records": {"GET": ORG_PAGE},
    "hours.correct": {"GET": NOT_ALLOWED, "POST": ORG_OBJECT_POST_BACK},
    "hours.manual": {"GET": ORG_PAGE, "POST": ORG_PAGE},
    "hours.requests": {"GET": ORG_PAGE},
    "hours.answer": {"GET": NOT_ALLOWED, "POST": ORG_OBJECT_POST_BACK},
    # ------------------------------------------------------------ notifications
    "notifications.index": {"GET": MINE},
    "notifications.mark_read": {"GET": NOT_ALLOWED, "POST": signed_in(R)},
    "notifications.settings": {"GET": MINE, "POST": signed_in(R)},
    # ------------------------------------------------------------ tallies
    "tallies.index": {"GET": TALLY_PAGE},
    "tallies.leaderboard": {"GET": TALLY_PAGE},
    # the area dimension is the organisers'; the Party branch is the secretary's tree
    "tallies.node": {"GET": (LOGIN, 403, 403, 200, 404, 404, 200)},
    "tallies.dual": {"GET": (LOGIN, 403, 403, 404, 404, 200, 200)},
}

#: Object URLs anyone may open: published public events and their calendars, the QR and
#: site codes (they carry their own signature), the calendar feed (its token is the
#: credential) and certificate verification (public by design).
PUBLIC_OBJECT_URLS = frozenset(
    {
        "events.detail",
        "events.event_ics",
        "events.shift_ics",
        "events.share",
        "events.poster",
        "events.sign_up",
        "events.calendar_feed",
        "checkin.scan_code",
        "checkin.site_code",
        "hours.verify",
    }
)
SKIPPED = frozenset({"static", "bootstrap.static"})


# ---------------------------------------------------------------- the scene


@dataclass
class Scene:
    """Town A's objects and one logged-in client per role."""

    app: Flask
    users: dict[str, User | None]
    clients: dict[str, FlaskClient]
    tokens: dict[str, str]
    event: object
    shift: object
    signup: Signup
    record: object
    request: CorrectionRequest
    calendar_token: str
    certificate: str
    node_id: int
    branch_id: int
    grant_holder: User
    grant_node: object
    extra: dict = field(default_factory=dict)

    def fresh_grant(self) -> int:
        """A lead grant in town A (made again once a POST has removed it)."""
        grant = db.session.scalar(
            select(RoleGrant).where(
                RoleGrant.user_id == self.grant_holder.id,
                RoleGrant.org_unit_id == self.grant_node.id,
            )
        )
        if grant is not None:
            return grant.id
        grant = RoleGrant(
            user_id=self.grant_holder.id, org_unit_id=self.grant_node.id, role=Role.LEAD
        )
        db.session.add(grant)
        db.session.commit()
        return grant.id

    def post(self, role: str, path: str, data: dict | None = None, **kwargs):
        return self.clients[role].post(
            path, data={"csrf_token": self.tokens[role], **(data or {})}, **kwargs
        )


def build_scene(app, tree, make_user, make_volunteer, make_event) -> Scene:
    """A published event of town A with an open shift, its lead, a confirmed volunteer
    (a Party member of the branch) with a card, an approved record and a correction
    request, and one client logged in per role."""
    volunteer = make_volunteer(tree.community_a1, party=True)
    users: dict[str, User | None] = {
        "anonymous": None,
        "volunteer": volunteer,
        "lead": make_user(Role.LEAD, tree.community_a1, name="东关领队"),
        "organiser_a": make_user(Role.ORGANISER, tree.town_a, name="环秀组织者"),
        "organiser_b": make_user(Role.ORGANISER, tree.town_b, name="潮海组织者"),
        "secretary": make_user(Role.BRANCH_SECRETARY, tree.branch, name="支部书记"),
        "admin": make_user(Role.ADMIN, tree.district, name="区管理员"),
    }
    event, shift = make_event(starts_in=timedelta(minutes=10), hours=3)
    shift.leads.append(ShiftLead(user_id=users["lead"].id))
    signup = Signup(shift_id=shift.id, user_id=volunteer.id, status=SignupStatus.CONFIRMED)
    db.session.add(signup)
    shift.taken = 1
    db.session.add(VolunteerCard(user_id=volunteer.id, issued_by_id=users["organiser_a"].id))
    db.session.commit()
    today = local_today()
    record = hours.add_manual(
        users["organiser_a"],
        volunteer,
        host=tree.town_a,
        activity="敬老院探访",
        service_date=today - timedelta(days=3),
        minutes=90,
        place="东关敬老院",
        content="陪伴老人",
        category="other",
        reason="纸质签到表",
        today=today,
    )
    db.session.commit()
    hours.decide(users["organiser_a"], [record], True, now=utcnow())
    request = CorrectionRequest(user_id=volunteer.id, record_id=record.id, message="少记了半小时")
    db.session.add(request)
    db.session.commit()
    messages.send(
        users["organiser_a"],
        messages.Audience(event, shift),
        "请带手套",
        messages.new_message_id(),
        now=utcnow(),
    )
    db.session.commit()
    sent = db.session.scalar(select(AuditLog.id).where(AuditLog.action == messages.ACTION))
    feed = calendar.feed_token(volunteer)
    issued = certificates.issue(volunteer, date(2020, 1, 1), today, today=today)
    db.session.commit()

    clients, tokens = {}, {}
    for role, user in users.items():
        client = app.test_client()
        if user is not None:
            response = Auth(client).login(user.phone)
            assert response.status_code == 302, f"{role} could not log in"
        clients[role] = client
        tokens[role] = csrf_token(client, "/auth/login" if user is None else "/")
    return Scene(
        app=app,
        users=users,
        clients=clients,
        tokens=tokens,
        event=event,
        shift=shift,
        signup=signup,
        record=record,
        request=request,
        calendar_token=feed,
        certificate=issued.number,
        node_id=tree.community_a1.id,
        branch_id=tree.branch.id,
        grant_holder=make_user(name="另一位领队"),
        grant_node=tree.community_a2,
        extra={"audit_id": sent},
    )


def url_args(scene: Scene, endpoint: str, arguments) -> dict:
    """Values for a rule's URL parameters: always an object of town A."""
    volunteer = scene.users["volunteer"]
    values = {
        "event_id": scene.event.id,
        "shift_id": scene.shift.id,
        "signup_id": scene.signup.id,
        "user_id": volunteer.id,
        "record_id": scene.record.id,
        "request_id": scene.request.id,
        "node_id": scene.node_id,
        "branch_id": scene.branch_id,
        "dim": "area",
        "number": scene.certificate,
        "audit_id": scene.extra.get("audit_id"),
        "batch_id": 1,
        "fmt": "xlsx",
    }
    if endpoint.startswith("events.poster"):
        values["fmt"] = "pdf"
    if endpoint == "admin.remove_grant":
        values["grant_id"] = scene.fresh_grant()
    if "token" in arguments:
        values["token"] = {
            "events.calendar_feed": scene.calendar_token,
            "checkin.scan_code": qr.volunteer_token(volunteer.id, utcnow()),
            "checkin.site_code": qr.site_token(scene.shift.id, utcnow()),
        }[endpoint]
    missing = set(arguments) - set(values)
    assert not missing, f"{endpoint}: no test value for URL parameter(s) {sorted(missing)}"
    return {name: values[name] for name in arguments}


def outcome(response) -> object:
    if response.status_code == 302:
        return LOGIN if response.location.startswith("/auth/login") else R
    return response.status_code


def walk_rules(app: Flask) -> list:
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint not in SKIPPED),
        key=lambda rule: (rule.endpoint == "auth.logout", rule.endpoint, rule.rule),
    )


# ---------------------------------------------------------------- the tests


def test_every_route_is_in_the_expectations_table(app):
    endpoints = {rule.endpoint for rule in walk_rules(app)}
    missing = sorted(endpoints - set(EXPECT))
    assert not missing, (
        "routes with no entry in tests/test_route_walk.py EXPECT (add who may open them): "
        + ", ".join(missing)
    )
    stale = sorted(set(EXPECT) - endpoints)
    assert not stale, "EXPECT names routes that no longer exist: " + ", ".join(stale)
    for rule in walk_rules(app):
        methods = set(EXPECT[rule.endpoint])
        assert "GET" in methods, f"{rule.endpoint}: EXPECT needs a GET row"
        if "POST" in rule.methods:
            assert "POST" in methods, f"{rule.endpoint}: takes POST but EXPECT has no POST row"
        for method, row in EXPECT[rule.endpoint].items():
            assert len(row) == len(ROLES), f"{rule.endpoint} {method}: one answer per role"


def test_another_scope_gets_404_on_every_object_url(app):
    """The table itself: organiser B (town B) is told 404 on every URL naming an object
    of town A, for every method the route takes — never 403 or 200, which would
    confirm the object exists or show it."""
    wrong = []
    for rule in walk_rules(app):
        if not rule.arguments or rule.endpoint in PUBLIC_OBJECT_URLS:
            continue
        for method, row in EXPECT.get(rule.endpoint, {}).items():
            if method in rule.methods and row[ORG_B] != 404:
                wrong.append(f"{method} {rule.endpoint}: {row[ORG_B]}")
    assert not wrong, "object URLs where organiser B is not told 404: " + "; ".join(wrong)


def test_walk_every_route_as_every_role(app, tree, make_user, make_volunteer, make_event, capsys):
    scene = build_scene(app, tree, make_user, make_volunteer, make_event)
    rules = walk_rules(app)
    mismatches: list[str] = []
    errors: list[str] = []
    requests = 0

    def call(role: str, method: str, rule) -> None:
        nonlocal requests
        with app.test_request_context():
            path = url_for(rule.endpoint, **url_args(scene, rule.endpoint, rule.arguments))
        client = scene.clients[role]
        requests += 1
        try:
            response = client.get(path) if method == "GET" else scene.post(role, path)
        except Exception:
            errors.append(f"{method} {path} as {role}: 500\n{traceback.format_exc(limit=-3)}")
            db.session.rollback()
            return
        got = outcome(response)
        if response.status_code >= 500:
            errors.append(f"{method} {path} as {role}: {response.status_code}")
        if path.startswith("/api/") and response.status_code != 302 and not response.is_json:
            mismatches.append(f"{method} {path} as {role}: not JSON ({response.mimetype})")
        if method == "POST" and "POST" not in rule.methods:
            expected = 405
        else:
            expected = EXPECT[rule.endpoint][method][ROLES.index(role)]
        if got != expected:
            mismatches.append(
                f"{method} {rule.endpoint} ({path}) as {role}: {got}, expected {expected}"
            )

    missing = sorted({r.endpoint for r in rules} - set(EXPECT))
    assert not missing, "routes missing from EXPECT: " + ", ".join(missing)
    # Every GET first (they change nothing worth mentioning), then the POSTs, logout last.
    app.extensions.pop("unmarked_get_writes", None)
    for rule in rules:
        for role in ROLES:
            call(role, "GET", rule)
    # A GET that writes is marked @writes (hooks.commit_request notes any that is not): its
    # SQLite transaction must start as the writer, or it may answer 503 under load.
    assert app.extensions.get("unmarked_get_writes", set()) == set()
    for rule in rules:
        for role in ROLES:
            call(role, "POST", rule)

    with capsys.disabled():
        print(
            f"\nroute walk: {len(rules)} routes × {len(ROLES)} roles = "
            f"{len(rules) * len(ROLES)} route-role pairs ({requests} requests)"
        )
    assert not errors, "server errors:\n" + "\n".join(errors)
    assert not mismatches, f"{len(mismatches)} unexpected answers:\n" + "\n".join(mismatches)
