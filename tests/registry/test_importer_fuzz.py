"""Whatever a spreadsheet holds, validation never crashes: every row comes back valid or
rejected with at least one reason a person can read."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yiyang.registry.importer import (
    HEADERS,
    TEMPLATE,
    RegionRef,
    RejectedRow,
    ValidRow,
    validate_row,
)

pytestmark = pytest.mark.unit

COLUMNS = {HEADERS[h]: i for i, h in enumerate(TEMPLATE)}
REGIONS = {"310104003001": RegionRef(1, "/310104000000/310104003000/310104003001/")}
cell = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(min_value=dt.date(1800, 1, 1)),
    st.sampled_from(
        ["310104003001", "独居", "是", "高龄、低保", "13812345678", "11010519491231002X"]
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(cell, min_size=0, max_size=len(TEMPLATE) + 3))
def test_any_row_is_either_valid_or_explained(cells: list[object]) -> None:
    result = validate_row(2, cells, COLUMNS, REGIONS, "/310104000000/")
    assert isinstance(result, ValidRow | RejectedRow)
    if isinstance(result, RejectedRow):
        assert result.errors
        assert all(e["message"] and e["column"] for e in result.errors)
    else:
        assert result.values["id_number"] and result.values["region_path"]
