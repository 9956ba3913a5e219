"""One person, one account: every identifier a person types is normalised before every check
(NFKC, separators dropped, X upper-cased, strict ASCII patterns), so that no spelling of a
registered ID number passes as a new person, and no Unicode digit gives a 500 — on every
path: registration, profile, login, reset, SMS codes, organiser search and entry, walk-ins,
the roster import and certificate verification."""

from __future__ import annotations

import contextlib
import io
import sys
import unicodedata
from collections import Counter
from datetime import date

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import Auth, csrf_token
from tests.test_import import IMPORT, csv_bytes, errors, row
from volunteer_app.extensions import db
from volunteer_app.models import CodePurpose, IdType, Role, User, VolunteerProfile
from volunteer_app.services import (
    ServiceError,
    accounts,
    identifiers,
    idnumbers,
    pii,
    sms,
    volunteers,
)
from volunteer_app.services.idnumbers import IdNumberError, make_resident_number
from volunteer_app.timeutil import local_today, utcnow

TODAY = date(2026, 11, 27)
#: The issue's example: a registered number and the same number with one full-width digit.
REGISTERED = "370215199805188988"
ONE_FULL_WIDTH = "37021５199805188988"
#: Every character other than 0-9 that Unicode calls a decimal digit (Nd) or another number (No).
ODD_DIGITS = [
    chr(c)
    for c in range(sys.maxunicode + 1)
    if unicodedata.category(chr(c)) in ("Nd", "No") and not "0" <= chr(c) <= "9"
]
FULL_WIDTH = {d: chr(ord(d) + 0xFEE0) for d in "0123456789"}
X_SPELLINGS = ["X", "x", "Ｘ", "ｘ", "×"]
SEPARATORS = [" ", "  ", "\u3000", "\u00a0", "\t", "-", "－", "\u2010", "\u200b", "\u00ad"]
#: How many spellings and odd digits went through the real forms (reported at the end).
TRIED: Counter = Counter()

regions = st.sampled_from(["370282", "370215", "110105", "440305", "650102"])
births = st.dates(min_value=date(1930, 1, 1), max_value=date(2000, 12, 31))


@st.composite
def valid_numbers(draw) -> str:
    return make_resident_number(
        draw(regions), draw(births), draw(st.integers(0, 999)), draw(st.booleans())
    )


@st.composite
def spellings(draw, number: str) -> str:
    """The number with any mix of full-width and ASCII digits, x/X spellings and spaces."""
    out = []
    for char in number:
        if draw(st.integers(0, 4)) == 0:
            out.append(draw(st.sampled_from(SEPARATORS)))
        if char == "X":
            out.append(draw(st.sampled_from(X_SPELLINGS)))
        else:
            out.append(FULL_WIDTH[char] if draw(st.booleans()) else char)
    return "".join(out)


@st.composite
def number_and_spelling(draw) -> tuple[str, str]:
    number = draw(valid_numbers())
    return number, draw(spellings(number))


@pytest.fixture(scope="module", autouse=True)
def report_counts(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter and capture and TRIED:
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                "\nidentifier forms tried: "
                + ", ".join(f"{key} {count}" for key, count in sorted(TRIED.items()))
            )


# ---------------------------------------------------------------- the normaliser


def test_the_issues_one_full_width_digit_is_the_registered_number():
    assert idnumbers.parse(ONE_FULL_WIDTH, today=TODAY).number == REGISTERED
    assert identifiers.id_number("３７０２１５１９９８０５１８８９８８") == REGISTERED


def test_superscript_and_circled_digits_fold_to_ascii_and_other_scripts_are_refused():
    # NFKC turns ² and ① into 2 and 1; what is left must match [0-9] — never \d.
    assert identifiers.id_number("37021²") == "370212"
    assert identifiers.phone("①③⑧00138000") == "13800138000"
    with pytest.raises(IdNumberError, match="17 digits"):
        idnumbers.parse("37021٥199805188988", today=TODAY)  # Arabic-Indic five


def test_phone_numbers_are_one_form_however_typed():
    for spelling in (
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "0086 13800138000",
        "8613800138000",
        "１３８００１３８０００",
        "1380013800０",
        "(138)0013\u200b8000",
    ):
        assert identifiers.phone(spelling) == "13800138000", spelling
    assert identifiers.phone_tail("８０００") == "8000"
    assert identifiers.phone_tail("张三") is None


def test_certificate_numbers_verify_however_the_dash_and_digits_are_typed():
    number = "JM" + "1" * 27 + "-ABCDEFGHIJ"
    assert identifiers.certificate_number(number.lower()) == number
    assert identifiers.certificate_number(number.replace("-", " ")) == number
    assert identifiers.certificate_number(number.replace("1", "１")) == number


@settings(max_examples=300, deadline=None)
@given(number_and_spelling())
@example((REGISTERED, ONE_FULL_WIDTH))
@example(("11010519491231002X", "１１０１０５ １９４９１２３１ ００２ｘ"))
@example(("11010519491231002X", "110105-19491231-002×"))
def test_every_spelling_of_a_number_parses_to_it(pair):
    number, spelling = pair
    assert idnumbers.parse(spelling, today=TODAY).number == number


@pytest.mark.parametrize("where", [0, 5, 16, 17, 18])
def test_no_unicode_digit_anywhere_in_an_id_number_escapes_a_clear_refusal(where):
    """Every Nd and No character, inserted or replacing a digit: a clear IdNumberError or
    a number that is pure ASCII and valid — never another exception."""
    for digit in ODD_DIGITS:
        for spelling in (
            REGISTERED[:where] + digit + REGISTERED[where + 1 :],
            REGISTERED[:where] + digit + REGISTERED[where:],
        ):
            try:
                info = idnumbers.parse(spelling, today=TODAY)
            except IdNumberError as refused:
                assert str(refused)
            else:
                assert info.number.isascii() and identifiers.RESIDENT_RE.fullmatch(info.number)
            for id_type in (IdType.HK_MACAO, IdType.TAIWAN, IdType.PASSPORT):
                with contextlib.suppress(IdNumberError):
                    assert idnumbers.parse(spelling[:10], id_type, today=TODAY).number.isascii()
            phone = identifiers.phone(spelling[:11])
            assert accounts.phone_problem(phone) or phone.isascii()


# ---------------------------------------------------------------- through the real forms

ID_MESSAGE = "已被其他账号登记"


def _profiles() -> int:
    return db.session.scalar(select(func.count()).select_from(VolunteerProfile))


@pytest.fixture
def newcomer(login_as):
    """A logged-in account without a profile (one for all examples of a test)."""
    client, user = login_as(None)
    # Consent comes before the ID number is asked for (PIPL; issue 20's step order).
    volunteers.give_consent(user, privacy=True, sensitive=True, now=utcnow(), today=local_today())
    db.session.commit()
    return client


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(number_and_spelling())
@example((REGISTERED, ONE_FULL_WIDTH))
@example((REGISTERED, "３７０２１５１９９８０５１８８９８８"))
@example(("11010519491231002X", "１１０１０５１９４９１２３１００２ｘ"))
@example(("11010519491231002X", " 110105 19491231 002x "))
def test_a_spelling_of_a_registered_id_number_is_refused_as_a_second_person(
    tree, make_user, newcomer, pair
):
    number, spelling = pair
    hash_ = pii.keyed_hash(f"resident:{number}")
    if db.session.scalar(select(VolunteerProfile).where(VolunteerProfile.id_hash == hash_)) is None:
        first = make_user()
        volunteers.set_identity(first, "张三", IdType.RESIDENT, number, today=local_today())
        db.session.commit()
    before = _profiles()
    response = Auth(newcomer).post(
        "/me/identity", {"real_name": "李四", "id_type": "resident", "id_number": spelling}
    )
    TRIED["ID spellings through /me/identity"] += 1
    assert response.status_code == 200
    assert ID_MESSAGE in response.get_data(as_text=True)
    assert _profiles() == before


@pytest.fixture
def world(tree, make_user, make_volunteer, make_event, login_as):
    """A volunteer, an organiser of town A with an event there, a logged-in newcomer."""
    volunteer = make_volunteer(phone="13912348000")
    _event, shift = make_event()
    organiser, _organiser_user = login_as(Role.ORGANISER, tree.town_a)
    admin, _admin_user = login_as(Role.ADMIN, tree.district)
    newcomer, newcomer_user = login_as(None)
    return {
        "volunteer": volunteer,
        "shift": shift,
        "organiser": Poster(organiser),
        "admin": Poster(admin),
        "newcomer": Poster(newcomer),
        "newcomer_user": newcomer_user,
    }


def _odd_spellings(digit: str) -> dict[str, str]:
    return {
        "id": REGISTERED[:8] + digit + REGISTERED[9:],
        "phone": "1391234" + digit + "000",
        "tail": digit + "000",
    }


class Poster:
    """POSTs with the client's CSRF token, read once (Auth.post reads a page every time)."""

    def __init__(self, client):
        self.client = client
        self.token = csrf_token(client, "/")

    def post(self, path: str, data: dict | None = None, **kwargs):
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kwargs)


def _never_500(response, what: str) -> None:
    TRIED[f"odd digits into {what}"] += 1
    assert response.status_code < 500, (what, response.status_code)


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(digit=st.sampled_from(ODD_DIGITS))
@example(digit="²")
@example(digit="³")
@example(digit="①")
@example(digit="٣")
@example(digit="５")
@example(digit="⑩")
def test_no_unicode_digit_in_any_identifier_field_gives_a_server_error(app, world, digit):
    spelled = _odd_spellings(digit)
    shift = world["shift"]
    before = _profiles()
    newcomer = world["newcomer"]
    page = newcomer.post(
        "/me/identity", {"real_name": "李四", "id_type": "resident", "id_number": spelled["id"]}
    )
    _never_500(page, "ID number")
    folded = identifiers.id_number(spelled["id"])
    if not identifiers.RESIDENT_RE.fullmatch(folded):
        assert page.status_code == 200 and "居民身份证号码" in page.get_data(as_text=True)
        assert _profiles() == before
    for id_type in ("passport", "taiwan", "hk_macao"):
        _never_500(
            newcomer.post(
                "/me/identity",
                {
                    "real_name": "李四",
                    "id_type": id_type,
                    "id_number": "H" + spelled["phone"][:10],
                    "gender": "male",
                    "birth_date": "1990-01-01",
                },
            ),
            "other ID types",
        )
    db.session.query(VolunteerProfile).filter_by(user_id=world["newcomer_user"].id).delete()
    db.session.commit()
    for path, data in (
        ("/me/details", {"emergency_name": "家人", "emergency_phone": spelled["phone"]}),
        ("/me/consent", {"privacy": "y", "sensitive": "y", "guardian_phone": spelled["phone"]}),
    ):
        _never_500(newcomer.post(path, data), path)
    anonymous = app.test_client()
    token = csrf_token(anonymous, "/auth/login")
    for path in ("/auth/login", "/auth/register", "/auth/reset"):
        data = {"csrf_token": token, "phone": spelled["phone"], "password": "Passw0rd2026"}
        _never_500(anonymous.post(path, data=data), path)
    with app.test_request_context(), pytest.raises(ServiceError):
        sms.check_code(spelled["phone"], CodePurpose.REGISTER, digit * 6, now=utcnow())
    db.session.rollback()
    organiser = world["organiser"]
    for url in (
        f"/volunteers?q={spelled['tail']}",
        f"/volunteers?q={spelled['phone']}",
        f"/hours/records?q={spelled['tail']}",
        f"/verify/JM{digit * 27}-ABCDEFGHIJ",
    ):
        _never_500(organiser.client.get(url), url.split("?")[0][:7])
    as_organiser = organiser
    _never_500(
        as_organiser.post(
            f"/organise/shifts/{shift.id}/roster/add",
            {"add-q": spelled["phone"], "add-reason": "补录"},
        ),
        "roster add",
    )
    _never_500(as_organiser.post("/hours/manual", {"q": spelled["phone"]}), "manual hours")
    _never_500(
        as_organiser.post(
            f"/checkin/shifts/{shift.id}/attendance", {"op": "walk_in", "phone": spelled["phone"]}
        ),
        "walk-in form",
    )
    _never_500(
        organiser.client.post(
            f"/api/v1/shifts/{shift.id}/walk-ins",
            json={"phone": spelled["phone"]},
            headers={"X-CSRFToken": organiser.token},
        ),
        "walk-in API",
    )
    admin = world["admin"]
    _never_500(admin.client.get(f"/admin/audit?phone={spelled['tail']}"), "audit filter")
    _never_500(admin.post("/admin/roles", {"phone": spelled["phone"]}), "role grant")
    odd_phones = select(func.count()).select_from(User).where(User.phone.contains(digit))
    assert db.session.scalar(odd_phones) == 0


# ---------------------------------------------------------------- organiser entry finds the person


def test_organisers_find_a_volunteer_by_a_full_width_number_in_every_form(world):
    volunteer, shift = world["volunteer"], world["shift"]
    full = "".join(FULL_WIDTH[d] for d in volunteer.phone)
    organiser = world["organiser"].client
    found = organiser.get(f"/volunteers?q={full[-4:]}").get_data(as_text=True)
    assert volunteer.profile.real_name in found
    added = Auth(organiser).post(
        f"/organise/shifts/{shift.id}/roster/add", {"add-q": full, "add-reason": "补录"}
    )
    assert added.status_code == 302
    walked = organiser.post(
        f"/api/v1/shifts/{shift.id}/walk-ins",
        json={"phone": "+86 " + full},
        headers={"X-CSRFToken": csrf_token(organiser, "/")},
    )
    assert walked.status_code != 404


def test_login_and_registration_take_a_full_width_number_as_the_same_account(app, make_user):
    user = make_user(phone="13912340000")
    client = app.test_client()
    assert Auth(client).login("１３９ １２３４ ００００").status_code == 302
    with app.test_request_context(), pytest.raises(ServiceError, match=r"已注册|already"):
        accounts.register("1391234000０", "Passw0rd2026")
    assert accounts.find_user(accounts.normalise_phone("+86 139-1234-0000")).id == user.id


# ---------------------------------------------------------------- the roster import


@pytest.fixture
def stash_dir(app, tmp_path):
    """Uploads waiting for confirmation go to a temporary folder, not instance/."""
    app.config["IMPORT_UPLOAD_DIR"] = str(tmp_path / "imports")
    return tmp_path / "imports"


def _organiser_client(login_as, tree):
    client, _user = login_as(Role.ORGANISER, tree.town_a)
    return client


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(pair=number_and_spelling(), digit=st.sampled_from(ODD_DIGITS))
@example(pair=(REGISTERED, ONE_FULL_WIDTH), digit="²")
@example(pair=(REGISTERED, "３７０２１５１９９８０５１８８９８８"), digit="①")
def test_the_import_refuses_spellings_of_registered_numbers_and_never_fails_on_digits(
    app, tree, make_user, login_as, stash_dir, pair, digit
):
    number, spelling = pair
    hash_ = pii.keyed_hash(f"resident:{number}")
    if db.session.scalar(select(VolunteerProfile).where(VolunteerProfile.id_hash == hash_)) is None:
        volunteers.set_identity(make_user(), "张三", IdType.RESIDENT, number, today=local_today())
        db.session.commit()
    odd = _odd_spellings(digit)
    other = make_resident_number("370282", date(1991, 2, 3), 18, True)
    rows = [
        row("王一", "13700000001", spelling),
        row("王二", odd["phone"], odd["id"]),
        row(
            "王三",
            "13700000003",
            other,
            emergency_name="家人",
            emergency_phone=odd["phone"],
            categories="环境卫生",
        ),
        row("王四", "13700000004", identifiers.id_number(other).replace("8", "８")),
    ]
    client = _organiser_client(login_as, tree)
    users_before = db.session.scalar(select(func.count()).select_from(User))
    for encoding in ("utf-8", "gb18030"):
        try:
            data = csv_bytes(rows, encoding)
        except UnicodeEncodeError:
            continue
        response = Auth(client).post(
            IMPORT, {"file": (io.BytesIO(data), "roster.csv")}, content_type="multipart/form-data"
        )
        TRIED["roster uploads with spellings and odd digits"] += 1
        assert response.status_code == 200
        problems = errors(response.get_data(as_text=True))
        assert any(r == 2 and ID_MESSAGE in m for r, _c, m in problems), problems
        assert any(r == 5 and "4" in m for r, _c, m in problems), problems
    assert db.session.scalar(select(func.count()).select_from(User)) == users_before
