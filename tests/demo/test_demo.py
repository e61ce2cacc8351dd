import datetime as dt

import pytest

from yiyang.demo.generate import community_codes, elder_rows, regions
from yiyang.registry.importer import RegionRef, validate_row

pytestmark = pytest.mark.unit

DAY = dt.date(2026, 1, 1)


def test_same_seed_same_district() -> None:
    codes = community_codes(regions())
    assert list(elder_rows(50, 3, codes, DAY)) == list(elder_rows(50, 3, codes, DAY))
    assert list(elder_rows(50, 3, codes, DAY)) != list(elder_rows(50, 4, codes, DAY))


def test_demo_rows_are_plausible_and_valid() -> None:
    specs = regions()
    refs = {r.code: RegionRef(i, f"/{r.code}/") for i, r in enumerate(specs)}
    rows = list(elder_rows(3000, 1, community_codes(specs), DAY))
    columns = {h: i for i, h in enumerate(rows[0])}
    from yiyang.registry.importer import HEADERS

    fields = {HEADERS[h]: i for h, i in columns.items()}
    results = [validate_row(n, list(r.values()), fields, refs, "/") for n, r in enumerate(rows)]
    assert all(not hasattr(r, "errors") for r in results)
    ages = [DAY.year - int(r["出生日期"][:4]) for r in rows]
    assert min(ages) >= 59 and max(ages) <= 101
    sixties = sum(60 <= a < 70 for a in ages) / len(ages)
    assert 0.45 < sixties < 0.7  # skewed young-old, as China's 60+ population is
    alone = sum(r["居住情况"] == "独居" for r in rows) / len(rows)
    assert 0.15 < alone < 0.25
