"""The scanner page's JSON API over HTTP: roster, scans (one or a synced batch), walk-ins,
counts and frame decoding; who may call it, idempotency, and JSON errors."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, timedelta

import pytest
import qrcode
from sqlalchemy import func, select

from tests.conftest import PASSWORD, csrf_token
from volunteer_app.extensions import db
from volunteer_app.models import (
    Attendance,
    Role,
    ScanLog,
    ShiftLead,
    Signup,
    SignupStatus,
)
from volunteer_app.services import qr
from volunteer_app.timeutil import utcnow

OPEN_SOON = timedelta(minutes=10)


# ---------------------------------------------------------------- helpers


@pytest.fixture
def scene(tree, make_volunteer, make_event, login_as):
    """An open shift (starts in 10 minutes) led by a lead, with three confirmed volunteers."""
    _event, shift = make_event(starts_in=OPEN_SOON)
    client, lead = login_as(Role.LEAD, tree.community_a1)
    shift.leads.append(ShiftLead(user_id=lead.id))
    volunteers = [make_volunteer() for _ in range(3)]
    signups = []
    for volunteer in volunteers:
        signup = Signup(shift_id=shift.id, user_id=volunteer.id, status=SignupStatus.CONFIRMED)
        db.session.add(signup)
        signups.append(signup)
    shift.taken = len(volunteers)
    db.session.commit()
    return Scene(client=client, lead=lead, shift=shift, volunteers=volunteers, signups=signups)


class Scene:
    def __init__(self, *, client, lead, shift, volunteers, signups):
        self.client = client
        self.lead = lead
        self.shift = shift
        self.volunteers = volunteers
        self.signups = signups
        self._csrf: str | None = None

    @property
    def csrf(self) -> str:
        if self._csrf is None:
            self._csrf = csrf_token(self.client, "/")
        return self._csrf

    def url(self, tail: str) -> str:
        return f"/api/v1/shifts/{self.shift.id}/{tail}"

    def post_scans(self, scans: list[dict], client=None):
        if client is None:
            client, token = self.client, self.csrf
        else:
            token = csrf_token(client, "/")
        return client.post(self.url("scans"), json={"scans": scans}, headers={"X-CSRFToken": token})


def token_for(user) -> str:
    return qr.volunteer_token(user.id, utcnow())


def scan_item(user, **extra) -> dict:
    return {"nonce": uuid.uuid4().hex, "token": token_for(user), **extra}


def now_ms() -> int:
    """What the page sends as scanned_at: Date.now() (on the app's clock, which may be moved)."""
    return int(utcnow().replace(tzinfo=UTC).timestamp() * 1000)


def attendances(shift_id: int, user_id: int | None = None) -> int:
    query = select(func.count()).select_from(Attendance).where(Attendance.shift_id == shift_id)
    if user_id is not None:
        query = query.where(Attendance.user_id == user_id)
    return db.session.scalar(query)


# ---------------------------------------------------------------- who may call it


def test_roster_for_the_lead(scene):
    response = scene.client.get(scene.url("roster"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["shift"]["id"] == scene.shift.id
    assert body["shift"]["open"] is True
    assert body["counts"] == {"expected": 3, "in": 0, "out": 0, "missing": 3}
    rows = {row["user_id"]: row for row in body["roster"]}
    assert set(rows) == {v.id for v in scene.volunteers}
    first = scene.volunteers[0]
    assert rows[first.id]["phone_tail"] == first.phone[-4:]
    assert rows[first.id]["checked_in_at"] is None
    # What the page needs to match a code offline: user id -> sign-up id.
    assert body["offline"]["users"][str(first.id)] == scene.signups[0].id
    assert body["rotate_seconds"] == qr.ROTATE


def test_counts_endpoint(scene):
    response = scene.client.get(scene.url("counts"))
    assert response.status_code == 200
    assert response.get_json()["counts"]["expected"] == 3


def test_a_lead_not_assigned_gets_404(scene, make_user, tree, app):
    other = make_user(Role.LEAD, tree.community_a1)
    client = app.test_client()
    token = csrf_token(client)
    client.post(
        "/auth/login", data={"csrf_token": token, "phone": other.phone, "password": PASSWORD}
    )
    roster = client.get(scene.url("roster"))
    assert roster.status_code == 404
    assert roster.is_json and roster.get_json()["error"]["code"] == 404
    scans = scene.post_scans([scan_item(scene.volunteers[0])], client=client)
    assert scans.status_code == 404
    assert scans.is_json
    assert attendances(scene.shift.id) == 0


def test_anonymous_gets_401_json_in_chinese(scene, app):
    client = app.test_client()
    response = client.get(scene.url("roster"))
    assert response.status_code == 401
    body = response.get_json()
    assert body["error"]["code"] == "login_required"
    assert "登录" in body["error"]["message"]
    # A POST with a valid CSRF token but no login is refused the same way.
    posted = client.post(
        scene.url("scans"),
        json={"scans": [scan_item(scene.volunteers[0])]},
        headers={"X-CSRFToken": csrf_token(client, "/")},
    )
    assert posted.status_code == 401
    assert posted.is_json


def test_missing_csrf_header_is_400_json(scene):
    response = scene.client.post(
        scene.url("scans"), json={"scans": [scan_item(scene.volunteers[0])]}
    )
    assert response.status_code == 400
    assert response.is_json
    assert response.get_json()["error"]["code"] == 400
    assert attendances(scene.shift.id) == 0


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"scans": "nope"}', b"[]"],
    ids=["broken", "scans-not-a-list", "not-an-object"],
)
def test_malformed_json_is_400_json(scene, body):
    response = scene.client.post(
        scene.url("scans"),
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": scene.csrf},
    )
    assert response.status_code == 400
    assert response.is_json
    assert response.get_json()["error"]["code"] == "bad_request"


# ---------------------------------------------------------------- scanning


def test_a_valid_token_checks_in(scene):
    volunteer = scene.volunteers[0]
    response = scene.post_scans([scan_item(volunteer, scanned_at=now_ms())])
    assert response.status_code == 200
    body = response.get_json()
    (result,) = body["results"]
    assert result["ok"] is True
    assert result["action"] == "in"
    assert result["code"] == "checked_in"
    assert result["replayed"] is False
    assert result["volunteer"] == {"id": volunteer.id, "name": volunteer.display_name}
    assert result["checked_in_at"].endswith("Z")
    assert body["counts"] == {"expected": 3, "in": 1, "out": 0, "missing": 2}
    assert attendances(scene.shift.id, volunteer.id) == 1
    log = db.session.scalar(select(ScanLog).where(ScanLog.nonce == result["nonce"]))
    assert log.ok and log.method == "scanner" and log.lead_id == scene.lead.id


def test_each_standing_of_the_scanned_volunteer_gets_its_answer(scene, make_volunteer):
    """The scanner API reads the volunteer, their sign-up and its attendance in one query:
    each case must still answer as the separate reads did."""
    cancelled, waitlisted, gone = scene.volunteers
    scene.signups[0].status = SignupStatus.CANCELLED
    scene.signups[1].status = SignupStatus.WAITLISTED
    gone.active = False
    stranger = make_volunteer()
    db.session.commit()
    answers = [
        scene.post_scans([scan_item(person)]).get_json()["results"][0]
        for person in (cancelled, waitlisted, gone, stranger)
    ]
    codes = [a["code"] for a in answers]
    assert codes == ["not_signed_up", "waitlisted", "unknown", "not_signed_up"]
    assert not any(a["ok"] for a in answers)
    assert attendances(scene.shift.id) == 0
    # Signed up again after cancelling: the active sign-up is the one checked in.
    again = Signup(shift_id=scene.shift.id, user_id=cancelled.id, status=SignupStatus.CONFIRMED)
    db.session.add(again)
    db.session.commit()
    answer = scene.post_scans([scan_item(cancelled)]).get_json()["results"][0]
    assert answer["code"] == "checked_in"
    row = db.session.scalar(select(Attendance).where(Attendance.user_id == cancelled.id))
    assert row.signup_id == again.id
    db.session.refresh(again)
    assert again.status is SignupStatus.ATTENDED


def scan_with_statements(scene) -> tuple[dict, list[str]]:
    """A check-in through the scanner API, its answer and every statement it sent (the
    first three words of each), BEGIN and COMMIT included. What the test itself reads
    (the page that gives the token, its objects) comes before."""
    from sqlalchemy import event

    item, url, token = scan_item(scene.volunteers[0]), scene.url("scans"), scene.csrf
    db.session.expunge_all()
    sent: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        sent.append(" ".join(statement.split()[:3]))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        answer = scene.client.post(
            url, json={"scans": [item]}, headers={"X-CSRFToken": token}
        ).get_json()
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    return answer, sent


def test_a_check_in_by_the_scanner_api_takes_six_statements(scene):
    """The hot path's reads and writes, counted (BEGIN, COMMIT and savepoints aside): the
    lead, the shift locked with its leads, the volunteer with the sign-up and its
    attendance, the attendance, the sign-up's status, the scan log returning the live
    counts (a repeated nonce is found by the log row, not by a read before). A
    read that comes back (an object the session let go of, a relation loaded lazily) fails
    this before it slows the sites down."""
    answer, sent = scan_with_statements(scene)
    framing = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")
    sent = [s for s in sent if not s.upper().startswith(framing)]
    assert answer["results"][0]["code"] == "checked_in"
    assert len(sent) == 6, sent
    assert answer["counts"]["in"] == 1


def test_a_scan_holds_sqlite_write_lock_only_for_the_scans_own_rows(scene):
    """On SQLite the shift and its leads are read before the write lock; the volunteer's
    sign-up and attendance are read, and everything written, under it."""
    if db.engine.dialect.name != "sqlite":
        return  # PostgreSQL locks the shift row with the query that loads it
    answer, sent = scan_with_statements(scene)
    assert answer["results"][0]["code"] == "checked_in"
    lock = sent.index("BEGIN IMMEDIATE")
    assert any(s.startswith("SELECT shifts.id") for s in sent[:lock]), sent
    assert sent[lock + 1].startswith("SELECT users.id, users.display_name"), sent
    assert [s for s in sent[lock:] if s.startswith(("INSERT", "UPDATE"))] == [
        "INSERT INTO attendances",
        "UPDATE signups SET",
        "INSERT INTO scan_logs",
    ], sent


def test_a_full_qr_url_is_not_a_token(scene):
    """The page extracts the token from the URL; the API wants the token itself."""
    url = f"https://example.org/q/{token_for(scene.volunteers[0])}"
    response = scene.post_scans([{"nonce": uuid.uuid4().hex, "token": url}])
    assert response.get_json()["results"][0]["code"] == "malformed"


def test_a_roster_pick_by_signup_id(scene):
    signup = scene.signups[1]
    response = scene.post_scans([{"nonce": uuid.uuid4().hex, "signup_id": signup.id}])
    (result,) = response.get_json()["results"]
    assert result["action"] == "in"
    assert result["volunteer"]["id"] == scene.volunteers[1].id
    log = db.session.scalar(select(ScanLog).where(ScanLog.nonce == result["nonce"]))
    assert log.method == "manual"


def test_the_same_nonce_twice_is_applied_once(scene):
    item = scan_item(scene.volunteers[0])
    first = scene.post_scans([item]).get_json()["results"][0]
    second = scene.post_scans([item]).get_json()["results"][0]
    assert first["action"] == "in" and first["replayed"] is False
    assert second["replayed"] is True
    assert second["ok"] is True and second["action"] == "in"
    assert second["nonce"] == item["nonce"]
    assert attendances(scene.shift.id) == 1
    assert db.session.scalar(select(func.count()).select_from(ScanLog)) == 1


def test_the_same_offline_batch_twice(scene):
    batch = [
        scan_item(v, offline=True, scanned_at=now_ms() - 1000 * i)
        for i, v in enumerate(scene.volunteers)
    ]
    first = scene.post_scans(batch).get_json()
    second = scene.post_scans(batch).get_json()
    assert [r["action"] for r in first["results"]] == ["in", "in", "in"]
    assert all(r["replayed"] for r in second["results"])
    assert [r["nonce"] for r in second["results"]] == [b["nonce"] for b in batch]
    assert second["counts"] == {"expected": 3, "in": 3, "out": 0, "missing": 0}
    for volunteer in scene.volunteers:
        assert attendances(scene.shift.id, volunteer.id) == 1
    logs = db.session.scalars(select(ScanLog)).all()
    assert len(logs) == 3
    assert {log.method for log in logs} == {"offline"}
    assert all(log.scanned_at is not None for log in logs)


def test_two_devices_scanning_the_same_volunteer(scene):
    """Different nonces, same volunteer: one attendance, the second answer is amber."""
    volunteer = scene.volunteers[0]
    first = scene.post_scans([scan_item(volunteer)]).get_json()["results"][0]
    second = scene.post_scans([scan_item(volunteer)]).get_json()["results"][0]
    assert first["action"] == "in"
    assert second["ok"] is True and second["action"] == "" and second["code"] == "already_in"
    assert attendances(scene.shift.id) == 1


def test_a_tampered_token_is_refused_and_logged(scene):
    token = token_for(scene.volunteers[0])
    body, _sig = token.rsplit(".", 1)
    tampered = f"{body}.{'A' * 16}"
    response = scene.post_scans([{"nonce": "tampered-1", "token": tampered}])
    assert response.status_code == 200
    (result,) = response.get_json()["results"]
    assert result["ok"] is False
    assert result["code"] == "tampered"
    assert result["message"]
    assert attendances(scene.shift.id) == 0
    log = db.session.scalar(select(ScanLog).where(ScanLog.nonce == "tampered-1"))
    assert log is not None and log.ok is False and log.code == "tampered"


def test_a_scan_without_nonce_is_answered_not_applied(scene):
    response = scene.post_scans([{"token": token_for(scene.volunteers[0])}])
    (result,) = response.get_json()["results"]
    assert result["ok"] is False and result["code"] == "bad_request"
    assert attendances(scene.shift.id) == 0


def test_a_second_scan_soon_after_is_already_in(scene):
    volunteer = scene.volunteers[0]
    scene.post_scans([scan_item(volunteer)])
    again = scene.post_scans([scan_item(volunteer)]).get_json()["results"][0]
    assert again["code"] == "already_in" and again["action"] == ""


@pytest.mark.config(CHECKOUT_MIN_MINUTES=0)
def test_a_second_scan_after_the_minimum_checks_out(scene):
    volunteer = scene.volunteers[0]
    first = scene.post_scans([scan_item(volunteer)]).get_json()
    second = scene.post_scans([scan_item(volunteer)]).get_json()
    assert first["results"][0]["action"] == "in"
    result = second["results"][0]
    assert result["ok"] is True and result["action"] == "out" and result["code"] == "checked_out"
    assert result["checked_out_at"].endswith("Z")
    assert second["counts"] == {"expected": 3, "in": 0, "out": 1, "missing": 2}
    assert attendances(scene.shift.id, volunteer.id) == 1


# ---------------------------------------------------------------- walk-ins


def test_a_walk_in_is_added_and_checked_in(scene, make_volunteer):
    newcomer = make_volunteer()
    response = scene.client.post(
        scene.url("walk-ins"), json={"phone": newcomer.phone}, headers={"X-CSRFToken": scene.csrf}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["result"]["action"] == "in"
    assert body["result"]["volunteer"]["id"] == newcomer.id
    assert body["counts"]["expected"] == 4 and body["counts"]["in"] == 1
    roster = scene.client.get(scene.url("roster")).get_json()
    assert newcomer.id in {row["user_id"] for row in roster["roster"]}


def test_a_walk_in_with_an_unknown_number(scene):
    response = scene.client.post(
        scene.url("walk-ins"), json={"phone": "13912345678"}, headers={"X-CSRFToken": scene.csrf}
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "unknown"


# ---------------------------------------------------------------- decoding frames


def decode(scene, data: bytes, content_type: str):
    """One camera frame posted to the decode API by the scene's lead."""
    return scene.client.post(
        "/api/v1/decode",
        data=data,
        content_type=content_type,
        headers={"X-CSRFToken": scene.csrf},
    )


def test_decode_reads_a_qr_png(scene):
    url = f"https://volunteer.example.org/q/{token_for(scene.volunteers[0])}"
    buffer = io.BytesIO()
    qrcode.make(url).save(buffer)
    response = decode(scene, buffer.getvalue(), "image/png")
    assert response.status_code == 200
    assert response.get_json()["codes"] == [url]


def test_decode_refuses_what_is_not_an_image(scene):
    response = decode(scene, b"not an image", "image/jpeg")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_image"


def test_decode_refuses_a_frame_of_too_many_pixels_before_decoding_it(scene, recwarn):
    """A 50-megapixel image (a few KB as PNG: a decompression bomb; a phone frame is
    under 13) is refused as unreadable, not decoded into the worker's memory."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (7100, 7100)).save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 2 * 1024 * 1024
    response = decode(scene, buffer.getvalue(), "image/png")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_image"
    assert not [w for w in recwarn if w.category is Image.DecompressionBombWarning]


def test_decode_is_only_for_leads_and_organisers(scene, login_as):
    client, _volunteer = login_as(None)
    response = client.post(
        "/api/v1/decode",
        data=b"not an image",
        content_type="image/jpeg",
        headers={"X-CSRFToken": csrf_token(client, "/")},
    )
    assert response.status_code == 403
    assert response.is_json


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_DECODE="2 per minute")
def test_decode_is_rate_limited_per_account(scene):
    answers = [decode(scene, b"not an image", "image/jpeg").status_code for _ in range(3)]
    assert answers == [400, 400, 429]


# ---------------------------------------------------------------- screenshot replay


def test_an_expired_code_replayed_as_offline_is_refused_and_logged(scene):
    """A photo of a code from 3 minutes ago, sent as an offline scan dated now."""
    volunteer = scene.volunteers[0]
    old = utcnow() - timedelta(minutes=3)
    item = {
        "nonce": "replay-1",
        "token": qr.volunteer_token(volunteer.id, old),
        "offline": True,
        "scanned_at": now_ms(),
    }
    (result,) = scene.post_scans([item]).get_json()["results"]
    assert result["ok"] is False and result["code"] == "not_current"
    assert attendances(scene.shift.id) == 0
    log = db.session.scalar(select(ScanLog).where(ScanLog.nonce == "replay-1"))
    assert log is not None and log.ok is False and log.code == "not_current"


def test_an_old_code_replayed_with_its_own_time_after_the_scanner_was_online_is_refused(scene):
    """The photo's code and a scan time inside its window, but the lead's scanner has been
    online since: a genuine offline scan would have been sent then."""
    volunteer, other = scene.volunteers[0], scene.volunteers[1]
    old = utcnow() - timedelta(minutes=5)
    assert scene.post_scans([scan_item(other)]).get_json()["results"][0]["action"] == "in"
    item = {
        "nonce": "replay-2",
        "token": qr.volunteer_token(volunteer.id, old),
        "offline": True,
        "scanned_at": int(old.replace(tzinfo=UTC).timestamp() * 1000),
    }
    (result,) = scene.post_scans([item]).get_json()["results"]
    assert result["ok"] is False and result["code"] == "online_since"
    assert "照片" in result["message"]
    assert attendances(scene.shift.id, volunteer.id) == 0
    log = db.session.scalar(select(ScanLog).where(ScanLog.nonce == "replay-2"))
    assert log.ok is False and log.code == "online_since"


def test_a_live_scan_claiming_an_old_time_is_judged_now(scene):
    """Without `offline` the code must be current when the scan arrives."""
    volunteer = scene.volunteers[0]
    old = utcnow() - timedelta(minutes=5)
    item = {
        "nonce": "replay-3",
        "token": qr.volunteer_token(volunteer.id, old),
        "scanned_at": int(old.replace(tzinfo=UTC).timestamp() * 1000),
    }
    (result,) = scene.post_scans([item]).get_json()["results"]
    assert result["code"] == "expired"
    assert attendances(scene.shift.id) == 0


def test_a_genuine_offline_scan_of_a_rotating_code_still_syncs(scene):
    """Scanned offline 5 minutes ago while the code was current; nothing sent since."""
    volunteer = scene.volunteers[0]
    old = utcnow() - timedelta(minutes=5)
    item = {
        "nonce": "offline-1",
        "token": qr.volunteer_token(volunteer.id, old),
        "offline": True,
        "scanned_at": int(old.replace(tzinfo=UTC).timestamp() * 1000),
    }
    (result,) = scene.post_scans([item]).get_json()["results"]
    assert result["ok"] is True and result["action"] == "in"
    row = db.session.scalar(select(Attendance).where(Attendance.user_id == volunteer.id))
    assert abs((row.checked_in_at - old).total_seconds()) < 1


def test_the_answers_come_back_in_the_batch_order(scene):
    """The batch is applied in sign-up order, the answers are in the order sent."""
    batch = [scan_item(v) for v in reversed(scene.volunteers)]
    results = scene.post_scans(batch).get_json()["results"]
    assert [r["nonce"] for r in results] == [b["nonce"] for b in batch]
    assert [r["volunteer"]["id"] for r in results] == [v.id for v in reversed(scene.volunteers)]


def test_answers_carry_the_server_clock(scene):
    body = scene.client.get(scene.url("counts")).get_json()
    assert abs(body["server_time"] - now_ms()) < 5000
