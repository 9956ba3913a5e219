"""Roster import: read by content, every row checked, all or nothing, invitations by SMS."""

from __future__ import annotations

import csv
import html as htmllib
import io
import re
import zipfile
from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from tests.conftest import Auth, csrf_token
from volunteer_app.extensions import db
from volunteer_app.models import (
    AuditLog,
    Channel,
    Gender,
    IdType,
    Notification,
    PoliticalStatus,
    Role,
    TempItem,
    User,
    VolunteerProfile,
)
from volunteer_app.services import ServiceError, idnumbers, volunteers
from volunteer_app.timeutil import local_today, utcnow
from volunteer_app.volunteers import imports
from volunteer_app.volunteers.import_views import XLSX

HEADERS = list(imports.HEADERS.values())
IMPORT = "/volunteers/import"
CONFIRM = "/volunteers/import/confirm"


def resident(serial: int, *, male: bool = True, born: date = date(1990, 5, 1)) -> str:
    return idnumbers.make_resident_number(region="370282", born=born, serial=2 * serial, male=male)


def row(
    name: str,
    phone: str,
    id_number: str,
    *,
    town: str = "环秀街道",
    community: str = "东关社区",
    politics: str = "群众",
    branch: str = "",
    id_type: str = "",
    gender: str = "",
    birth_date: str = "",
    skills: str = "",
    categories: str = "",
    emergency_name: str = "",
    emergency_phone: str = "",
) -> list[str]:
    """A roster line in the template's column order."""
    values = {
        "name": name,
        "phone": phone,
        "id_type": id_type,
        "id_number": id_number,
        "gender": gender,
        "birth_date": birth_date,
        "town": town,
        "community": community,
        "political_status": politics,
        "branch": branch,
        "skills": skills,
        "categories": categories,
        "emergency_name": emergency_name,
        "emergency_phone": emergency_phone,
    }
    return [values[key] for key in imports.HEADERS]


def xlsx(rows: list[list[str]], headers: list[str] = HEADERS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for line in rows:
        sheet.append(line)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def three_rows() -> list[list[str]]:
    return [
        row("王小明", "13700000001", resident(11)),
        row(
            "李红",
            "13700000002",
            resident(12, male=False),
            community="西关社区",
            politics="中共党员",
            branch="东关社区党支部",
        ),
        row(
            "John Smith",
            "13700000003",
            "E12345678",
            id_type="护照",
            gender="男",
            birth_date="1985-03-04",
            skills="急救、驾驶",
            categories="环境卫生",
            emergency_name="Mary Smith",
            emergency_phone="13900000009",
        ),
    ]


def upload(client, data: bytes, filename: str = "roster.xlsx"):
    return Auth(client).post(
        IMPORT, {"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data"
    )


def confirm_token(page: str) -> str | None:
    match = re.search(r'name="token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="token"', page
    )
    return match.group(1) if match else None


def confirm(client, token: str | None):
    return Auth(client).post(CONFIRM, {"token": token or ""})


def errors(page: str) -> list[tuple[int, str, str]]:
    """The (row, column, problem) lines of the preview's problem table."""
    table = re.search(r'data-testid="import-errors">(.*?)</table>', page, re.S)
    if not table:
        return []
    cells = re.findall(
        r"<tr><td[^>]*>(\d+)</td><td>(.*?)</td><td>(.*?)</td></tr>", table.group(1), re.S
    )
    return [(int(n), htmllib.unescape(c), htmllib.unescape(m)) for n, c, m in cells]


def stashed() -> int:
    """Uploads waiting for a confirmation (kept in the database, not on a disk)."""
    return count(TempItem)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def organiser(login_as, tree, lang: str | None = "en"):
    client, user = login_as(Role.ORGANISER, tree.town_a)
    if lang:
        client.set_cookie("lang", lang)
    return client, user


# ---------------------------------------------------------------- template


def test_template_downloads_as_xlsx_with_the_headers_an_example_and_an_explanation(tree, login_as):
    client, _ = organiser(login_as, tree)
    response = client.get("/volunteers/import/template.xlsx")
    assert response.status_code == 200
    assert response.mimetype == XLSX
    assert "attachment" in response.headers["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.data))
    sheet = workbook.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    assert header[:4] == ["姓名", "手机号", "证件类型", "证件号码"]
    for name in ("镇街", "社区/村", "政治面貌", "党支部", "技能", "紧急联系人", "紧急联系电话"):
        assert name in header
    example = dict(zip(header, [cell.value for cell in sheet[2]], strict=True))
    assert example["镇街"] == "环秀街道"
    assert example["社区/村"] == "东关社区"  # a community the organiser covers
    assert "说明" in workbook.sheetnames
    explained = {row[0] for row in workbook["说明"].iter_rows(values_only=True)}
    assert set(header) <= explained


def test_the_template_as_downloaded_passes_the_check(tree, login_as):
    client, _ = organiser(login_as, tree)
    template = client.get("/volunteers/import/template.xlsx").data
    page = upload(client, template).get_data(as_text=True)
    assert errors(page) == []
    assert confirm_token(page)


# ---------------------------------------------------------------- the happy path


def test_valid_xlsx_of_three_rows_imports_accounts_profiles_and_sms_invitations(tree, login_as):
    client, importer = organiser(login_as, tree)
    page = upload(client, xlsx(three_rows())).get_data(as_text=True)
    assert errors(page) == []
    assert "137****0001" in page and "13700000001" not in page  # masked in the preview
    token = confirm_token(page)
    assert token and stashed()

    response = confirm(client, token)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/volunteers")
    assert stashed() == 0  # the upload is gone once used

    users = {
        u.phone: u
        for u in db.session.scalars(select(User).where(User.phone.like("1370000000%"))).all()
    }
    assert set(users) == {"13700000001", "13700000002", "13700000003"}
    for user in users.values():
        assert user.password_hash == "!"
        assert user.profile is not None
    first = users["13700000001"].profile
    assert first.real_name == "王小明" and users["13700000001"].display_name == "王小明"
    assert first.community_id == tree.community_a1.id
    assert first.political_status is PoliticalStatus.MASSES
    assert first.id_masked == idnumbers.mask(resident(11))
    assert volunteers.id_number_of(first) == resident(11)
    member = users["13700000002"].profile
    assert member.political_status is PoliticalStatus.CPC_MEMBER
    assert member.branch_id == tree.branch.id
    assert member.community_id == tree.community_a2.id
    foreign = users["13700000003"].profile
    assert foreign.id_type is IdType.PASSPORT
    assert foreign.gender is Gender.MALE and foreign.birth_date == date(1985, 3, 4)
    assert foreign.skills == ["first_aid", "driving"]
    assert foreign.service_categories == ["env_sanitation"]
    assert foreign.emergency_phone == "13900000009"

    today = local_today()
    for user in users.values():
        missing = {step.key for step in volunteers.missing_steps(user.profile, today)}
        assert "consent" in missing  # they consent themselves at the first login
        assert user.profile.consented_at is None
    assert "details" in {s.key for s in volunteers.missing_steps(first, today)}
    assert "details" not in {s.key for s in volunteers.missing_steps(foreign, today)}

    invitations = db.session.scalars(
        select(Notification).where(Notification.template == "invitation")
    ).all()
    assert len(invitations) == 3
    assert {n.address for n in invitations} == set(users)
    for note in invitations:
        assert note.channel is Channel.SMS
        assert note.user_id == users[note.address].id
        assert note.payload["org"] == "环秀街道"
        assert note.payload["url"].endswith("/auth/reset")
        assert note.sent_at is not None  # delivered after the commit
        assert "环秀街道" in note.body

    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "volunteer.import")).all()
    assert [(a.success, a.detail["rows"], a.actor_id) for a in audit] == [(True, 3, importer.id)]

    # The same confirmation cannot be used twice.
    confirm(client, token)
    assert count(User) == 3 + 1


def test_a_real_workbook_named_csv_is_read_as_a_workbook(tree, login_as):
    client, _ = organiser(login_as, tree)
    page = upload(client, xlsx(three_rows()[:1]), "roster.csv").get_data(as_text=True)
    assert errors(page) == [] and confirm_token(page)


def test_a_gbk_csv_imports(tree, login_as):
    client, _ = organiser(login_as, tree)
    data = csv_bytes(three_rows()[:2], "gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    page = upload(client, data, "名单.csv").get_data(as_text=True)
    assert errors(page) == []
    confirm(client, confirm_token(page))
    names = set(db.session.scalars(select(VolunteerProfile.real_name)))
    assert names == {"王小明", "李红"}


def test_a_utf8_csv_with_bom_imports(tree, login_as):
    client, _ = organiser(login_as, tree)
    page = upload(client, csv_bytes(three_rows(), "utf-8-sig"), "x.csv").get_data(as_text=True)
    assert errors(page) == []
    confirm(client, confirm_token(page))
    assert count(VolunteerProfile) == 3


# ---------------------------------------------------------------- refusals


def test_one_bad_check_character_imports_nothing_and_the_preview_names_row_and_reason(
    tree, login_as
):
    client, _ = organiser(login_as, tree, lang=None)  # Chinese, the default
    rows = three_rows()
    good = rows[1][3]
    rows[1][3] = good[:-1] + ("0" if good[-1] != "0" else "1")
    page = upload(client, xlsx(rows)).get_data(as_text=True)
    found = errors(page)
    assert found == [(3, "证件号码", "身份证号码校验位不正确，请逐位核对。")]
    assert confirm_token(page) is None
    assert stashed() == 0
    confirm(client, "a" * 32)
    assert count(VolunteerProfile) == 0
    assert count(Notification) == 0


def test_duplicate_phone_within_the_file_and_one_already_registered_are_both_reported(
    tree, login_as, make_user
):
    make_user(phone="13700000009")
    client, _ = organiser(login_as, tree)
    rows = [
        row("甲", "13700000001", resident(1)),
        row("乙", "137 0000 0001", resident(2)),
        row("丙", "13700000009", resident(3)),
        row("丁", "13700000004", resident(1)),
    ]
    found = errors(upload(client, xlsx(rows)).get_data(as_text=True))
    assert (2, "手机号", "The same mobile number is also on row 3.") in found
    assert (3, "手机号", "The same mobile number is also on row 2.") in found
    assert (4, "手机号", "This mobile number is already registered.") in found
    assert (2, "证件号码", "The same ID number is also on row 5.") in found
    assert (5, "证件号码", "The same ID number is also on row 2.") in found
    assert len(found) == 5


def test_an_id_number_already_registered_is_reported(tree, login_as, make_user):
    someone = make_user()
    volunteers.set_identity(
        someone, "某人", IdType.RESIDENT, resident(7), today=local_today(), actor=someone
    )
    db.session.commit()
    client, _ = organiser(login_as, tree)
    found = errors(upload(client, xlsx([row("甲", "13700000001", resident(7))])).data.decode())
    assert found == [(2, "证件号码", "This ID number is already registered to another account.")]


def test_row_problems_are_all_listed_with_their_column(tree, login_as):
    client, _ = organiser(login_as, tree)
    future = date(local_today().year + 1, 1, 1)
    rows = [
        row("", "12345", resident(1)),
        row("乙", "13700000002", "370282900101123"),
        row("丙", "13700000003", resident(3, born=future)),
        row("丁", "13700000004", resident(4), town="不存在街道"),
        row("戊", "13700000005", resident(5), community="南关社区"),
        row("己", "13700000006", resident(6), politics="党外人士"),
        row("庚", "13700000007", resident(7), politics="中共预备党员"),
        row("辛", "13700000008", resident(8), politics="中共党员", branch="无此支部"),
        row("壬", "13700000010", "E1234567", id_type="护照"),
        row("癸", "13700000011", resident(11), skills="杂技、急救"),
    ]
    found = errors(upload(client, xlsx(rows)).get_data(as_text=True))
    expected = [
        (2, "姓名", "The name is missing."),
        (2, "手机号", "Please enter an 11-digit mainland mobile number starting with 13–19."),
        (3, "证件号码", "15-digit ID numbers were replaced in 2013"),
        (4, "证件号码", "The birth date in the ID number is in the future."),
        (5, "镇街", "There is no town or subdistrict 不存在街道."),
        (6, "社区/村", "环秀街道 has no community or village 南关社区."),
        (7, "政治面貌", "Unknown political status: 党外人士."),
        (8, "党支部", "Party members need their Party branch."),
        (9, "党支部", "There is no Party branch 无此支部."),
        (10, "性别", "Other ID types need the gender"),
        (10, "出生日期", "Other ID types need the birth date."),
        (11, "技能", "Unknown skill: 杂技."),
        (11, "紧急联系人", "Skills and kinds of service are saved together with an emergency"),
    ]
    assert len(found) == len(expected), found
    for (n, column, message), (want_n, want_column, want_message) in zip(
        found, expected, strict=True
    ):
        assert (n, column) == (want_n, want_column)
        assert message.startswith(want_message), message


def test_a_community_in_another_towns_scope_is_refused_for_a_town_organiser(tree, login_as):
    client, _ = organiser(login_as, tree)
    rows = [row("甲", "13700000001", resident(1), town="潮海街道", community="岘山社区")]
    page = upload(client, xlsx(rows)).get_data(as_text=True)
    [(number, column, message)] = errors(page)
    assert (number, column) == (2, "社区/村")
    assert message.startswith("岘山社区 is outside your area")
    assert confirm_token(page) is None


def test_the_district_admin_may_import_into_any_town(tree, login_as):
    client, _ = login_as(Role.ADMIN, tree.district)
    rows = [row("甲", "13700000001", resident(1), town="潮海街道", community="岘山社区")]
    page = upload(client, xlsx(rows)).get_data(as_text=True)
    assert errors(page) == []
    confirm(client, confirm_token(page))
    note = db.session.scalar(select(Notification))
    assert note.payload["org"] == "即墨区"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256)) * 4,
            "This file is neither an Excel workbook (.xlsx) nor a CSV file.",
        ),
        (
            "这不是名单，只是一段文字。\nJust some text.\n".encode(),
            "No header row was found",
        ),
        (b"PK\x03\x04" + b"\x00" * 200, "The workbook cannot be opened"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200, "Old Excel workbooks (.xls)"),
        (b"", "The file is empty."),
    ],
    ids=["png", "text", "broken-zip", "xls", "empty"],
)
def test_a_file_named_xlsx_is_judged_by_its_content(tree, login_as, data, message):
    client, _ = organiser(login_as, tree)
    page = upload(client, data, "roster.xlsx").get_data(as_text=True)
    assert 'data-testid="form-errors"' in page
    assert message in htmllib.unescape(page)
    assert 'data-testid="import-preview"' not in page


def test_a_file_over_two_megabytes_is_refused(tree, login_as):
    client, _ = organiser(login_as, tree)
    data = csv_bytes([], "utf-8") + b"x" * imports.MAX_BYTES
    page = upload(client, data, "big.csv").get_data(as_text=True)
    assert "The file is larger than 2 MB; please split it." in page


def test_a_file_over_five_thousand_rows_is_refused(tree, login_as):
    client, _ = organiser(login_as, tree)
    rows = [row(f"人{i}", f"137{i:08d}", "") for i in range(imports.MAX_ROWS + 1)]
    page = upload(client, csv_bytes(rows, "utf-8"), "big.csv").get_data(as_text=True)
    assert "The file has more than 5000 rows; please split it." in page


def test_missing_columns_are_named(tree, login_as):
    client, _ = organiser(login_as, tree)
    data = xlsx([["甲", "13700000001"]], headers=["姓名", "手机号"])
    page = htmllib.unescape(upload(client, data).get_data(as_text=True))
    assert "These columns are missing: 证件号码、镇街、社区/村、政治面貌." in page


def test_confirm_without_a_prior_valid_preview_does_nothing(tree, login_as):
    client, importer = organiser(login_as, tree)
    response = confirm(client, "a" * 32)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(IMPORT)
    assert count(VolunteerProfile) == 0
    refused = db.session.scalar(select(AuditLog).where(AuditLog.action == "volunteer.import"))
    assert refused.success is False and refused.actor_id == importer.id
    # An invalid preview leaves nothing to confirm either.
    rows = three_rows()
    rows[0][0] = ""
    page = upload(client, xlsx(rows)).get_data(as_text=True)
    assert confirm_token(page) is None
    confirm(client, "a" * 32)
    assert count(VolunteerProfile) == 0


def test_confirm_with_another_token_than_the_previewed_one_does_nothing(tree, login_as):
    client, _ = organiser(login_as, tree)
    page = upload(client, xlsx(three_rows())).get_data(as_text=True)
    assert confirm_token(page)
    confirm(client, "b" * 32)
    assert count(VolunteerProfile) == 0


def test_confirm_rechecks_and_imports_nothing_when_a_phone_was_registered_meanwhile(
    tree, login_as, make_user
):
    client, _ = organiser(login_as, tree)
    page = upload(client, xlsx(three_rows())).get_data(as_text=True)
    token = confirm_token(page)
    assert token
    make_user(phone="13700000002")  # registers between preview and confirm
    response = confirm(client, token)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "nothing was imported" in text
    assert (3, "手机号", "This mobile number is already registered.") in errors(text)
    assert confirm_token(text) is None
    assert count(VolunteerProfile) == 0
    assert count(Notification) == 0
    assert stashed() == 0
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "volunteer.import"))
    assert audit.success is False and audit.detail["rows"] == 3


def test_a_failure_during_the_import_rolls_everything_back(tree, login_as, monkeypatch):
    client, _ = organiser(login_as, tree)
    page = upload(client, xlsx(three_rows())).get_data(as_text=True)
    calls = []

    def refuse_the_third(user, *args, **kwargs):
        calls.append(user)
        if len(calls) == 3:
            raise ServiceError("refused for the test")
        return original(user, *args, **kwargs)

    original = volunteers.set_politics
    monkeypatch.setattr(volunteers, "set_politics", refuse_the_third)
    response = confirm(client, confirm_token(page))
    assert response.status_code == 302
    assert len(calls) == 3
    assert count(VolunteerProfile) == 0
    assert count(Notification) == 0
    assert db.session.scalar(select(func.count()).where(User.phone.like("1370000000%"))) == 0
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "volunteer.import"))
    assert audit.success is False
    assert "Row 4: refused for the test" in client.get(IMPORT).get_data(as_text=True)


# ---------------------------------------------------------------- who


@pytest.mark.parametrize("role", [None, Role.LEAD, Role.BRANCH_SECRETARY])
def test_only_organisers_and_admins_may_import(tree, login_as, role):
    client, _ = login_as(role, tree.branch if role is Role.BRANCH_SECRETARY else None)
    assert client.get(IMPORT).status_code == 403
    assert client.get("/volunteers/import/template.xlsx").status_code == 403
    assert confirm(client, "a" * 32).status_code == 403


def test_the_import_page_offers_the_template_and_the_upload_form(tree, login_as):
    client, _ = organiser(login_as, tree)
    page = client.get(IMPORT).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert "/volunteers/import/template.xlsx" in page
    assert "<script>" not in page and "style=" not in page


# ---------------------------------------------------------------- the service on its own


def test_check_reads_rows_without_writing(app, tree, make_user):
    importer = make_user(Role.ORGANISER, tree.town_a)
    with force_locale("en"):
        checked = imports.check(xlsx(three_rows()), importer, today=local_today())
    assert checked.ok and checked.kind == "xlsx"
    assert [r.row for r in checked.valid_rows] == [2, 3, 4]
    assert count(VolunteerProfile) == 0


def test_stashed_uploads_are_read_once_by_their_owner_only(tree, make_user):
    owner, other = make_user(Role.ORGANISER, tree.town_a), make_user(Role.ORGANISER, tree.town_a)
    now = utcnow()
    token = imports.stash(owner, b"data", now=now)
    db.session.commit()
    assert imports.take(owner, "../" + token, now=now) is None
    assert imports.take(other, token, now=now) is None
    assert imports.take(owner, token, now=now) == b"data"
    assert imports.take(owner, token, now=now) is None


def test_a_stashed_upload_expires(tree, make_user):
    owner = make_user(Role.ORGANISER, tree.town_a)
    now = utcnow()
    token = imports.stash(owner, b"data", now=now)
    later = now + timedelta(seconds=imports.STASH_SECONDS + 1)
    assert imports.take(owner, token, now=later) is None
    imports.stash(owner, b"new", now=later)  # every stash purges the expired ones
    assert db.session.scalar(select(func.count()).select_from(TempItem)) == 1


def test_an_upload_previewed_on_one_instance_is_confirmed_on_another(tree, login_as, app):
    """Two app objects (two instances) on one database share nothing but the database and
    the secret: the preview stashes the upload in the database, not on a local disk."""
    from config import TestingConfig
    from tests.conftest import FreshContextClient
    from volunteer_app import create_app

    client, _ = organiser(login_as, tree)
    token = confirm_token(upload(client, xlsx(three_rows())).get_data(as_text=True))
    assert token and stashed() == 1
    other = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    other.test_client_class = FreshContextClient
    second = other.test_client()
    second.set_cookie("session", client.get_cookie("session").value)
    csrf = csrf_token(second, IMPORT)
    response = second.post(CONFIRM, data={"csrf_token": csrf, "token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert count(VolunteerProfile) == 3


def test_an_xlsx_that_unpacks_to_too_much_is_refused(app):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/big.xml", b"0" * (imports.MAX_UNPACKED_BYTES + 1))
    with force_locale("en"), pytest.raises(ServiceError) as refused:
        imports.read_table(buffer.getvalue())
    assert "larger than" in refused.value.messages[0]
