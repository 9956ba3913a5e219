"""Issue 17: codes that work with no signal. Phone codes computed from a device secret
(TOTP-style, 30 s steps, ±1 step), revocable like a card, used once per shift; a printed
card's number typed or wedge-scanned, with the same checks as its QR."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from volunteer_app import checkin, signups
from volunteer_app.extensions import db
from volunteer_app.models import (
    Attendance,
    CodeUse,
    DeviceKey,
    Role,
    ShiftLead,
    VolunteerCard,
)
from volunteer_app.services import devicecodes
from volunteer_app.timeutil import local_today, utcnow


@pytest.fixture
def site(make_event, make_volunteer, make_user, tree):
    """An open shift (starting in 10 minutes) with a lead and three signed-up volunteers."""
    _event, shift = make_event(capacity=5, waitlist=2, starts_in=timedelta(minutes=10))
    lead = make_user(Role.LEAD, tree.community_a1)
    shift.leads.append(ShiftLead(user_id=lead.id))
    volunteers = [make_volunteer() for _ in range(3)]
    for v in volunteers:
        signups.sign_up(v, shift, now=utcnow(), today=local_today())
    db.session.commit()
    return shift, lead, volunteers


def attendances(shift_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Attendance).where(Attendance.shift_id == shift_id)
    )


def phone_code(secret_b64: str, device: DeviceKey, moment) -> str:
    """What static/js/my-code.js computes on the phone, from the secret it was given."""
    secret = base64.urlsafe_b64decode(secret_b64 + "=" * (-len(secret_b64) % 4))
    step = devicecodes.step_of(moment)
    return f"t{devicecodes.b36(device.id)}.{devicecodes.code_for(secret, step)}"


# ---------------------------------------------------------------- phone codes


def test_device_secret_is_stored_encrypted(site):
    _shift, _lead, (volunteer, *_) = site
    device, secret = devicecodes.issue(volunteer, now=utcnow())
    db.session.commit()
    stored = db.session.get(DeviceKey, device.id).secret_encrypted
    assert secret not in stored and base64.urlsafe_b64decode(secret + "=") not in stored.encode()
    assert devicecodes.secret_of(device) == base64.urlsafe_b64decode(secret + "=")


def test_phone_code_is_accepted_within_one_step_either_side(site):
    shift, lead, (volunteer, *_) = site
    device, secret = devicecodes.issue(volunteer, now=utcnow())
    db.session.commit()
    now = utcnow()
    step = devicecodes.STEP
    for skew in (-step, 0, step):
        token = phone_code(secret, device, now + timedelta(seconds=skew))
        assert devicecodes.check(token, now).problem == "", skew
    stale = phone_code(secret, device, now - timedelta(seconds=3 * step))
    assert devicecodes.check(stale, now).problem == "expired"
    ahead = phone_code(secret, device, now + timedelta(seconds=3 * step))
    assert devicecodes.check(ahead, now).problem == "tampered"
    result = checkin.scan(lead, token=phone_code(secret, device, now), now=now)
    assert (result.ok, result.code, result.volunteer.id) == (True, "checked_in", volunteer.id)
    assert attendances(shift.id) == 1


def test_phone_code_keeps_changing_every_step(site):
    _shift, _lead, (volunteer, *_) = site
    device, secret = devicecodes.issue(volunteer, now=utcnow())
    now = utcnow()
    codes = {phone_code(secret, device, now + timedelta(seconds=30 * i)) for i in range(10)}
    assert len(codes) == 10


def test_expired_phone_code_does_not_check_in(site):
    shift, lead, (volunteer, *_) = site
    device, secret = devicecodes.issue(volunteer, now=utcnow())
    db.session.commit()
    now = utcnow()
    stale = phone_code(secret, device, now - timedelta(minutes=2))
    result = checkin.scan(lead, token=stale, now=now)
    assert (result.ok, result.code) == (False, "expired")
    assert attendances(shift.id) == 0


def test_forged_phone_code_is_refused(site):
    shift, lead, (volunteer, other, *_) = site
    device, _secret = devicecodes.issue(volunteer, now=utcnow())
    _other_device, other_secret = devicecodes.issue(other, now=utcnow())
    db.session.commit()
    now = utcnow()
    # Another volunteer's secret on this device's id; a made-up code; a malformed one.
    forged = phone_code(other_secret, device, now)
    assert checkin.scan(lead, token=forged, now=now).code == "tampered"
    made_up = f"t{devicecodes.b36(device.id)}.AAAAAAAAAAAA"
    assert checkin.scan(lead, token=made_up, now=now).code == "tampered"
    assert checkin.scan(lead, token="t.AAAA", now=now).code == "malformed"
    assert checkin.scan(lead, token="tzzzzzz.AAAAAAAAAAAA", now=now).code == "unknown"
    assert attendances(shift.id) == 0


def test_revoked_device_code_stops_working_at_once(site):
    shift, lead, (volunteer, *_) = site
    device, secret = devicecodes.issue(volunteer, now=utcnow())
    db.session.commit()
    token = phone_code(secret, device, utcnow())
    assert devicecodes.revoke_all(volunteer, actor=volunteer, now=utcnow()) == 1
    db.session.commit()
    result = checkin.scan(lead, token=token, now=utcnow())
    assert (result.ok, result.code) == (False, "device_revoked")
    assert "停用" in result.message or "关闭" in result.message
    # A new device secret works again.
    fresh, fresh_secret = devicecodes.issue(volunteer, now=utcnow())
    db.session.commit()
    ok = checkin.scan(lead, token=phone_code(fresh_secret, fresh, utcnow()), now=utcnow())
    assert ok.code == "checked_in"
    assert attendances(shift.id) == 1


def test_a_phone_code_value_is_used_once_per_shift(site):
    shift, lead, (volunteer, *_) = site
    device, secret = devicecodes.issue(volunteer, now=utcnow())
    db.session.commit()
    now = utcnow()
    token = phone_code(secret, device, now)
    first = checkin.scan(lead, token=token, now=now, nonce="n-1")
    assert first.code == "checked_in"
    # The same value again (a photo of the screen, a second lead): refused, nothing changes.
    again = checkin.scan(lead, token=token, now=now + timedelta(seconds=5), nonce="n-2")
    assert (again.ok, again.code) == (False, "code_used")
    # The same scan retried (same nonce) still returns the first answer.
    assert checkin.scan(lead, token=token, now=now, nonce="n-1").code == "checked_in"
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(CodeUse)) == 1
    assert attendances(shift.id) == 1


def test_offline_phone_code_is_checked_at_its_scan_time(site):
    """A code scanned offline and synced 10 minutes later is checked at the scan time."""
    shift, lead, (volunteer, *_) = site
    device, secret = devicecodes.issue(volunteer, now=utcnow())
    db.session.commit()
    scanned = utcnow()
    token = phone_code(secret, device, scanned)
    answers = checkin.sync(
        lead,
        shift,
        [
            {
                "nonce": "offline-1",
                "token": token,
                "offline": True,
                "scanned_at": int((scanned - datetime(1970, 1, 1)).total_seconds() * 1000),
            }
        ],
        now=scanned + timedelta(minutes=10),
    ).answers
    assert answers[0]["code"] == "checked_in"
    assert attendances(shift.id) == 1


def test_a_fourth_phone_retires_the_oldest(site):
    _shift, _lead, (volunteer, *_) = site
    devices = [devicecodes.issue(volunteer, now=utcnow())[0] for _ in range(4)]
    db.session.commit()
    active = devicecodes.active_devices(volunteer)
    assert [d.id for d in active] == [d.id for d in devices[1:]]


def test_roster_gives_day_keys_not_secrets(site, client, auth):
    shift, lead, (volunteer, *_) = site
    device, secret = devicecodes.issue(volunteer, now=utcnow())
    db.session.commit()
    auth.login(lead.phone)
    body = client.get(f"/api/v1/shifts/{shift.id}/roster").get_json()
    entry = body["offline"]["devices"][devicecodes.b36(device.id)]
    assert entry["user"] == volunteer.id
    assert secret not in str(body)
    raw = base64.urlsafe_b64decode(secret + "=")
    step = devicecodes.step_of(utcnow())
    day = str(devicecodes.day_of_step(step))
    assert entry["keys"][day] == devicecodes._b64(devicecodes.day_key(raw, int(day)))
    assert len(entry["keys"]) <= 3


def test_my_qr_device_delivers_a_secret_once_per_request(site, client, auth):
    _shift, _lead, (volunteer, *_) = site
    auth.login(volunteer.phone)
    page = client.get("/me/qr")
    assert page.status_code == 200
    token = re.search(r'data-csrf="([^"]+)"', page.get_data(as_text=True)).group(1)
    answer = client.post("/me/qr/device", headers={"X-CSRFToken": token})
    assert answer.status_code == 200
    data = answer.get_json()
    assert data["user"] == volunteer.id and data["step"] == 30 and len(data["secret"]) >= 40
    assert answer.headers["Cache-Control"] == "no-store"
    assert client.post("/me/qr/device").status_code == 400  # no CSRF token: refused


def test_volunteer_switches_off_their_phone_codes(site, client, auth):
    _shift, _lead, (volunteer, *_) = site
    devicecodes.issue(volunteer, now=utcnow())
    db.session.commit()
    auth.login(volunteer.phone)
    page = auth.post("/me/qr/devices/revoke", follow_redirects=True)
    assert page.status_code == 200
    assert devicecodes.active_devices(volunteer) == []


def test_organiser_switches_off_a_volunteers_phone_codes_in_scope_only(
    site, login_as, tree, make_volunteer
):
    _shift, _lead, (volunteer, *_) = site
    devicecodes.issue(volunteer, now=utcnow())
    db.session.commit()
    other_client, _organiser = login_as(Role.ORGANISER, tree.community_b1)
    from tests.conftest import csrf_token

    outside = other_client.post(
        f"/checkin/cards/{volunteer.id}",
        data={"op": "revoke_devices", "csrf_token": csrf_token(other_client, "/me/qr")},
    )
    assert outside.status_code == 404
    assert len(devicecodes.active_devices(volunteer)) == 1
    client, _organiser = login_as(Role.ORGANISER, tree.community_a1)
    inside = client.post(
        f"/checkin/cards/{volunteer.id}",
        data={"op": "revoke_devices", "csrf_token": csrf_token(client, "/me/qr")},
    )
    assert inside.status_code == 302
    assert devicecodes.active_devices(volunteer) == []


# ---------------------------------------------------------------- printed card numbers


def test_typed_card_number_checks_in_like_the_card_qr(site):
    shift, lead, (volunteer, *_) = site
    card = VolunteerCard(user_id=volunteer.id)
    db.session.add(card)
    db.session.commit()
    typed = card.number.lower()[:4] + " " + card.number[4:]  # "jm00 00001": any case, spaces
    result = checkin.scan(lead, token=typed, now=utcnow())
    assert (result.ok, result.code, result.volunteer.id) == (True, "checked_in", volunteer.id)
    assert attendances(shift.id) == 1


def test_typed_number_of_a_revoked_card_is_refused(site):
    shift, lead, (volunteer, *_) = site
    card = VolunteerCard(user_id=volunteer.id, revoked_at=utcnow())
    db.session.add(card)
    db.session.commit()
    assert checkin.scan(lead, token=card.number, now=utcnow()).code == "revoked"
    assert checkin.scan(lead, token="JM9999999", now=utcnow()).code == "unknown"
    assert checkin.scan(lead, token="JM99999999999", now=utcnow()).code == "malformed"
    assert attendances(shift.id) == 0


def test_typed_card_number_of_someone_not_signed_up_is_refused(site, make_volunteer):
    shift, lead, _volunteers = site
    stranger = make_volunteer()
    card = VolunteerCard(user_id=stranger.id)
    db.session.add(card)
    db.session.commit()
    result = checkin.scan(lead, token=card.number, shift=shift, now=utcnow())
    assert (result.ok, result.code) == (False, "not_signed_up")


# ---------------------------------------------------------------- A4 card sheets


def test_card_sheet_issues_missing_cards_for_the_elderly_of_a_community(
    login_as, tree, make_volunteer
):
    from datetime import date

    from tests.conftest import csrf_token

    old = [make_volunteer(tree.community_a1, birth=date(1940 + i, 5, 1)) for i in range(9)]
    young = make_volunteer(tree.community_a1, birth=date(1995, 5, 1))
    elsewhere = make_volunteer(tree.community_b1, birth=date(1940, 5, 1))
    client, _organiser = login_as(Role.ORGANISER, tree.community_a1)
    url = f"/checkin/cards/nodes/{tree.community_a1.id}?min_age=70"
    page = client.get(url)
    assert page.status_code == 200
    assert "9" in page.get_data(as_text=True)
    answer = client.post(url, data={"csrf_token": csrf_token(client, url)})
    assert answer.status_code == 302
    holders = set(
        db.session.scalars(select(VolunteerCard.user_id).where(VolunteerCard.revoked_at.is_(None)))
    )
    assert holders == {v.id for v in old}
    sheet = client.get(url).get_data(as_text=True)
    assert sheet.count('data-testid="print-card"') == 9
    assert sheet.count('data-testid="card-sheet"') == 2  # 8 on the first A4 sheet, 1 on the next
    assert re.search(r"JM\d{7}", sheet)
    assert young.id not in holders and elsewhere.id not in holders
    # Issuing again changes nothing: everyone has a card already.
    client.post(url, data={"csrf_token": csrf_token(client, url)})
    assert db.session.scalar(select(func.count()).select_from(VolunteerCard)) == 9


def test_card_sheet_of_another_scope_answers_404(login_as, tree, make_volunteer):
    make_volunteer(tree.community_b1)
    client, _organiser = login_as(Role.ORGANISER, tree.community_a1)
    assert client.get(f"/checkin/cards/nodes/{tree.community_b1.id}").status_code == 404
    lead_client, _lead = login_as(Role.LEAD, tree.community_a1)
    assert lead_client.get(f"/checkin/cards/nodes/{tree.community_a1.id}").status_code == 403
