"""GB 11643 ID numbers: every valid number accepted, every single-character change refused."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from volunteer_app.models import Gender, IdType
from volunteer_app.services.idnumbers import (
    IdNumberError,
    check_character,
    make_resident_number,
    mask,
    parse,
)

TODAY = date(2026, 11, 27)

regions = st.sampled_from(["370282", "370202", "110101", "440305", "510107", "650102"])
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
serials = st.integers(min_value=0, max_value=999)


@st.composite
def valid_numbers(draw):
    region, born, serial, male = draw(regions), draw(births), draw(serials), draw(st.booleans())
    return make_resident_number(region, born, serial, male), born, male


def test_known_number_from_the_standard():
    # The worked example of GB 11643-1999: 11010519491231002X.
    info = parse("11010519491231002X", today=TODAY)
    assert info.birth_date == date(1949, 12, 31)
    assert info.gender is Gender.FEMALE
    assert check_character("11010519491231002") == "X"


@settings(max_examples=300, deadline=None)
@given(valid_numbers())
def test_every_valid_number_is_accepted_with_birth_date_and_gender(sample):
    number, born, male = sample
    info = parse(number, today=TODAY)
    assert info.birth_date == born
    assert info.gender is (Gender.MALE if male else Gender.FEMALE)


@settings(max_examples=300, deadline=None)
@given(valid_numbers(), st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_every_single_character_change_is_refused(sample, position, replacement):
    number = sample[0]
    if number[position] == replacement:
        return
    changed = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(IdNumberError):
        parse(changed, today=TODAY)


def test_lowercase_x_and_spaces_are_normalised():
    assert parse(" 11010519491231002x ", today=TODAY).number == "11010519491231002X"


def test_legacy_15_digit_numbers_are_refused_with_an_explanation():
    with pytest.raises(IdNumberError, match="2013"):
        parse("110105491231002", today=TODAY)


def test_a_birth_date_in_the_future_is_refused():
    number = make_resident_number("370282", date(2027, 1, 1), 1, True)
    with pytest.raises(IdNumberError):
        parse(number, today=TODAY)


def test_an_impossible_birth_date_is_refused():
    first17 = "37028220230230001"  # 30 February
    with pytest.raises(IdNumberError):
        parse(first17 + check_character(first17), today=TODAY)


@pytest.mark.parametrize(
    ("id_type", "good", "bad"),
    [
        (IdType.HK_MACAO, "H12345678", "X12345678"),
        (IdType.TAIWAN, "12345678", "1234"),
        (IdType.PASSPORT, "E12345678", "E1"),
    ],
)
def test_other_id_types_get_a_simpler_format_check(id_type, good, bad):
    assert parse(good, id_type, today=TODAY).number == good
    with pytest.raises(IdNumberError):
        parse(bad, id_type, today=TODAY)


def test_masking_keeps_first_six_and_last_four():
    assert mask("11010519491231002X") == "110105********002X"
