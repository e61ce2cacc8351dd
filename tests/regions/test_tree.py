"""The pure parts of the region tree pages: a child's code under its parent's, the tree with
elders per subtree, a division list's rows outside an area."""

from __future__ import annotations

import pytest

from yiyang.core.errors import ValidationFailed
from yiyang.regions.models import Region, RegionLevel
from yiyang.regions.service import (
    Division,
    build_tree,
    check_area,
    check_child_code,
    check_name,
)


def test_a_street_code_sits_under_its_district() -> None:
    district = "310104000000"
    assert check_child_code(district, RegionLevel.DISTRICT, "310104003000") is None
    for bad in ("310105003000", "310104000000", "310104003001", "31010400300", "31010400300x"):
        assert check_child_code(district, RegionLevel.DISTRICT, bad)


def test_a_community_code_sits_under_its_street() -> None:
    street = "310104003000"
    assert check_child_code(street, RegionLevel.STREET, "310104003041") is None
    for bad in ("310104004001", "310104003000", "３１０１０４００３０４１"):
        assert check_child_code(street, RegionLevel.STREET, bad)
    assert check_child_code("310104003041", RegionLevel.COMMUNITY, "310104003042")


def _r(id_: int, code: str, parent: int | None, path: str) -> Region:
    return Region(id=id_, code=code, name=code, level="x", parent_id=parent, path=path)


def test_the_tree_counts_elders_per_subtree() -> None:
    regions = [
        _r(3, "c1", 2, "/d/s/c1/"),
        _r(1, "d", None, "/d/"),
        _r(2, "s", 1, "/d/s/"),
        _r(4, "c2", 2, "/d/s/c2/"),
        _r(5, "s2", 1, "/d/s2/"),
    ]
    [root] = build_tree(regions, {3: 5, 4: 2, 5: 1, 2: 1})
    assert root.region.code == "d" and root.elders == 9
    street, street2 = root.children
    assert street.elders == 8 and [c.region.code for c in street.children] == ["c1", "c2"]
    assert street2.elders == 1


def test_rows_outside_the_area() -> None:
    rows = [
        Division("310104000000", "徐汇区", ""),
        Division("310104003000", "天平路街道", "310104000000"),
        Division("310105000000", "长宁区", ""),
    ]
    assert check_area(rows, "/310104000000/") == ["310105000000"]
    assert check_area(rows, "/") == []
    assert check_area(rows, "/310104000000/310104003000/") == ["310104000000", "310105000000"]


def test_a_name_is_kept_normalised_and_without_control_characters() -> None:
    assert check_name(" 天平路街道　") == "天平路街道"
    for bad in ("", " ", "x" * 65, "a\x00b", "a\u202eb", "a\u200bb"):
        with pytest.raises(ValidationFailed):
            check_name(bad)
