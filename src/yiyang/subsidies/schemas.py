from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from yiyang.core.types import Input
from yiyang.subsidies.enums import CarryOver, PolicyKind

# fen or minutes a month: an integer column; ¥1,000,000 is far beyond any policy
MAX_AMOUNT = 100_000_000


class PolicyCreate(Input):
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{2,32}$")
    name: str = Field(min_length=2, max_length=128)  # NUL refused by Input
    kind: PolicyKind
    categories: list[Annotated[str, Field(max_length=32)]] = Field(
        default_factory=list, max_length=20
    )
    min_care_level: int | None = Field(default=None, ge=0, le=6)
    monthly_amount: int = Field(
        default=0, ge=0, le=MAX_AMOUNT, description="fen (credit) or minutes (hours)"
    )
    amount_by_level: dict[str, Annotated[int, Field(ge=0, le=MAX_AMOUNT)]] = Field(
        default_factory=dict
    )
    per_meal_fen: int = Field(default=0, ge=0, le=10_000)
    carry_over: CarryOver = CarryOver.NONE
    carry_cap: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    priority: int = Field(default=100, ge=0, le=1000)
    starts_on: dt.date
    ends_on: dt.date | None = None


class PolicyRead(PolicyCreate):
    model_config = ConfigDict(from_attributes=True)
    id: int
    active: bool


MONTH_PATTERN = r"^20\d{2}-(0[1-9]|1[0-2])$"  # 2000-01 … 2099-12


class SettlementRun(Input):
    period: str = Field(pattern=MONTH_PATTERN)


class StatementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    period: str
    provider_id: int
    orders: int
    reversals: int
    meals: int
    gross_fen: int
    subsidy_fen: int
    self_pay_fen: int
    settled_at: dt.datetime


class BalanceRead(BaseModel):
    policy_id: int
    policy: str
    kind: str
    unit: str
    balance: int


class ReportRow(BaseModel):
    region_path: str
    region: str
    unit: str
    elders: int
    allocated: int
    used: int
    balance: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> ReportRow:
        return cls(**row)


class MonthOpened(BaseModel):
    """What opening a month did; amounts keyed by policy id."""

    period: str
    allocations: int
    expiries: int
    allocated: dict[int, int]
    expired: dict[int, int]
