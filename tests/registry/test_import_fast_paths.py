"""The importer's hot-path shortcuts (issue #17 speed) answer exactly what the general rules of
``registry.validation`` answer."""

import pytest

from yiyang.registry import importer
from yiyang.registry.validation import FieldError, split_phones

CELLS = [
    "13812345678",
    "02163097244",
    "0216309724",
    "05711234567",
    "0101234567",
    "008612345678",  # 0086 + a number too short: refused by the general rule, not a landline
    "0123456789012",
    "021 6309 7244",
    "63097244",
    "13812345678（儿子）",
    "１３８１２３４５６７８",
]


def _answer(function, cell: str):  # type: ignore[no-untyped-def]
    try:
        phones = function(cell)
    except FieldError as exc:
        return ("error", exc.message)
    return (phones.mobiles, phones.landlines, phones.notes)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("area_code", ["", "021"])
def test_phone_shortcuts_answer_as_split_phones(cell: str, area_code: str) -> None:
    text = importer._text(cell)
    shortcut = _answer(lambda c: importer._phones(c, "phone", area_code), text)
    general = _answer(lambda c: split_phones(c, "phone", area_code), text)
    assert shortcut == general


@pytest.mark.parametrize(
    "cell", ["高血压、糖尿病", " 高血压，糖尿病 ", "", "ＣＯＰＤ/哮喘", 3.0, None]
)
def test_split_lists_are_fresh_and_as_uncached(cell) -> None:  # type: ignore[no-untyped-def]
    expected = [p for p in importer._SPLIT.split(importer._text(cell)) if p]
    first = importer._split(cell)
    assert first == expected
    first.append("changed")  # a row's list is its own: a change never reaches the next row
    assert importer._split(cell) == expected
