"""Who a policy entitles, and to how much (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PolicyTerms:
    id: int
    kind: str
    categories: frozenset[str]
    min_care_level: int | None
    monthly_amount: int
    amount_by_level: Mapping[str, Any]
    starts_on: dt.date
    ends_on: dt.date | None


def entitlement(
    terms: PolicyTerms, categories: Collection[str], care_level: int | None, month_start: dt.date
) -> int:
    """The monthly amount an elder gets under the policy (0: not eligible)."""
    if month_start < terms.starts_on.replace(day=1) or (
        terms.ends_on and month_start > terms.ends_on
    ):
        return 0
    if terms.categories and not terms.categories & set(categories):
        return 0
    if terms.min_care_level is not None and (
        care_level is None or care_level < terms.min_care_level
    ):
        return 0
    if terms.amount_by_level and care_level is not None:
        by_level = terms.amount_by_level.get(str(care_level))
        if by_level is not None:
            return int(by_level)
    return terms.monthly_amount


def period_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_start(period: str) -> dt.date:
    year, month = period.split("-")
    return dt.date(int(year), int(month), 1)


def previous_period(period: str) -> str:
    start = month_start(period)
    return period_of(start - dt.timedelta(days=1))
