import datetime as dt

import pytest
from stdnum.cn import ric

from yiyang.core.masking import mask_id_number, mask_phone
from yiyang.registry.enums import Gender
from yiyang.registry.validation import FieldError, check_id_number, check_phone

pytestmark = pytest.mark.unit


def make_id(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


def test_valid_id_number_yields_birth_date_and_gender() -> None:
    number = make_id("31010419420315002")
    resident = check_id_number(number.lower())
    assert resident.number == number
    assert resident.birth_date == dt.date(1942, 3, 15)
    assert resident.gender is Gender.FEMALE  # 17th digit 2 is even


def test_x_check_digit_is_accepted_in_either_case() -> None:
    assert check_id_number("11010519491231002x").number == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "missing"),
        ("3101041942031500", "18 characters"),
        ("31010419420315A021", "digits"),
        ("310104194203150021", "check digit"),  # the right one is computed below
        (make_id("31010419421315002"), "impossible birth date"),
        (make_id("99999919420315002"), "area code 999999"),
    ],
)
def test_bad_id_numbers_are_explained(value: str, fragment: str) -> None:
    if fragment == "check digit":
        good = make_id(value[:17])
        value = value[:17] + ("1" if good[-1] != "1" else "2")
    with pytest.raises(FieldError) as exc:
        check_id_number(value)
    assert exc.value.field == "id_number"
    assert fragment in exc.value.message


def test_area_codes_created_after_the_birth_year_are_accepted() -> None:
    # 370102 (历下区) exists since 1983; a person born in 1940 holds such a number.
    assert check_id_number(make_id("37010219400101001")).birth_date.year == 1940


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("138 1234 5678", "13812345678"),
        ("+86 13812345678", "13812345678"),
        ("021-64381234", "02164381234"),
        ("64381234", "64381234"),
        ("13812345678.0", "13812345678"),
        ("", None),
        (None, None),
    ],
)
def test_phones_are_normalised(raw: str | None, expected: str | None) -> None:
    assert check_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "1381234567", "23812345678", "abc"])
def test_bad_phones_are_rejected(raw: str) -> None:
    with pytest.raises(FieldError, match="not a valid phone"):
        check_phone(raw)


def test_masks_keep_only_what_identifies_the_record() -> None:
    assert mask_id_number("310104194203150027") == "3****************7"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("02164381234") == "*******1234"
    assert mask_id_number(None) is None
