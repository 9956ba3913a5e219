"""The volunteer's rights: the data download holds every row that references them (the
tables are found from the schema's foreign keys, so a new one cannot be forgotten), in
Chinese labels; deletion erases the personal fields, e-mail and notification addresses and
keeps only the anonymised ledger."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, Auth
from volunteer_app.extensions import db
from volunteer_app.models import (
    AffiliationHistory,
    Attendance,
    AuditLog,
    CertificateIssue,
    Channel,
    CorrectionRequest,
    DeviceKey,
    ExternalRecord,
    LoginThrottle,
    MembershipStatus,
    Notification,
    OrgLevel,
    RecordKind,
    RecordStatus,
    Role,
    RoleGrant,
    ScanLog,
    ScanMethod,
    ServiceRecord,
    Shift,
    ShiftLead,
    Signup,
    SignupStatus,
    SmsCode,
    TeamMembership,
    TempItem,
    TrainingRecord,
    User,
    VolunteerCard,
    VolunteerProfile,
)
from volunteer_app.services import orgs, privacy, volunteers
from volunteer_app.timeutil import local_today, utcnow


def _columns_referencing_users() -> set[tuple[str, str]]:
    """Every (table, column) whose foreign key points at users, plus any column named
    user_id without one."""
    found = set()
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            points_at_users = any(fk.column.table.name == "users" for fk in column.foreign_keys)
            if points_at_users or (column.name == "user_id" and table.name != "users"):
                found.add((table.name, column.name))
    return found


def test_every_column_referencing_users_is_in_the_download_or_said_why_not(app):
    assert _columns_referencing_users() == set(privacy.HELD)
    for key, held in privacy.HELD.items():
        assert held.on_delete in ("deleted", "erased", "kept"), key
        assert held.section is not None or held.why, key


@pytest.fixture
def everything(app, tree, make_volunteer, make_event, make_user):
    """A volunteer with at least one row in every table the download covers."""
    volunteer = make_volunteer()
    volunteer.email = "zhang@example.cn"
    lead = make_user(Role.LEAD, tree.town_a)
    past_event, past = make_event(starts_in=timedelta(days=-3), title="旧活动")
    _future_event, future = make_event(capacity=1, waitlist=2, starts_in=timedelta(days=5))
    other = make_volunteer()
    now = utcnow()
    uid = volunteer.id
    done = Signup(shift_id=past.id, user_id=uid, status=SignupStatus.ATTENDED)
    coming = Signup(shift_id=future.id, user_id=uid, status=SignupStatus.CONFIRMED)
    waiting = Signup(shift_id=future.id, user_id=other.id, status=SignupStatus.WAITLISTED)
    future.taken, future.waitlisted = 1, 1
    db.session.add_all([done, coming, waiting])
    db.session.flush()
    record = ServiceRecord(
        user_id=uid,
        kind=RecordKind.SERVICE,
        status=RecordStatus.APPROVED,
        shift_id=past.id,
        event_id=past_event.id,
        activity="旧活动",
        service_date=local_today() - timedelta(days=3),
        minutes=180,
        community_id=tree.community_a1.id,
    )
    team = orgs.create_node("青年突击队", OrgLevel.TEAM, tree.youth_league)
    db.session.add_all(
        [
            record,
            Attendance(
                signup_id=done.id,
                shift_id=past.id,
                user_id=uid,
                checked_in_at=past.starts_at,
                checked_out_at=past.ends_at,
                in_method=ScanMethod.LEAD_SCAN,
                in_by_id=lead.id,
            ),
            ScanLog(volunteer_id=uid, lead_id=lead.id, method="scanner", ok=True, code="ok"),
            TrainingRecord(
                user_id=uid,
                name="急救培训",
                minutes=60,
                organiser="红十字会",
                held_on=local_today(),
            ),
            AffiliationHistory(user_id=uid, community_id=tree.community_a1.id),
            TeamMembership(user_id=uid, team=team, status=MembershipStatus.APPROVED),
            RoleGrant(user_id=uid, org_unit_id=tree.town_a.id, role=Role.LEAD),
            ShiftLead(shift_id=past.id, user_id=uid),
            VolunteerCard(user_id=uid, issued_by_id=lead.id),
            Notification(
                user_id=uid,
                channel=Channel.SMS,
                address=volunteer.phone,
                template="sms_code",
                body="您的验证码",
            ),
            Notification(
                user_id=uid,
                channel=Channel.EMAIL,
                address=volunteer.email,
                template="reminder",
                body="明天见",
            ),
            AuditLog(actor_id=uid, action="volunteer.consent", ip="10.0.0.1"),
            TempItem(
                token="t" * 30,
                user_id=uid,
                kind="import",
                data=b"x",
                expires_at=now + timedelta(hours=1),
            ),
            SmsCode(phone=volunteer.phone, purpose="register", expires_at=now),
            LoginThrottle(phone=volunteer.phone, failures=1),
            CertificateIssue(
                number="JM4K7QM3XD",
                user_id=uid,
                start=local_today() - timedelta(days=30),
                end=local_today(),
                issued_on=local_today(),
                minutes=180,
            ),
            ExternalRecord(
                user_id=uid,
                service_date=local_today() - timedelta(days=400),
                minutes=90,
                organisation="城阳区志愿者协会",
                activity="海滩清洁",
            ),
            DeviceKey(user_id=uid, secret_encrypted="gAAAA-the-phone-secret"),
        ]
    )
    db.session.flush()
    db.session.add(CorrectionRequest(user_id=uid, record_id=record.id, message="时长少算了"))
    db.session.commit()
    return volunteer, future.id, other.id


def _count(table: str, column: str, user_id: int) -> int:
    t = db.metadata.tables[table]
    return db.session.scalar(select(func.count()).select_from(t).where(t.c[column] == user_id))


def test_the_download_holds_every_row_that_references_the_volunteer(everything):
    volunteer, _shift, _other = everything
    data = volunteers.export_data(volunteer)
    for (table, column), held in privacy.HELD.items():
        if held.section is None:
            continue
        rows = _count(table, column, volunteer.id)
        assert rows >= 1, f"the fixture has no {table} row: add one so it is compared"
        section = data[held.section]
        shown = 1 if isinstance(section, dict) else len(section)
        assert shown == rows, (table, column, held.section)
    assert data["account"]["email"] == "zhang@example.cn"
    assert data["consent"][0]["consented_at"]
    assert data["profile"]["id_number"] == volunteers.id_number_of(
        db.session.get(VolunteerProfile, volunteer.id)
    )


def test_the_download_lists_certificates_national_hours_and_phones_but_never_a_phone_secret(
    everything,
):
    """PIPL Art 45: the certificates issued, the hours imported from the national system and
    the phones given a code key are the volunteer's data too; the key itself is a secret."""
    volunteer, _shift, _other = everything
    data = volunteers.export_data(volunteer)
    assert data["certificates"] == [
        {
            "certificate_number": "JM-4K7Q-M3XD",
            "from": (local_today() - timedelta(days=30)).isoformat(),
            "to": local_today().isoformat(),
            "hours_value": 3.0,
            "issued_on": local_today().isoformat(),
        }
    ]
    assert data["external_hours"][0]["organisation"] == "城阳区志愿者协会"
    assert data["external_hours"][0]["hours_value"] == 1.5
    assert data["phone_codes"][0]["revoked_at"] is None
    assert "the-phone-secret" not in json.dumps(data, ensure_ascii=False, default=str)


def test_the_download_speaks_chinese_every_key_and_coded_value(everything, client):
    volunteer, _shift, _other = everything
    Auth(client).login(volunteer.phone)
    response = client.get("/me/data?format=json")
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(response.get_data(as_text=True))
    keys: list[str] = []

    def walk(value):
        if isinstance(value, dict):
            for key, inner in value.items():
                keys.append(key)
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(data)
    english = [k for k in keys if k.isascii()]
    assert english == [], english
    assert data["账号"]["手机号"] == volunteer.phone
    assert "已签到" in json.dumps(data, ensure_ascii=False) or "已参加" in json.dumps(
        data, ensure_ascii=False
    )
    page = client.get("/me/data").get_data(as_text=True)
    assert "志愿者档案" in page and "attended" not in page and "resident" not in page


def test_deletion_erases_addresses_and_keeps_only_the_anonymised_ledger(everything, client):
    volunteer, future_shift, other_id = everything
    uid, phone = volunteer.id, volunteer.phone
    kept_before = {
        key: _count(*key, uid)
        for key, held in privacy.HELD.items()
        if held.on_delete == "kept" and held.section is not None
    }
    Auth(client).login(phone)
    response = Auth(client).post("/me/delete", {"password": PASSWORD, "confirm": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, uid)
    assert user.email is None and user.phone != phone and user.display_name == ""
    assert user.calendar_token is None and not user.notify_sms and not user.notify_email
    for (table, column), held in privacy.HELD.items():
        if held.on_delete == "deleted":
            assert _count(table, column, uid) == 0, table
    profile = db.session.get(VolunteerProfile, uid)
    assert profile.real_name is None and profile.id_number_encrypted is None
    assert profile.emergency_phone is None and profile.guardian_phone is None
    assert profile.community_id is not None  # attribution stays for the tallies
    assert db.session.scalar(select(CorrectionRequest.message)) == ""
    # No message, code or lockout row names the old number or e-mail any more.
    for model, column, value in (
        (Notification, Notification.address, phone),
        (Notification, Notification.address, "zhang@example.cn"),
        (SmsCode, SmsCode.phone, phone),
        (LoginThrottle, LoginThrottle.phone, phone),
    ):
        assert (
            db.session.scalar(select(func.count()).select_from(model).where(column == value)) == 0
        )
    # The ledger and what it rests on stay, unchanged in number.
    assert db.session.scalar(select(func.count()).select_from(ServiceRecord)) == 1
    for key, before in kept_before.items():
        if key != ("audit_logs", "actor_id"):  # the deletion itself is audited
            assert _count(*key, uid) == before, key
    # The place of the future shift went to the first on the waitlist.
    shift = db.session.get(Shift, future_shift)
    promoted = db.session.scalar(select(Signup).where(Signup.user_id == other_id))
    assert promoted.status is SignupStatus.CONFIRMED and shift.taken == 1
