"""The importer's pure core: reading CSV (UTF-8/GBK) and XLSX, and explaining every bad row."""

import csv
import datetime as dt
import io

import pytest
from openpyxl import Workbook
from stdnum.cn import ric

from yiyang.registry.importer import (
    TEMPLATE,
    ImportFileError,
    RegionRef,
    ValidRow,
    read_table,
    rejected_to_rows,
    validate,
)

pytestmark = pytest.mark.unit

REGIONS = {
    "310104003001": RegionRef(3, "/310104000000/310104003000/310104003001/"),
    "310104004001": RegionRef(9, "/310104000000/310104004000/310104004001/"),
}
STREET = "/310104000000/310104003000/"


def rid(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")


GOOD = rid("31010419420315002")


def row(**over: str) -> dict[str, str]:
    base = {
        "姓名": "张桂英",
        "性别": "女",
        "身份证号": GOOD,
        "出生日期": "1942-03-15",
        "手机": "13812345678",
        "住址": "天平路1弄2号301室",
        "区划代码": "310104003001",
        "居住情况": "独居",
        "类别": "高龄、低保",
        "失智": "否",
        "紧急联系人": "李明",
        "联系人关系": "儿子",
        "联系人电话": "13912345678",
    }
    base.update(over)
    return base


def csv_bytes(rows: list[dict[str, str]], encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=TEMPLATE, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def run(data: bytes, name: str = "roll.csv", scope: str = STREET):
    return validate(read_table(data, name), REGIONS, scope)


def test_a_good_row_becomes_values_ready_to_store() -> None:
    good, bad = run(csv_bytes([row()]))
    assert bad == []
    [item] = good
    assert isinstance(item, ValidRow)
    assert item.values["id_number"] == GOOD
    assert item.values["birth_date"] == dt.date(1942, 3, 15)
    assert item.values["region_path"] == REGIONS["310104003001"].path
    assert item.categories == ["advanced_age", "minimum_living"]
    assert item.contact == {"name": "李明", "relation": "儿子", "phone": "13912345678"}


def test_gbk_csv_reads_the_same_as_utf8() -> None:
    assert run(csv_bytes([row()], "gbk"))[0][0].values == run(csv_bytes([row()]))[0][0].values


def test_xlsx_reads_dates_and_text() -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(TEMPLATE)
    values = row()
    sheet.append([dt.date(1942, 3, 15) if h == "出生日期" else values.get(h, "") for h in TEMPLATE])
    buf = io.BytesIO()
    book.save(buf)
    good, bad = run(buf.getvalue(), "roll.xlsx")
    assert bad == [] and good[0].values["birth_date"] == dt.date(1942, 3, 15)


def test_an_id_number_excel_rounded_to_a_float_is_explained() -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(TEMPLATE)
    values = row()
    sheet.append(
        [float(GOOD[:-1] + "1") if h == "身份证号" else values.get(h, "") for h in TEMPLATE]
    )
    buf = io.BytesIO()
    book.save(buf)
    _good, [bad] = run(buf.getvalue(), "roll.xlsx")
    assert "format the column as text" in bad.errors[0]["message"]


BAD_ROWS = [
    (row(身份证号=GOOD[:-1] + ("1" if GOOD[-1] != "1" else "2")), "id_number", "check digit"),
    (row(出生日期="1950-01-01"), "birth_date", "contradicts"),
    (row(性别="男"), "gender", "contradicts"),
    (row(区划代码="310104099001"), "region_code", "Unknown region"),
    (row(区划代码="310104004001"), "region_code", "outside your jurisdiction"),
    (row(手机="12345"), "mobile_phone", "not a valid phone"),
    (row(姓名=""), "name", "required"),
    (row(住址=""), "address", "required"),
    (row(居住情况="合租"), "household", "Household must be"),
    (row(类别="富豪"), "categories", "Unknown category"),
    (row(失智="也许"), "dementia", "Dementia must be"),
    (row(联系人电话=""), "contact_phone", "needs a phone"),
]


@pytest.mark.parametrize(("bad", "field", "fragment"), BAD_ROWS)
def test_each_bad_row_is_rejected_with_its_reason(
    bad: dict[str, str], field: str, fragment: str
) -> None:
    good, rejected = run(csv_bytes([bad]))
    assert good == []
    [item] = rejected
    assert item.row == 2
    assert any(e["field"] == field and fragment in e["message"] for e in item.errors), item.errors


def test_every_problem_of_a_row_is_reported_not_only_the_first() -> None:
    _good, [item] = run(csv_bytes([row(手机="1", 居住情况="?", 失智="?")]))
    assert {e["field"] for e in item.errors} == {"mobile_phone", "household", "dementia"}


def test_bad_rows_never_drop_the_good_rows_beside_them() -> None:
    rows = [
        row(),
        *[b for b, _f, _m in BAD_ROWS],
        row(姓名="王建国", 性别="男", 身份证号=rid("31010419400101001"), 出生日期=""),
    ]
    good, bad = run(csv_bytes(rows))
    assert [g.row for g in good] == [2, len(rows) + 1]
    assert len(bad) == len(BAD_ROWS)


def test_a_duplicate_id_within_the_file_rejects_the_later_row() -> None:
    good, [dup] = run(csv_bytes([row(), row(姓名="张桂英2")]))
    assert len(good) == 1 and dup.row == 3
    assert "row 2" in dup.errors[0]["message"]


def test_missing_required_columns_reject_the_whole_file() -> None:
    with pytest.raises(ImportFileError, match="区划代码"):
        read_table("姓名,身份证号,住址,居住情况\n".encode(), "x.csv")


@pytest.mark.parametrize(
    ("data", "name"), [(b"", "x.csv"), (b"\x00\x01", "x.pdf"), (b"PK\x03\x04junk", "x.xlsx")]
)
def test_unreadable_files_are_refused_with_a_reason(data: bytes, name: str) -> None:
    with pytest.raises(ImportFileError):
        read_table(data, name)


def test_only_columns_in_the_file_are_written() -> None:
    data = f"姓名,身份证号,住址,区划代码,居住情况\n张桂英,{GOOD},天平路1号,310104003001,独居\n"
    data = data.encode()
    [item], _bad = run(data)
    assert "allergies" not in item.values and "mobile_phone" not in item.values
    assert item.contact is None


def test_rejected_rows_download_carries_values_row_and_reasons() -> None:
    _good, bad = run(csv_bytes([row(手机="12345")]))
    out = list(
        rejected_to_rows([{"row": b.row, "errors": b.errors, "values": b.values} for b in bad])
    )
    assert out[0][-2:] == ["原行号 row", "错误原因 errors"]
    assert out[1][TEMPLATE.index("姓名")] == "张桂英"
    assert out[1][-2] == "2" and "not a valid phone" in out[1][-1]
