"""No name breaks an export: control characters, bidirectional overrides and zero-width
characters are refused in names and titles with a Chinese message, stripped from every
download (Excel, CSV, PDF, calendars) when they came in another way, and a tampered
choice gets a Chinese message rather than WTForms' English one."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.conftest import Auth, csrf_token
from tests.test_tallies import approved
from volunteer_app.extensions import db
from volunteer_app.models import Event, Role, ServiceRecord, Signup, SignupStatus, VolunteerProfile
from volunteer_app.services import calendar, exports
from volunteer_app.services.text import FORBIDDEN, has_forbidden, strip_forbidden
from volunteer_app.timeutil import local_today

#: Tests here confirm and approve as one organiser; four eyes is tested in test_national_record.
pytestmark = pytest.mark.config(FOUR_EYES_APPROVAL=False)

#: Every kind of character the rule is about, in one string (but NUL, which PostgreSQL
#: cannot store and every request refuses).
ODD = "\x1b\x07\x7f\x85\u202e\u2066\u200b\u200f\ufeff\r\n\t"
NASTY = f"张{ODD}三"


def test_the_cleaner_finds_and_strips_every_odd_character():
    for char in ODD + "\x00":
        assert has_forbidden(f"张{char}三"), repr(char)
        assert strip_forbidden(f"张{char}三") in ("张三", "张 三"), repr(char)
    assert not has_forbidden("王小明·Ahmad O'Neil（志愿者）")
    assert not has_forbidden("第一行\n第二行\t", multiline=True)
    assert has_forbidden("第一行\x1b", multiline=True)
    assert strip_forbidden("a\x1b\nb", multiline=True) == "a\nb"


def _errors(html: str) -> list[str]:
    return re.findall(r"invalid-feedback[^>]*>\s*([^<]*?)\s*<", html)


def test_a_title_or_a_name_with_odd_characters_is_refused_in_chinese(login_as, tree):
    client, _user = login_as(Role.ORGANISER, tree.town_a)
    before = db.session.scalar(select(func.count()).select_from(Event))
    for title in ("清洁\x1b活动", "清洁\r\n活动", "\u202e动活洁清", "清\u200b洁"):
        response = client.post(
            "/organise/events/new",
            data={
                "csrf_token": csrf_token(client, "/organise/events/new"),
                "host_id": str(tree.town_a.id),
                "title": title,
                "category": "env_sanitation",
                "address": "东关社区广场",
                "contact_name": "李\x07四",
                "visibility": "public",
            },
        )
        assert response.status_code == 200
        errors = _errors(response.get_data(as_text=True))
        assert sum("不可见字符" in e for e in errors) == 2, errors
    assert db.session.scalar(select(func.count()).select_from(Event)) == before


def test_registration_refuses_a_real_name_with_a_control_character(app):
    from volunteer_app.volunteers.forms import DetailsForm, IdentityForm

    with app.test_request_context(
        "/", method="POST", data={"real_name": "张\x1b三", "id_number": "x"}
    ):
        form = IdentityForm(meta={"csrf": False})
        assert not form.validate()
        assert any("不可见字符" in str(e) for e in form.real_name.errors)
    with app.test_request_context(
        "/", method="POST", data={"emergency_name": "家\u202e人", "emergency_phone": "13700009999"}
    ):
        form = DetailsForm(meta={"csrf": False})
        form.validate()
        assert any("不可见字符" in str(e) for e in form.emergency_name.errors)


def test_a_tampered_category_gets_a_chinese_message(login_as, tree):
    client, _user = login_as(Role.ORGANISER, tree.town_a)
    response = client.post(
        "/organise/events/new",
        data={
            "csrf_token": csrf_token(client, "/organise/events/new"),
            "host_id": str(tree.town_a.id),
            "title": "街巷清洁",
            "category": "not-a-category",
            "address": "东关社区广场",
            "visibility": "public",
        },
    )
    html = response.get_data(as_text=True)
    assert "请从列表中选择。" in _errors(html)
    assert "Not a valid choice" not in html
    page = client.get("/hours/manual")
    assert page.status_code == 200
    response = client.post(
        "/hours/manual",
        data={
            "csrf_token": csrf_token(client, "/hours/manual"),
            "q": "13900000000",
            "host": "999999",
            "category": "not-a-category",
            "hours": "x",
        },
    )
    html = response.get_data(as_text=True)
    assert "Not a valid" not in html and "请输入整数。" in html


def test_every_form_derives_from_the_apps_form_class():
    import importlib
    import pkgutil

    import flask_wtf

    import volunteer_app
    from volunteer_app.forms import FlaskForm

    for module in pkgutil.walk_packages(volunteer_app.__path__, "volunteer_app."):
        importlib.import_module(module.name)
    stray = []
    todo = list(flask_wtf.FlaskForm.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("volunteer_app") and not issubclass(cls, FlaskForm):
            stray.append(f"{cls.__module__}.{cls.__name__}")
    assert stray == [], "forms bypassing volunteer_app.forms.FlaskForm (English messages)"


# ---------------------------------------------------------------- downloads


@pytest.fixture
def odd_world(app, tree, make_volunteer, make_event, make_user):
    """Text with every odd character in every field that reaches a download, written
    straight to the database (as an import or an older version could have)."""
    tree.community_a1.name = f"东关{ODD}社区"
    tree.town_a.name = f"环秀{ODD}街道"
    volunteer = make_volunteer(tree.community_a1)
    profile = db.session.get(VolunteerProfile, volunteer.id)
    profile.real_name = NASTY
    profile.emergency_name = NASTY
    volunteer.display_name = NASTY
    event, shift = make_event(
        title=f"清洁{ODD}活动",
        starts_in=timedelta(days=1),
        contact_name=NASTY,
    )
    event.address = f"广场{ODD}"
    event.description = f"说明{ODD}"
    shift.post = f"清扫{ODD}组"
    shift.duties = f"职责{ODD}"
    db.session.add(Signup(shift_id=shift.id, user_id=volunteer.id, status=SignupStatus.CONFIRMED))
    shift.taken += 1
    day = local_today() - timedelta(days=3)
    record = approved(
        volunteer, community=tree.community_a1, host=tree.town_a, day=day, minutes=120
    )
    db.session.execute(
        ServiceRecord.__table__.update()
        .where(ServiceRecord.id == record.id)
        .values(activity=f"探访{ODD}", organisation=f"单位{ODD}", content=f"内容{ODD}")
    )
    db.session.commit()
    return volunteer, event, shift, day


def _assert_clean_xlsx(body: bytes) -> None:
    sheet = load_workbook(io.BytesIO(body)).active
    for row in sheet.iter_rows(values_only=True):
        for value in row:
            if isinstance(value, str):
                assert not FORBIDDEN.search(value.replace("\n", "").replace("\t", "")), value


def test_odd_characters_in_every_text_field_break_no_export_pdf_or_calendar(
    app, tree, odd_world, login_as
):
    volunteer, event, shift, day = odd_world
    organiser, _ = login_as(Role.ADMIN, tree.district)
    period = f"period=custom&start={day - timedelta(days=1)}&end={day}"
    urls = []
    for fmt in ("xlsx", "csv"):
        urls += [
            f"/tallies/?{period}&format={fmt}",
            f"/tallies/area/{tree.community_a1.id}?{period}&format={fmt}&table=people",
            f"/tallies/area/{tree.town_a.id}?{period}&format={fmt}",
            f"/tallies/party/{tree.branch.id}/dual?format={fmt}",
            f"/organise/rosters/shifts/{shift.id}/export?format={fmt}",
            f"/organise/rosters/events/{event.id}/export?format={fmt}",
            f"/organise/rosters/nodes/{tree.community_a1.id}/export?format={fmt}",
            f"/admin/audit/export?format={fmt}",
        ]
    for url in urls:
        response = organiser.get(url)
        assert response.status_code == 200, url
        if url.endswith("xlsx") or "format=xlsx" in url:
            _assert_clean_xlsx(response.get_data())
        else:
            text = response.get_data().decode("utf-8-sig")
            assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202e\u200b\ufeff]", text), url
    for url in (f"/events/{event.id}.ics", f"/shifts/{shift.id}.ics"):
        response = organiser.get(url)
        assert response.status_code == 200, url
        ics = response.get_data(as_text=True)
        assert "\x1b" not in ics and "\u202e" not in ics
        summary = re.search(r"^SUMMARY:(.*)$", ics, re.M).group(1)
        assert summary.startswith("清洁") and "活动" in summary
    client = app.test_client()
    assert Auth(client).login(volunteer.phone).status_code == 302
    response = client.get(f"/my/certificate.pdf?start={day}&end={day}")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    token = calendar.feed_token(volunteer)
    db.session.commit()
    feed = app.test_client().get(f"/calendar/{token}.ics")
    assert feed.status_code == 200 and b"\x1b" not in feed.data


def test_the_export_writers_accept_any_text():
    row = [NASTY, f"={ODD}", 3, date(2026, 1, 1), None]
    _assert_clean_xlsx(exports.to_xlsx(["名字", "公式", "数", "日期", "空"], [row], title=NASTY))
    text = exports.to_csv(["名字"], [row]).decode("utf-8-sig")
    assert "\x1b" not in text and "\u202e" not in text
