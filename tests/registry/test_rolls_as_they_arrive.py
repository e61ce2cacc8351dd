"""Rolls as clerks build them (issue #17), the pure part: the header row found under a title,
NFKC normalisation before judging, 15→18-digit IDs, Excel serials and numbers-as-IDs, phones
classified and split, synonyms, communities by name."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from stdnum.cn import ric

from tests.registry import rolls
from yiyang.regions.names import RegionIndex, RegionRef, name_key
from yiyang.registry.importer import (
    ImportContext,
    RejectedRow,
    ValidRow,
    excel_serial_date,
    read_table,
    rejected_to_rows,
    validate,
)
from yiyang.registry.schemas import ElderCreate
from yiyang.registry.synonyms import Synonyms
from yiyang.registry.validation import (
    FieldError,
    check_id_number,
    normalize_name,
    split_phones,
    upgrade_id15,
)

pytestmark = pytest.mark.unit

DISTRICT = "/310104000000/"
STREET = "/310104000000/310104003000/"
REGIONS = {
    "310104000000": RegionRef(1, "/310104000000/", "徐汇区"),
    "310104003000": RegionRef(2, STREET, "天平路街道"),
    "310104003001": RegionRef(3, STREET + "310104003001/", "建国居委会"),
    "310104003002": RegionRef(4, STREET + "310104003002/", "东安居委会"),
    "310104004000": RegionRef(5, "/310104000000/310104004000/", "湖南路街道"),
    "310104004001": RegionRef(6, "/310104000000/310104004000/310104004001/", "桂林居委会"),
    "310104004002": RegionRef(7, "/310104000000/310104004000/310104004002/", "建国社区居委会"),
}
CONTEXT = ImportContext(area_code=rolls.AREA_CODE)


def run(data: bytes, name: str, scope: str = STREET) -> tuple[list[ValidRow], list[RejectedRow]]:
    return validate(read_table(data, name), REGIONS, scope, CONTEXT)


# ---------------------------------------------------------------------------- GB 11643 oracle
WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2


def check_digit(body17: str) -> str:
    """Computed here from the standard's weights, independently of the code under test."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, WEIGHTS, strict=True)) % 11]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # The textbook example (area 340524 is not in python-stdnum's county list, so only the
        # upgrade itself is checked for it)
        ("340524800101001", "34052419800101001X"),
        ("110105491231002", "11010519491231002" + check_digit("11010519491231002")),
        ("310104400708003", "31010419400708003" + check_digit("31010419400708003")),
        ("310104420315004", "31010419420315004" + check_digit("31010419420315004")),
    ],
)
def test_15_digit_ids_upgrade_to_their_18_digit_form(old: str, new: str) -> None:
    assert WEIGHTS == [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    assert upgrade_id15(old) == new
    assert ric.calc_check_digit(new) == new[-1]  # python-stdnum as a second oracle
    if old.startswith("340524"):
        return
    assert ric.is_valid(new)
    resident = check_id_number(old)
    assert (resident.number, resident.legacy) == (new, old)
    assert resident.birth_date == dt.date(int("19" + old[6:8]), int(old[8:10]), int(old[10:12]))
    assert resident.gender.value == ("male" if int(old[14]) % 2 else "female")


def test_the_birth_date_check_applies_to_the_upgraded_number() -> None:
    with pytest.raises(FieldError, match="impossible birth date"):
        check_id_number("310104401332003")  # month 13


# ---------------------------------------------------------------------------- normalisation
FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789X"}
SPACES = ["", " ", "\u3000", "\u00a0", "\u2002"]


@st.composite
def written_ids(draw: st.DrawFn) -> tuple[str, str]:
    """A valid ID, and the same ID typed with any mix of full-width characters and spaces."""
    year = draw(st.integers(1900, 2005))
    day = draw(st.dates(dt.date(year, 1, 1), dt.date(year, 12, 31)))
    seq = draw(st.integers(0, 999))
    number = rid = f"310104{day:%Y%m%d}{seq:03d}"
    number = rid + ric.calc_check_digit(rid + "0")
    written = "".join(
        draw(st.sampled_from(SPACES))
        + (FULL_WIDTH[c] if draw(st.booleans()) else c)
        + draw(st.sampled_from(SPACES))
        for c in number
    )
    return number, written


@settings(max_examples=300, deadline=None)
@given(written_ids())
def test_an_id_written_with_full_width_characters_and_spaces_is_itself(
    case: tuple[str, str],
) -> None:
    number, written = case
    assert check_id_number(written).number == number
    assert ElderCreate.model_validate(_api_body(written)).id_number == number


def _api_body(number: str) -> dict[str, object]:
    return {
        "name": "任\u3000明",
        "id_number": number,
        "address": "天平路1号",
        "region_code": "３１０１０４００３００１",
        "household": "alone",
    }


def test_api_schemas_normalise_like_the_importer() -> None:
    body = ElderCreate.model_validate(_api_body(rolls.OLD_ID))
    assert body.name == "任明" and body.region_code == "310104003001"
    assert body.id_number == rolls.OLD_ID_18 and body.legacy_id_number == rolls.OLD_ID


def test_names_lose_inner_spaces_only_when_chinese() -> None:
    assert normalize_name("任\u3000明") == "任明"
    assert normalize_name(" 欧阳 修 ") == "欧阳修"
    assert normalize_name("Anna  Maria") == "Anna Maria"
    assert normalize_name("阿依古丽 · 买买提") == "阿依古丽·买买提"
    assert normalize_name("<b>王 </b>") == "<b>王 </b>"  # only spaces between Chinese go


# ---------------------------------------------------------------------------- header row
def test_the_header_row_is_found_under_a_title_and_a_notes_row() -> None:
    table = read_table(rolls.roll_xlsx(), "roll.xlsx")
    assert table.header_row == rolls.HEADER_ROW
    assert table.headers == rolls.HEADERS
    assert table.columns["community_name"] == rolls.HEADERS.index("所属社区")
    assert table.unknown_headers == []  # 序号 is known and skipped
    layout = table.layout()
    assert layout["fields"][rolls.HEADERS.index("联系电话")] == "phone"
    csv_table = read_table(rolls.roll_gbk_csv(), "roll.csv")
    assert csv_table.header_row == rolls.HEADER_ROW


def test_a_file_without_the_required_columns_names_the_row_it_read() -> None:
    with pytest.raises(ValueError, match="row 2"):
        read_table("花名册\n姓名,住址\n张三,x\n".encode(), "x.csv")


def test_the_clerk_can_map_columns_by_hand() -> None:
    data = "姓名,证件号,地址,社区名,情况\n张桂英,{},天平路1号,建国,独居\n".format(
        rolls.rid("31010419420315002")
    ).encode()
    with pytest.raises(ValueError, match="Required columns"):
        read_table(data, "x.csv")
    mapping = {0: "name", 1: "id_number", 2: "address", 3: "community_name", 4: "household"}
    good, bad = validate(read_table(data, "x.csv", mapping), REGIONS, STREET, CONTEXT)
    assert bad == [] and good[0].values["region_path"] == REGIONS["310104003001"].path


# ---------------------------------------------------------------------------- the fixture roll
@pytest.mark.parametrize(("data", "name"), [("xlsx", "roll.xlsx"), ("csv", "roll.csv")])
def test_every_case_of_the_fixture_roll(data: str, name: str) -> None:
    content = rolls.roll_xlsx() if data == "xlsx" else rolls.roll_gbk_csv()
    good, bad = run(content, name)
    by_row = {r.row: r for r in [*good, *bad]}
    for case in rolls.CASES:
        result = by_row[rolls.row_of(case.key)]
        if case.accepted:
            assert isinstance(result, ValidRow), (case.key, getattr(result, "errors", None))
            for key, value in case.expect.items():
                assert result.values[key] == value, (case.key, key)
        else:
            assert isinstance(result, RejectedRow), case.key
            assert any(
                e["field"] == case.reason_field and case.reason in e["message"]
                for e in result.errors
            ), (case.key, result.errors)
            assert result.cells[1:] == [_as_written(case, h, data) for h in rolls.HEADERS[1:]], (
                case.key
            )


def _as_written(case: rolls.Case, header: str, form: str) -> str:
    value = {**case.cells, **(case.csv_cells if form == "csv" else {})}.get(header, "")
    if isinstance(value, float):
        return repr(value) if value >= 1e15 else str(int(value))
    return str(value)


def test_a_number_that_lost_digits_is_shown_as_it_was_never_made_up() -> None:
    for content, name, shown in [
        (rolls.roll_xlsx(), "roll.xlsx", repr(rolls.excel_number(rolls.LOST_ID))),
        (rolls.roll_gbk_csv(), "roll.csv", "3.10104E+17"),
    ]:
        _good, bad = run(content, name)
        [lost] = [r for r in bad if r.row == rolls.row_of("ID Excel turned into a number")]
        [error] = [e for e in lost.errors if e["field"] == "id_number"]
        assert error["value"] == shown and lost.values["id_number"] == shown
        assert "format the column as text and export again" in error["message"]
        assert rolls.LOST_ID not in str(lost) and str(int(float(shown))) not in str(lost)


def test_the_rejected_rows_download_keeps_the_files_columns_and_cells() -> None:
    table = read_table(rolls.roll_gbk_csv(), "roll.csv")
    _good, bad = validate(table, REGIONS, STREET, CONTEXT)
    items = [{"row": b.row, "errors": b.errors, "values": b.values, "cells": b.cells} for b in bad]
    out = list(rejected_to_rows(items, table.headers))
    assert out[0] == [*rolls.HEADERS, "原行号 row", "错误原因 errors"]
    wrong = next(r for r in out[1:] if r[-2] == str(rolls.row_of("wrong check digit")))
    assert wrong[rolls.HEADERS.index("身份证号")] == rolls.BAD_CHECK
    assert wrong[-1].startswith("身份证号: ")
    household = next(
        r for r in out[1:] if r[-2] == str(rolls.row_of("household wording nobody mapped"))
    )
    assert "居住情况: " in household[-1] and "合租" in household[-1]


# ---------------------------------------------------------------------------- pieces
@pytest.mark.parametrize(
    ("serial", "date"),
    [(22108, dt.date(1960, 7, 11)), (61, dt.date(1900, 3, 1)), (73050, dt.date(2099, 12, 31))],
)
def test_excel_serials_within_the_accepted_range(serial: int, date: dt.date) -> None:
    assert excel_serial_date(serial) == date


@pytest.mark.parametrize("serial", [0, 60, 73051, 22108.5])
def test_excel_serials_outside_the_range_are_not_dates(serial: float) -> None:
    with pytest.raises(ValueError):
        excel_serial_date(serial)


@pytest.mark.parametrize(
    ("cell", "mobiles", "landlines", "notes"),
    [
        ("13812345678（儿子）", ["13812345678"], [], {"13812345678": "儿子"}),
        ("１３８ １２３４ ５６７８", ["13812345678"], [], {}),
        ("021-64381234", [], ["02164381234"], {}),
        ("64381234", [], ["02164381234"], {}),
        (
            "13812345678，13912345678(女儿)；64381234",
            ["13812345678", "13912345678"],
            ["02164381234"],
            {"13912345678": "女儿"},
        ),
        ("13812345678 13912345678", ["13812345678", "13912345678"], [], {}),
        ("+86 138-1234-5678", ["13812345678"], [], {}),
        ("手机：13812345678", ["13812345678"], [], {}),
        ("无", [], [], {}),
    ],
)
def test_phones_are_split_classified_and_keep_their_notes(
    cell: str, mobiles: list[str], landlines: list[str], notes: dict[str, str]
) -> None:
    phones = split_phones(cell, "phone", "021")
    assert (phones.mobiles, phones.landlines, phones.notes) == (mobiles, landlines, notes)


def test_a_local_number_without_a_district_area_code_is_kept_as_written() -> None:
    assert split_phones("64381234").landlines == ["64381234"]


def test_an_unreadable_phone_names_the_part() -> None:
    with pytest.raises(FieldError, match="12345"):
        split_phones("13812345678, 12345", "phone")


def test_a_districts_synonyms_are_laid_over_the_defaults() -> None:
    synonyms = Synonyms.default().with_additions([("household", "一个人住", "alone")])
    data = "姓名,身份证号,住址,区划代码,居住情况\n张桂英,{},天平路1号,310104003001,一个人 住\n"
    data = data.format(rolls.rid("31010419420315002")).encode()
    table = read_table(data, "x.csv")
    good, bad = validate(table, REGIONS, STREET, ImportContext(synonyms=synonyms))
    assert bad == [] and good[0].values["household"] == "alone"
    _good, [bad_row] = validate(read_table(data, "x.csv"), REGIONS, STREET, CONTEXT)
    assert "一个人 住" in bad_row.errors[0]["message"]


# ---------------------------------------------------------------------------- regions by name
def test_region_names_are_compared_without_their_suffix() -> None:
    assert name_key("天平路街道") == name_key("天平路") == "天平路"
    assert name_key("建国社区居委会") == name_key("建国居委会") == name_key("建国")


def test_communities_resolve_within_the_jurisdiction() -> None:
    index = RegionIndex.of(REGIONS)
    assert index.resolve("", "建国居委会", STREET).region == REGIONS["310104003001"]
    assert index.resolve("天平路", "建国", STREET).region == REGIONS["310104003001"]
    assert index.resolve("湖南路街道", "建国", DISTRICT).region == REGIONS["310104004002"]


def test_an_ambiguous_community_lists_the_candidates() -> None:
    found = RegionIndex.of(REGIONS).resolve("", "建国", DISTRICT)
    assert found.region is None and found.field == "community_name"
    assert "310104003001" in found.message and "310104004002" in found.message


def test_an_exact_name_wins_over_a_normalised_one() -> None:
    found = RegionIndex.of(REGIONS).resolve("", "建国居委会", DISTRICT)
    assert found.region == REGIONS["310104003001"]


def test_unknown_and_foreign_names_are_explained() -> None:
    index = RegionIndex.of(REGIONS)
    unknown = index.resolve("天平路街道", "长乐居委会", STREET)
    assert "Unknown community" in unknown.message and "东安居委会" in unknown.message
    foreign = index.resolve("", "桂林居委会", STREET)
    assert "outside your jurisdiction" in foreign.message
    street = index.resolve("长桥街道", "建国", STREET)
    assert street.field == "street_name" and "天平路街道" in street.message


def test_an_xlsx_numeric_15_digit_id_is_kept_exactly() -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "身份证号", "住址", "区划代码", "居住情况"])
    sheet.append(["李德明", float(rolls.OLD_ID), "天平路1号", "310104003001", "独居"])
    buf = io.BytesIO()
    book.save(buf)
    [good], _bad = run(buf.getvalue(), "x.xlsx")
    assert good.values["id_number"] == rolls.OLD_ID_18
