"""Fixture builder: a street's 老年人花名册 as clerks really send it (issue #17) — a title row
merged across the columns and a notes row above the Chinese headers, communities by name, and
every awkward case typed by hand — as XLSX (openpyxl) and as GBK-encoded CSV.

Each case carries what the import must make of it, so the tests read the expectations from
here. Scope: the street officer of 天平路街道 (310104003000) in the demo tree.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from stdnum.cn import ric

HEADERS = [
    "序号",
    "姓名",
    "性别",
    "身份证号",
    "出生日期",
    "联系电话",
    "居住地址",
    "所属街道",
    "所属社区",
    "人员类别",
    "居住情况",
]
TITLE = "天平路街道老年人花名册（2026年12月）"
NOTES = "填表说明：身份证号请填写18位；联系电话可填多个，用逗号分开。"
HEADER_ROW = 3  # title in row 1, notes in row 2
STREET = "天平路街道"
COMMUNITY = "建国居委会"  # 310104003001 in the demo tree
AREA_CODE = "021"  # YIYANG_DEFAULT_AREA_CODE for this roll
FULL = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def rid(body17: str) -> str:
    """An 18-digit ID with its GB 11643 check digit."""
    return body17 + ric.calc_check_digit(body17 + "0")


def id15(area: str, yymmdd: str, seq: str) -> str:
    return area + yymmdd + seq


def excel_number(number: str) -> float:
    """What Excel keeps of an 18-digit ID typed into a number cell: 15 significant digits."""
    return float(f"{int(number):.15g}")


@dataclass
class Case:
    """One row of the roll and what the import must make of it."""

    key: str
    cells: dict[str, Any]  # header → value (XLSX cell value; CSV gets its text form)
    accepted: bool
    expect: dict[str, Any] = field(default_factory=dict)  # stored values, when accepted
    reason: str = ""  # a fragment of the reason, when rejected
    reason_field: str = ""
    csv_cells: dict[str, str] = field(default_factory=dict)  # where the CSV differs


def _base(name: str, number: str, **over: Any) -> dict[str, Any]:
    cells: dict[str, Any] = {
        "姓名": name,
        "性别": "",
        "身份证号": number,
        "出生日期": "",
        "联系电话": "",
        "居住地址": "天平路1弄1号",
        "所属街道": STREET,
        "所属社区": COMMUNITY,
        "人员类别": "高龄",
        "居住情况": "独居",
    }
    cells.update(over)
    return cells


WIDE_ID = rid("31010419380205002")  # typed with full-width digits below
OLD_ID = id15("310104", "400708", "003")  # 1940-07-08, sequence 003: male
OLD_ID_18 = rid("31010419400708003")
SERIAL_ID = rid("31010419600711004")  # born 1960-07-11 = Excel serial 22108
LOST_ID = rid("31010419420315008")  # Excel turned it into a number
SPACED_NAME_ID = rid("31010419450101005")
LANDLINE_ID = rid("31010419460202006")
SEVERAL_ID = rid("31010419470303007")
SYNONYM_ID = rid("31010419480404001")
NORMALISED_COMMUNITY_ID = rid("31010419490505002")
BAD_CHECK = rid("31010419500606003")
BAD_CHECK = BAD_CHECK[:-1] + ("1" if BAD_CHECK[-1] != "1" else "2")

CASES: list[Case] = [
    Case(
        "plain",
        _base("张桂英", rid("31010419420315002"), 性别="女", 联系电话="13812340001"),
        True,
        {"name": "张桂英", "mobile_phone": "13812340001", "household": "alone"},
    ),
    Case(
        "full-width ID and phone",
        _base("王建国", WIDE_ID.translate(FULL), 联系电话="１３８１２３４０００２"),
        True,
        {"id_number": WIDE_ID, "mobile_phone": "13812340002"},
    ),
    Case(
        "duplicate differing only by full-width digits",
        _base("王建国", WIDE_ID),
        False,
        reason="already appears in row",
        reason_field="id_number",
    ),
    Case(
        "15-digit first-generation ID",
        _base("李德明", OLD_ID, 性别="男", 出生日期="1940-07-08"),
        True,
        {"id_number": OLD_ID_18, "id_number_legacy": OLD_ID, "gender": "male"},
    ),
    Case(
        "15-digit ID with a contradicting birth date",
        _base("赵大妈", id15("310104", "410101", "004"), 出生日期="1941-02-01"),
        False,
        reason="contradicts",
        reason_field="birth_date",
    ),
    Case(
        "Excel date serial",
        _base("钱淑芬", SERIAL_ID, 出生日期=22108),
        True,
        {"birth_date": dt.date(1960, 7, 11)},
        csv_cells={"出生日期": "22108"},
    ),
    Case(
        "ID Excel turned into a number",
        _base("孙志强", excel_number(LOST_ID)),
        False,
        reason="Excel turned this ID into a number and lost its last digits",
        reason_field="id_number",
        csv_cells={"身份证号": f"{excel_number(LOST_ID):.5E}"},  # 3.10104E+17
    ),
    Case(
        "full-width space inside the name",
        _base("任\u3000明", SPACED_NAME_ID),
        True,
        {"name": "任明"},
    ),
    Case(
        "landline in 联系电话",
        _base("周秀兰", LANDLINE_ID, 联系电话="021-64381234"),
        True,
        {"mobile_phone": None, "home_phone": "02164381234"},
    ),
    Case(
        "several numbers with a note, a local landline",
        _base("吴国华", SEVERAL_ID, 联系电话="13812345678（儿子），6438 1235"),
        True,
        {
            "mobile_phone": "13812345678",
            "home_phone": "02164381235",
            "phone_notes": "13812345678（儿子）",
        },
    ),
    Case(
        "household and category synonyms",
        _base("郑玉珍", SYNONYM_ID, 居住情况="子女不在身边", 人员类别="低保户、高龄老人"),
        True,
        {"household": "empty_nest"},
    ),
    Case(
        "community by its name without the suffix",
        _base("冯建平", NORMALISED_COMMUNITY_ID, 所属社区="建国", 居住情况="独居老人"),
        True,
        {"household": "alone", "region_path": "/310104000000/310104003000/310104003001/"},
    ),
    Case(
        "unknown community",
        _base("陈阿婆", rid("31010419510707004"), 所属社区="不存在居委会"),
        False,
        reason="Unknown community 不存在居委会",
        reason_field="community_name",
    ),
    Case(
        "community of another street",
        _base("褚老伯", rid("31010419520808005"), 所属街道="湖南路街道", 所属社区="桂林居委会"),
        False,
        reason="outside your jurisdiction",
        reason_field="street_name",
    ),
    Case(
        "household wording nobody mapped",
        _base("卫大爷", rid("31010419530909006"), 居住情况="合租"),
        False,
        reason="合租",
        reason_field="household",
    ),
    Case(
        "wrong check digit",
        _base("蒋奶奶", BAD_CHECK),
        False,
        reason="check digit",
        reason_field="id_number",
    ),
]


def _rows(csv_form: bool) -> list[list[Any]]:
    rows = []
    for number, case in enumerate(CASES, start=1):
        cells = {**case.cells, **(case.csv_cells if csv_form else {})}
        rows.append([number, *(cells.get(h, "") for h in HEADERS[1:])])
    return rows


def row_of(key: str) -> int:
    """The spreadsheet row a case lands on (the same in both forms)."""
    return HEADER_ROW + 1 + [c.key for c in CASES].index(key)


def roll_xlsx() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append([TITLE])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    sheet.append([NOTES])
    sheet.append(HEADERS)
    for row in _rows(csv_form=False):
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def roll_gbk_csv() -> bytes:
    """The same roll saved from Excel as CSV on a Chinese Windows: GBK, the title row padded
    with empty cells, a blank line where the notes row was."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([TITLE] + [""] * (len(HEADERS) - 1))
    writer.writerow([""] * len(HEADERS))
    writer.writerow(HEADERS)
    for row in _rows(csv_form=True):
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue().encode("gbk")
