"""志愿服务证明: the PDF, its self-verifying number and the public verification page."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from flask_babel import force_locale
from pypdf import PdfReader
from sqlalchemy import select

from tests.conftest import Auth
from volunteer_app import hours
from volunteer_app.catalog import CATEGORIES
from volunteer_app.extensions import db
from volunteer_app.models import (
    AuditLog,
    CertificateIssue,
    Role,
    ServiceRecord,
    VolunteerProfile,
)
from volunteer_app.services import certificates
from volunteer_app.timeutil import local_today, utcnow

#: These tests pin other rules; the four-eyes rule: tests/test_national_record.py.
pytestmark = pytest.mark.config(FOUR_EYES_APPROVAL=False)

TODAY = local_today()


@pytest.fixture(autouse=True)
def _same_day(monkeypatch):
    """The pages see the day this module was loaded on: a run that crosses local midnight
    (16:00 UTC) must not issue a certificate dated a day after the numbers expected here."""
    monkeypatch.setattr("volunteer_app.hours.views_volunteer.local_today", lambda: TODAY)


def text(response) -> str:
    return response.get_data(as_text=True)


def pdf_text(data: bytes) -> str:
    """The PDF's text with all white space removed: the CID font STSong-Light extracts
    cleanly with pypdf, but wrapped lines and table cells may split words anywhere."""
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


@pytest.fixture
def served(app, tree, make_user, make_volunteer):
    """王小明 with two approved manual records in the last weeks (150 + 45 minutes) and a
    pending one; returns (volunteer, organiser, profile)."""
    organiser = make_user(Role.ORGANISER, tree.town_a)
    volunteer = make_volunteer(tree.community_a1)
    profile = db.session.get(VolunteerProfile, volunteer.id)
    profile.real_name = "王小明"
    volunteer.display_name = "王小明"
    made = []
    for minutes, days, activity, category in [
        (150, 10, "路口文明劝导", "traffic_order"),
        (45, 5, "背街小巷清扫", "env_sanitation"),
        (60, 2, "未审核的活动", "other"),
    ]:
        made.append(
            hours.add_manual(
                organiser,
                volunteer,
                host=tree.town_a,
                activity=activity,
                service_date=TODAY - timedelta(days=days),
                minutes=minutes,
                place="东关",
                content="",
                category=category,
                reason="纸质签到表",
                today=TODAY,
            )
        )
    hours.decide(organiser, made[:2], True, now=utcnow() - timedelta(days=2))
    db.session.commit()
    return volunteer, organiser, profile


def logged_in(app, user):
    client = app.test_client()
    assert Auth(client).login(user.phone).status_code == 302
    client.set_cookie("lang", "en")
    return client


def download(client, start, end):
    return client.get(f"/my/certificate.pdf?start={start.isoformat()}&end={end.isoformat()}")


def test_the_certificate_pdf_shows_the_title_the_name_the_masked_id_and_the_hours(app, served):
    volunteer, _organiser, profile = served
    client = logged_in(app, volunteer)
    response = download(client, TODAY - timedelta(days=30), TODAY)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    content = pdf_text(response.data)
    assert "志愿服务证明" in content
    assert "王小明" in content
    assert profile.id_masked and profile.id_masked in content
    assert "3.3小时" in content  # 195 minutes = 3.25 h, rounded half up; the pending 60 not
    assert "路口文明劝导" in content and "背街小巷清扫" in content  # the activities
    assert "未审核的活动" not in content
    with force_locale("zh"):
        assert str(CATEGORIES["traffic_order"]).replace(" ", "") in content  # the category
    assert "即墨区文明办志愿先行平台" in content  # the issuer (spaces removed)
    # The short number read aloud (issue 18), recorded with what it certifies.
    issued = db.session.scalars(select(CertificateIssue)).one()
    assert (issued.user_id, issued.issued_on) == (volunteer.id, TODAY)
    number = issued.number
    assert certificates.display_number(number) in content
    assert f"/verify/{number}" in content  # the address the QR code holds
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "certificate.issue"))
    assert row.actor_id == volunteer.id and row.object_id == number
    assert row.detail["minutes"] == 195


def test_the_period_decides_what_is_counted(app, served):
    volunteer, _organiser, _profile = served
    client = logged_in(app, volunteer)
    response = download(client, TODAY - timedelta(days=7), TODAY)
    assert "0.8小时" in pdf_text(response.data)  # only the 45 minutes


def test_a_bad_period_or_one_without_approved_hours_is_refused_and_not_logged(app, served):
    volunteer, _organiser, _profile = served
    client = logged_in(app, volunteer)
    for start, end, message in [
        (TODAY, TODAY - timedelta(days=1), "The first day must not be after the last day."),
        (TODAY, TODAY + timedelta(days=1), "The last day cannot be in the future."),
        (TODAY - timedelta(days=3), TODAY, "no approved service hours"),
    ]:
        response = download(client, start, end)
        assert response.status_code == 302
        assert message in text(client.get(response.location)), message
    response = client.get("/my/certificate.pdf?start=soon&end=")
    assert response.status_code == 302
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "certificate.issue")) is None


def test_a_certificate_needs_a_login(client):
    response = client.get("/my/certificate.pdf?start=2026-01-01&end=2026-01-31")
    assert response.status_code == 302 and "/auth/login" in response.location


def test_the_number_says_what_was_certified_and_signs_it(app, served):
    volunteer, *_ = served
    start, end = TODAY - timedelta(days=30), TODAY
    number = certificates.number_for(volunteer.id, start, end, TODAY)
    assert number.startswith(f"JM{TODAY:%Y%m%d}{volunteer.id:07d}{start:%y%m%d}{end:%y%m%d}-")
    assert re.fullmatch(r"JM\d{27}-[A-Z2-7]{10}", number)
    assert certificates.parse(number) == certificates.Parsed(TODAY, volunteer.id, start, end)
    assert certificates.parse(number.lower()) is not None  # typed in lower case


def test_the_verification_page_shows_the_number_masked_name_hours_and_issuer_and_nothing_else(
    app, served, client
):
    volunteer, _organiser, profile = served
    start = TODAY - timedelta(days=30)
    number = certificates.number_for(volunteer.id, start, TODAY, TODAY)
    client.set_cookie("lang", "en")
    response = client.get(f"/verify/{number}")
    assert response.status_code == 200
    assert response.headers["X-Robots-Tag"] == "noindex"
    page = text(response)
    found = {
        key: re.search(rf'data-testid="{key}">([^<]*)<', page).group(1)
        for key in ("number", "name", "hours", "issuer", "issued")
    }
    assert found == {
        "number": number,
        "name": "王**",
        "hours": "3.3 hours",
        "issuer": "即墨区文明办 志愿先行平台",
        "issued": TODAY.isoformat(),
    }
    for secret in (
        "王小明",
        "小明",
        profile.id_masked,
        profile.id_masked[-4:],
        volunteer.phone,
        volunteer.masked_phone,
        volunteer.phone[-4:],
        "东关社区",  # the community
        "路口文明劝导",  # what they did
        profile.birth_date.isoformat(),
    ):
        assert secret not in page, secret


def test_a_tampered_number_is_refused(app, served, client):
    volunteer, *_ = served
    start = TODAY - timedelta(days=30)
    number = certificates.number_for(volunteer.id, start, TODAY, TODAY)
    body, tag = number.split("-")
    other_user = certificates.number_for(volunteer.id + 1, start, TODAY, TODAY).split("-")[0]
    longer = body[:-6] + f"{TODAY + timedelta(days=1):%y%m%d}"
    forged_tag = ("A" if tag[0] != "A" else "B") + tag[1:]
    client.set_cookie("lang", "en")
    for bad in (
        f"{other_user}-{tag}",  # someone else's certificate with this tag
        f"{longer}-{tag}",  # a longer period
        f"{body}-{forged_tag}",
        body,
        "JM123",
        number + "A",
    ):
        response = client.get(f"/verify/{bad}")
        assert response.status_code == 404, bad
        page = text(response)
        assert "Not a valid certificate" in page and "王**" not in page, bad
        assert certificates.verify(bad, today=TODAY) is None
    # A genuine tag under another secret key is refused too.
    app.config["SECRET_KEY"] = "another-secret-key"
    assert certificates.verify(number, today=TODAY) is None


def test_a_number_dated_after_today_is_refused(app, served):
    volunteer, *_ = served
    tomorrow = TODAY + timedelta(days=1)
    number = certificates.number_for(volunteer.id, TODAY - timedelta(days=30), TODAY, tomorrow)
    assert certificates.verify(number, today=TODAY) is None
    assert certificates.verify(number, today=tomorrow) is not None


def test_the_verified_hours_stay_as_issued_when_a_correction_is_approved_later(app, served):
    volunteer, organiser, _profile = served
    start = TODAY - timedelta(days=30)
    yesterday = TODAY - timedelta(days=1)
    issued_yesterday = certificates.number_for(volunteer.id, start, yesterday, yesterday)
    assert certificates.verify(issued_yesterday, today=TODAY).hours == "3.3"
    original = db.session.scalar(select(ServiceRecord).where(ServiceRecord.minutes == 150))
    correction = hours.add_correction(organiser, original, 60, "补记")
    hours.decide(organiser, [correction], True, now=utcnow())
    db.session.commit()
    # The correction is dated on the original's day, inside the period, but was approved
    # after the day of issue: the certificate of yesterday still verifies as printed.
    assert certificates.verify(issued_yesterday, today=TODAY).hours == "3.3"
    issued_today = certificates.number_for(volunteer.id, start, TODAY, TODAY)
    assert certificates.verify(issued_today, today=TODAY).hours == "4.3"


def test_a_deleted_account_has_no_verifiable_certificates(app, served):
    volunteer, *_ = served
    number = certificates.number_for(volunteer.id, TODAY - timedelta(days=30), TODAY, TODAY)
    volunteer.deleted_at = utcnow()
    db.session.commit()
    assert certificates.verify(number, today=TODAY) is None


def test_masking_and_rounding(app):
    assert certificates.masked_name("王小明") == "王**"
    assert certificates.masked_name("李四") == "李*"
    assert certificates.masked_name("欧阳娜娜") == "欧***"
    assert certificates.hours_text(195) == "3.3"
    assert certificates.hours_text(3) == "0.1"
    assert certificates.hours_text(2) == "0.0"
    assert certificates.hours_text(6000) == "100.0"
