"""Small XLSX builders: the import template and the rejected-rows download."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from stdnum.cn import ric

from yiyang.registry.importer import TEMPLATE, rejected_to_rows


def _save(rows: Iterable[list[Any]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Sheet1")
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def template_workbook() -> bytes:
    example = [
        "张桂英",
        "女",
        "31010419420315002" + ric.calc_check_digit("310104194203150020"),
        "1942-03-15",
        "13812345678",
        "",
        "天平路街道xx弄x号x室",
        "310104003001",
        "独居",
        "高龄、低保",
        "2",
        "高血压、糖尿病",
        "青霉素",
        "否",
        "李明",
        "儿子",
        "13912345678",
        "",
        "",
        "",
        "氨氯地平片 5mg 每日一次",
        "邻居王阿姨",
        "",
    ]
    return _save([TEMPLATE, example])


def rejected_workbook(rejected: list[dict[str, Any]], headers: list[str] | None = None) -> bytes:
    """The rejected rows with the file's own columns and cell text (all cells written as text,
    so an ID is never turned into a number again), the row number and the reasons."""
    return _save(rejected_to_rows(rejected, headers))
