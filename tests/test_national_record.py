"""Issue 18, the record chain that counts: the export to the national volunteer system
(fields, scope, batches, only new, corrections flagged, formula-safe), the import of
external hours (per-row errors, all-or-nothing, duplicates), four eyes on approvals, the
attribution snapshot at the time of service, the holiday calendar, the national volunteer
number and the certificate (short number, embedded CJK font)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.conftest import Auth, csrf_token
from volunteer_app import hours
from volunteer_app.extensions import db
from volunteer_app.models import (
    AffiliationHistory,
    Attendance,
    AuditLog,
    ExchangeEntry,
    ExternalRecord,
    RecordKind,
    RecordStatus,
    Role,
    ScanMethod,
    ServiceRecord,
    ShiftLead,
    Signup,
    SignupStatus,
    TallyCell,
    VolunteerProfile,
)
from volunteer_app.services import (
    ServiceError,
    certificate_pdf,
    certificates,
    exchange,
    exchange_file,
    external_hours,
    holidays,
    national_numbers,
    pdf_fonts,
    volunteers,
)
from volunteer_app.timeutil import local_today, utcnow


@pytest.fixture(autouse=True)
def english(app):
    with force_locale("en"):
        yield


def login(app, user):
    client = app.test_client()
    assert Auth(client).login(user.phone).status_code == 302
    client.set_cookie("lang", "en")
    return client


def attend(shift, volunteer) -> None:
    signup = Signup(shift_id=shift.id, user_id=volunteer.id, status=SignupStatus.ATTENDED)
    db.session.add(signup)
    db.session.flush()
    db.session.add(
        Attendance(
            signup_id=signup.id,
            shift_id=shift.id,
            user_id=volunteer.id,
            checked_in_at=shift.starts_at,
            checked_out_at=shift.ends_at,
            in_method=ScanMethod.MANUAL,
            out_method=ScanMethod.MANUAL,
        )
    )
    db.session.commit()


@pytest.fixture
def people(make_user, tree):
    """A lead of the shift, the town organiser (who confirms), a second organiser of the
    town (who approves) and a recorder of the town."""
    return {
        "lead": make_user(Role.LEAD, tree.community_a1, name="领队"),
        "organiser": make_user(Role.ORGANISER, tree.town_a, name="组织者甲"),
        "second": make_user(Role.ORGANISER, tree.town_a, name="组织者乙"),
        "recorder": make_user(Role.RECORDER, tree.town_a, name="报送员"),
    }


@pytest.fixture
def served(make_event, make_volunteer, tree, people):
    """A shift of town A that ended, led by the lead, attended by one volunteer, and
    confirmed by the lead: one pending record."""
    _event, shift = make_event(starts_in=timedelta(days=-3), hours=2)
    shift.leads.append(ShiftLead(user_id=people["lead"].id))
    volunteer = make_volunteer(tree.community_a1)
    attend(shift, volunteer)
    records = hours.confirm_shift(people["lead"], shift, now=utcnow())
    db.session.commit()
    return shift, volunteer, records


def approve(people, records):
    hours.decide(people["second"], records, True, now=utcnow())
    db.session.commit()


# ---------------------------------------------------------------- four eyes


def test_the_lead_who_confirmed_a_shift_cannot_approve_it(app, served, people):
    _shift, _volunteer, records = served
    with pytest.raises(ServiceError, match="yourself"):
        hours.decide(people["lead"], records, True, now=utcnow())
    db.session.rollback()
    assert records[0].status is RecordStatus.PENDING


def test_the_lead_is_refused_on_the_shift_page_and_the_record_stays_pending(app, served, people):
    shift, _volunteer, records = served
    client = login(app, people["lead"])
    response = Auth(client).post(f"/hours/shifts/{shift.id}/decide", {"op": "approve", "all": "1"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ServiceRecord, records[0].id).status is RecordStatus.PENDING


def test_an_organiser_who_confirmed_cannot_approve_and_another_organiser_can(
    app, make_event, make_volunteer, tree, people
):
    _event, shift = make_event(starts_in=timedelta(days=-3), hours=2)
    attend(shift, make_volunteer(tree.community_a1))
    records = hours.confirm_shift(people["organiser"], shift, now=utcnow())
    db.session.commit()
    with pytest.raises(ServiceError):
        hours.decide(people["organiser"], records, True, now=utcnow())
    db.session.rollback()
    assert hours.decide(people["second"], records, True, now=utcnow()) == 1
    db.session.commit()
    assert records[0].status is RecordStatus.APPROVED
    assert records[0].decided_by_id == people["second"].id


def test_whoever_entered_a_manual_record_cannot_approve_it(app, make_volunteer, tree, people):
    record = hours.add_manual(
        people["organiser"],
        make_volunteer(tree.community_a1),
        host=tree.town_a,
        activity="敬老院探访",
        service_date=local_today() - timedelta(days=2),
        minutes=60,
        place="",
        content="",
        category="other",
        reason="纸质签到表",
        today=local_today(),
    )
    db.session.commit()
    with pytest.raises(ServiceError):
        hours.decide(people["organiser"], [record], True, now=utcnow())
    db.session.rollback()
    assert hours.decide(people["second"], [record], True, now=utcnow()) == 1


@pytest.mark.config(FOUR_EYES_APPROVAL=False)
def test_without_the_four_eyes_setting_the_lead_approves_their_shift(app, served, people):
    _shift, _volunteer, records = served
    assert hours.decide(people["lead"], records, True, now=utcnow()) == 1


# ---------------------------------------------------------------- attribution


def test_the_attribution_is_the_community_at_the_time_of_service_not_at_confirmation(
    app, make_event, make_volunteer, tree, people
):
    _event, shift = make_event(starts_in=timedelta(days=-3), hours=2)
    volunteer = make_volunteer(tree.community_a1)
    # Lived in 东关 until after the shift, then moved to 岘山 before the lead confirmed.
    moved = shift.ends_at + timedelta(days=1)
    db.session.add_all(
        [
            AffiliationHistory(
                user_id=volunteer.id,
                community_id=tree.community_a1.id,
                valid_from=shift.starts_at - timedelta(days=100),
                valid_to=moved,
            ),
            AffiliationHistory(
                user_id=volunteer.id, community_id=tree.community_b1.id, valid_from=moved
            ),
        ]
    )
    db.session.get(VolunteerProfile, volunteer.id).community_id = tree.community_b1.id
    db.session.commit()
    attend(shift, volunteer)
    [record] = hours.confirm_shift(people["organiser"], shift, now=utcnow())
    assert record.community_id == tree.community_a1.id


# ---------------------------------------------------------------- holidays


def test_national_day_and_its_working_saturday_count_in_the_ten_working_days(app):
    # 2026: 10-01..10-07 off, Saturday 10-10 worked (国务院办公厅, 2025-11-04).
    assert hours.working_days_between(date(2026, 9, 30), date(2026, 10, 16)) == 8
    assert not holidays.is_working_day(date(2026, 10, 5))
    assert holidays.is_working_day(date(2026, 10, 10))
    assert holidays.is_working_day(date(2026, 2, 14)) and holidays.is_working_day(date(2026, 1, 4))
    record = ServiceRecord(
        kind=RecordKind.SERVICE,
        status=RecordStatus.PENDING,
        service_date=date(2026, 9, 30),
    )
    assert not hours.is_overdue(record, date(2026, 10, 20))  # 10 working days
    assert hours.is_overdue(record, date(2026, 10, 21))  # 11


def test_a_year_not_yet_published_counts_monday_to_friday(app):
    assert not holidays.is_published(2027)
    assert hours.working_days_between(date(2027, 9, 30), date(2027, 10, 8)) == 6


def test_a_malformed_holiday_file_is_refused(app):
    with pytest.raises(ValueError):
        holidays.parse({"years": {"2026": {"holidays": [["2026-10-07", "2026-10-01", "x"]]}}})
    with pytest.raises(ValueError):
        holidays.parse(
            {
                "years": {
                    "2026": {
                        "holidays": [["2026-10-01", "2026-10-02", "x"]],
                        "workdays": [["2026-10-01", "y"]],
                    }
                }
            }
        )


# ---------------------------------------------------------------- national number


def test_the_national_number_is_normalised_shape_checked_and_unique(app, make_volunteer, tree):
    first, second = make_volunteer(tree.community_a1), make_volunteer(tree.community_a1)
    profile = national_numbers.set_number(first, " ｊｍ-0012 3456 ")
    assert profile.national_number == "JM00123456"
    for bad in ("12345", "ABCDEFGH", "JM0012!34", "9" * 40):
        with pytest.raises(ServiceError):
            national_numbers.set_number(second, bad)
    with pytest.raises(ServiceError, match="another account"):
        national_numbers.set_number(second, "jm00123456")
    db.session.rollback()


def test_a_volunteer_saves_the_national_number_from_the_profile_page(app, make_volunteer, tree):
    volunteer = make_volunteer(tree.community_a1)
    client = login(app, volunteer)
    response = Auth(client).post("/my/national-number", {"number": "bad!"})
    assert response.status_code == 302
    assert db.session.get(VolunteerProfile, volunteer.id).national_number is None
    Auth(client).post("/my/national-number", {"number": "jm20260001"})
    db.session.expire_all()
    assert db.session.get(VolunteerProfile, volunteer.id).national_number == "JM20260001"
    assert "JM20260001" in client.get("/me").get_data(as_text=True)


# ---------------------------------------------------------------- the export


@pytest.fixture
def approved(served, people):
    """The served record approved by the second organiser; the volunteer has a national
    volunteer number."""
    _shift, volunteer, records = served
    approve(people, records)
    national_numbers.set_number(volunteer, "JM20260042")
    db.session.commit()
    return volunteer, records[0]


def _range():
    today = local_today()
    return today - timedelta(days=30), today


def test_the_export_carries_the_fields_of_the_measures_with_the_full_id_number(
    app, approved, people, tree
):
    volunteer, record = approved
    start, end = _range()
    batch = exchange.create_batch(
        people["recorder"], tree.town_a, start, end, today=local_today(), now=utcnow()
    )
    db.session.commit()
    tables = exchange_file.batch_tables(batch)
    headers, rows = tables["records"]
    assert headers == [h for _f, h in exchange_file.sheet("records").columns]
    assert {"姓名", "证件号码", "活动名称", "服务日期", "服务地点", "服务内容"} <= set(headers)
    assert {"服务时间（小时）", "活动组织单位", "活动负责人", "志愿者统一编号"} <= set(headers)
    row = dict(zip(headers, rows[0], strict=True))
    profile = db.session.get(VolunteerProfile, volunteer.id)
    assert row["证件号码"] == volunteers.id_number_of(profile)  # the full number
    assert row["志愿者统一编号"] == "JM20260042"
    assert row["服务时间（小时）"] == "2.0" and row["报送类型"] == "新增"
    assert row["活动组织单位"] == tree.town_a.name and row["记录编号"] == record.id
    v_headers, v_rows = tables["volunteers"]
    person = dict(zip(v_headers, v_rows[0], strict=True))
    assert person["性别"] == "男" and person["出生日期"] == "1990-01-01"
    assert person["居住区域"] == f"{tree.town_a.name} {tree.community_a1.name}"
    assert person["联系方式"] == volunteer.phone


def test_a_batch_marks_its_records_and_the_next_offers_only_new_ones(app, approved, people, tree):
    start, end = _range()
    first = exchange.create_batch(
        people["recorder"], tree.town_a, start, end, today=local_today(), now=utcnow()
    )
    db.session.commit()
    assert first.records == 1
    entries = db.session.scalars(select(ExchangeEntry)).all()
    assert [e.batch_id for e in entries] == [first.id]
    with pytest.raises(ServiceError, match="No new"):
        exchange.create_batch(
            people["recorder"], tree.town_a, start, end, today=local_today(), now=utcnow()
        )
    db.session.rollback()
    with pytest.raises(ServiceError):
        exchange.create_batch(
            people["recorder"], tree.town_b, start, end, today=local_today(), now=utcnow()
        )
    db.session.rollback()


def test_a_record_of_another_town_is_not_in_the_batch(
    app, approved, people, tree, make_event, make_volunteer, make_user
):
    b_lead = make_user(Role.ORGANISER, tree.town_b)
    b_approver = make_user(Role.ORGANISER, tree.town_b)
    _e, other = make_event(starts_in=timedelta(days=-2), hours=1, host=tree.town_b)
    attend(other, make_volunteer(tree.community_b1))
    hours.decide(b_approver, hours.confirm_shift(b_lead, other, now=utcnow()), True, now=utcnow())
    db.session.commit()
    start, end = _range()
    batch = exchange.create_batch(
        people["recorder"], tree.town_a, start, end, today=local_today(), now=utcnow()
    )
    db.session.commit()
    hosts = {
        db.session.get(ServiceRecord, e.record_id).host_id
        for e in db.session.scalars(select(ExchangeEntry).where(ExchangeEntry.batch_id == batch.id))
    }
    assert hosts == {tree.town_a.id}


def test_a_correction_after_export_is_flagged_and_the_next_batch_re_enters_it(
    app, approved, people, tree
):
    _volunteer, record = approved
    start, end = _range()
    exchange.create_batch(
        people["recorder"], tree.town_a, start, end, today=local_today(), now=utcnow()
    )
    db.session.commit()
    correction = hours.add_correction(people["organiser"], record, 30, "签退时间有误")
    hours.decide(people["second"], [correction], True, now=utcnow())
    db.session.commit()
    [flagged] = exchange.to_re_enter(tree.town_a)
    assert (flagged.record.id, flagged.exported_minutes, flagged.minutes) == (record.id, 120, 150)
    second = exchange.create_batch(
        people["recorder"], tree.town_a, start, end, today=local_today(), now=utcnow()
    )
    db.session.commit()
    assert (second.records, second.corrected) == (1, 1)
    headers, rows = exchange_file.batch_tables(second)["records"]
    row = dict(zip(headers, rows[0], strict=True))
    assert row["报送类型"] == "更正" and row["服务时间（小时）"] == "2.5"
    assert exchange.to_re_enter(tree.town_a) == []


def test_the_export_files_are_formula_safe(app, approved, people, tree):
    _volunteer, record = approved
    db.session.execute(
        ServiceRecord.__table__.update()
        .where(ServiceRecord.id == record.id)
        .values(activity='=HYPERLINK("http://x","y")', place="+1", content="@SUM(A1)")
    )
    db.session.commit()
    start, end = _range()
    batch = exchange.create_batch(
        people["recorder"], tree.town_a, start, end, today=local_today(), now=utcnow()
    )
    db.session.commit()
    data, _mimetype, _name = exchange_file.render(people["recorder"], batch, "csv", "records")
    rows = exchange_file.read_csv(data)
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["活动名称"].startswith("'=") and cells["服务地点"] == "'+1"
    data, _mimetype, _name = exchange_file.render(people["recorder"], batch, "xlsx")
    sheet = load_workbook(io.BytesIO(data))[exchange_file.sheet("records").title]
    values = [c.value for c in sheet[2]]
    assert '\'=HYPERLINK("http://x","y")' in values
    assert all(c.data_type != "f" for c in sheet[2])


def test_only_the_recorder_role_exports_and_every_download_is_audited(
    app, approved, people, tree, make_user
):
    organiser_page = login(app, people["organiser"]).get("/hours/exchange")
    assert organiser_page.status_code == 403
    client = login(app, people["recorder"])
    assert client.get("/hours/exchange").status_code == 200
    start, end = _range()
    response = Auth(client).post(
        "/hours/exchange/batches",
        {"scope": tree.town_a.id, "start": start.isoformat(), "end": end.isoformat()},
    )
    assert response.status_code == 302
    batch_id = db.session.scalar(select(func.max(ExchangeEntry.batch_id)))
    download = client.get(f"/hours/exchange/batches/{batch_id}.xlsx")
    assert download.status_code == 200 and download.data.startswith(b"PK")
    actions = [a.action for a in db.session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert "exchange.batch" in actions and "exchange.download" in actions
    other = login(app, make_user(Role.RECORDER, tree.town_b))
    assert other.get(f"/hours/exchange/batches/{batch_id}.xlsx").status_code == 404
    assert client.get("/hours/exchange/batches/99999.csv").status_code == 404
    bad = Auth(client).post(
        "/hours/exchange/batches", {"scope": tree.town_a.id, "start": "x", "end": "y"}
    )
    assert bad.status_code == 400


def test_a_changed_header_in_the_mapping_file_needs_no_code(app):
    raw = {
        "volunteers": {"columns": [["name", "志愿者姓名"]]},
        "records": {"columns": [["hours", "时长"], ["name", "姓名"]]},
    }
    parsed = exchange_file.parse_columns(raw)
    assert parsed[1].columns == [("hours", "时长"), ("name", "姓名")]
    with pytest.raises(ValueError, match="unknown field"):
        exchange_file.parse_columns(
            {"volunteers": {"columns": [["salary", "x"]]}, "records": raw["records"]}
        )


# ---------------------------------------------------------------- the import


def _csv(*rows: str) -> bytes:
    return (
        "\ufeff证件号码,志愿者统一编号,服务日期,服务时长（小时）,组织单位,活动名称\n"
        + "\n".join(rows)
    ).encode()


def _id(volunteer) -> str:
    return volunteers.id_number_of(db.session.get(VolunteerProfile, volunteer.id))


def test_bad_rows_are_refused_each_with_its_row_and_nothing_is_imported(
    app, make_volunteer, tree, people
):
    volunteer = make_volunteer(tree.community_a1)
    data = _csv(
        f"{_id(volunteer)},,2026-03-01,2.5,青岛市志愿者协会,海滩清洁",  # good
        ",,2026-03-02,1,某协会,活动",  # no identifier
        f"{_id(volunteer)},,2099-01-01,1,某协会,活动",  # future
        f"{_id(volunteer)},,2026-03-03,25,某协会,活动",  # too long
        "110101199001011234,,2026-03-03,1,某协会,活动",  # nobody
        f"{_id(volunteer)},,2026-03-04,1,,",  # no organisation nor activity
    )
    with pytest.raises(external_hours.ImportRefused) as refused:
        external_hours.run(data, people["recorder"], today=local_today(), now=utcnow())
    db.session.rollback()
    rows = [e.row for e in refused.value.errors]
    assert rows == [3, 4, 5, 6, 7, 7]
    assert db.session.scalar(select(func.count()).select_from(ExternalRecord)) == 0


def test_duplicates_in_the_file_or_imported_before_are_refused(app, make_volunteer, tree, people):
    volunteer = make_volunteer(tree.community_a1)
    national_numbers.set_number(volunteer, "JM77770001")
    db.session.commit()
    row = f"{_id(volunteer)},,2026-03-01,2,青岛市志愿者协会,海滩清洁"
    twice = _csv(row, ",jm77770001,2026-03-01,2,青岛市志愿者协会,海滩清洁")
    with pytest.raises(external_hours.ImportRefused) as refused:
        external_hours.run(twice, people["recorder"], today=local_today(), now=utcnow())
    db.session.rollback()
    assert [e.row for e in refused.value.errors] == [3]
    assert external_hours.run(_csv(row), people["recorder"], today=local_today(), now=utcnow()) == 1
    db.session.commit()
    with pytest.raises(external_hours.ImportRefused):
        external_hours.run(_csv(row), people["recorder"], today=local_today(), now=utcnow())
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ExternalRecord)) == 1


def test_external_hours_show_in_my_hours_never_in_tallies_and_in_stars_by_setting(
    app, make_volunteer, tree, people
):
    volunteer = make_volunteer(tree.community_a1)
    # 5 days of 20 hours: 100 hours, one star if counted.
    data = _csv(
        *(f"{_id(volunteer)},,2026-03-0{d},20,青岛市志愿者协会,海滩清洁" for d in range(1, 6))
    )
    client = login(app, people["recorder"])
    response = client.post(
        "/hours/exchange/import",
        data={
            "csrf_token": csrf_token(client, "/hours/exchange"),
            "file": (io.BytesIO(data), "external.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(ExternalRecord)) == 5
    assert db.session.scalar(select(func.count()).select_from(TallyCell)) == 0
    assert db.session.get(VolunteerProfile, volunteer.id).approved_minutes == 0
    page = login(app, volunteer).get("/my/hours").get_data(as_text=True)
    assert "External record" in page and "海滩清洁" in page
    assert 'data-level="0"' in page  # not counted unless the district says so
    app.config["EXTERNAL_HOURS_COUNT_FOR_STARS"] = True
    page = login(app, volunteer).get("/my/hours").get_data(as_text=True)
    assert 'data-level="1"' in page  # 100 h: one star


# ---------------------------------------------------------------- the certificate


def test_a_certificate_number_is_short_and_verifies_as_read_aloud(app, approved, people):
    volunteer, _record = approved
    start, end = _range()
    issued = certificates.issue(volunteer, start, end, today=local_today())
    db.session.commit()
    shown = issued.display_number
    assert len(shown) == 12 and shown.startswith("JM-")
    spoken = shown.lower().replace("-", " ").replace("0", "o")
    assert certificates.verify(spoken, today=local_today()).hours == "2.0"
    assert certificates.verify("JM-0000-0000", today=local_today()) is None


def _embedded_font_available() -> bool:
    return bool(os.environ.get("CERTIFICATE_FONT")) or any(
        os.path.exists(c.split("#")[0]) for c in pdf_fonts.CANDIDATES
    )


@pytest.mark.skipif(shutil.which("pdffonts") is None, reason="pdffonts (poppler-utils) missing")
@pytest.mark.skipif(
    not _embedded_font_available(),
    reason="no TrueType CJK font: apt-get install fonts-wqy-microhei, or set CERTIFICATE_FONT",
)
def test_the_certificate_embeds_its_cjk_font_and_states_the_issuer(app, approved, people, tmp_path):
    app.config["CERTIFICATE_FONT"] = os.environ.get("CERTIFICATE_FONT", "")
    volunteer, _record = approved
    start, end = _range()
    issued = certificates.issue(volunteer, start, end, today=local_today())
    pdf = certificate_pdf.render_pdf(issued, "http://localhost/verify/x")
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    listing = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True
    ).stdout
    rows = [line.split() for line in listing.splitlines()[2:]]
    assert rows, listing
    # name type encoding emb sub uni object ID: the Chinese is set in an embedded TrueType
    # subset (reportlab's page default Helvetica is one of the 14 standard fonts).
    cjk = [r for r in rows if r[1] == "TrueType"]
    assert cjk and all(r[-5] == "yes" for r in cjk), listing
    assert "STSong" not in listing
    text = (
        subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
        .stdout.replace(" ", "")
        .replace("\n", "")
    )
    assert "志愿者统一编号：JM20260042" in text
    assert "出具单位" in text and "负责人" in text and "经办人" in text and "联系电话" in text
