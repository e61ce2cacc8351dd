"""API shapes for providers, caregivers, the catalog, orders, ratings, complaints and meals."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from yiyang.core.types import Id, Input
from yiyang.services.enums import ServiceCategory, Unit

RegionCode = str
Reason = Field(min_length=2, max_length=500)


class ProviderCreate(Input):
    name: str = Field(min_length=2, max_length=128)
    licence_no: str = Field(min_length=4, max_length=64)
    licence_expires_on: dt.date | None = None
    contact_name: str = Field(min_length=1, max_length=64)
    contact_phone: str = Field(pattern=r"^\+?[0-9-]{7,20}$")
    contact_email: str | None = Field(default=None, max_length=255)
    areas: list[RegionCode] = Field(min_length=1, description="region codes it may serve")


class ProviderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    licence_no: str
    licence_expires_on: dt.date | None
    contact_name: str
    contact_phone: str
    status: str
    areas: list[str]


class CaregiverCreate(Input):
    provider_id: Id | None = None  # a provider admin's own provider when omitted
    name: str = Field(min_length=1, max_length=64)
    phone: str = Field(pattern=r"^\+?[0-9-]{7,20}$")
    skills: list[str] = Field(default_factory=list)
    areas: list[RegionCode] = Field(min_length=1)
    work_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    work_start: dt.time = dt.time(8, 0)
    work_end: dt.time = dt.time(18, 0)
    max_jobs_per_day: int = Field(default=8, ge=1, le=20)
    home_lat: float | None = Field(default=None, ge=-90, le=90)
    home_lon: float | None = Field(default=None, ge=-180, le=180)
    user_id: Id | None = None

    @field_validator("work_days")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in v):
            raise ValueError("work days are 0 (Monday) to 6 (Sunday)")
        return sorted(set(v))


class CaregiverRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    provider_id: int
    name: str
    phone: str
    skills: list[str]
    areas: list[str]
    work_days: list[int]
    work_start: dt.time
    work_end: dt.time
    max_jobs_per_day: int
    active: bool


class CertificateCreate(Input):
    skill: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=64)
    number: str = Field(min_length=1, max_length=64)
    expires_on: dt.date | None = None


class ItemCreate(Input):
    provider_id: Id | None = None
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str = Field(min_length=1, max_length=128)
    category: ServiceCategory
    unit: Unit
    price_fen: int = Field(ge=0, le=10_000_000, description="price per unit, in fen (0.01 yuan)")
    duration_min: int = Field(ge=5, le=720, description="minutes per unit")
    required_skill: str | None = None
    policy_ids: list[int] = Field(default_factory=list)


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    provider_id: int
    code: str
    name: str
    category: str
    unit: str
    price_fen: int
    duration_min: int
    required_skill: str | None
    policy_ids: list[int]


class OrderCreate(Input):
    elder_id: Id
    item_id: Id
    scheduled_at: dt.datetime = Field(description="local time when naive (Asia/Shanghai)")
    quantity: int = Field(default=1, ge=1, le=12)
    note: str | None = Field(default=None, max_length=1000)
    pay_with: Literal["subsidy_first", "subsidy_only"] = "subsidy_first"
    idempotency_key: str | None = Field(
        default=None, max_length=80, description="or the Idempotency-Key header"
    )
    expected_self_pay_fen: int | None = Field(
        default=None,
        ge=0,
        le=100_000_000,
        description="what the elder was shown they would pay (GET /api/orders/quote); when the "
        "price or the subsidy changed meanwhile the order is refused with 409 price_changed "
        "and the new figures",
    )
    expected_amount_fen: int | None = Field(
        default=None,
        ge=0,
        le=100_000_000,
        description="the price that was shown; refused like expected_self_pay_fen when it changed",
    )


class PolicyBalance(BaseModel):
    policy: str
    unit: Literal["fen", "min"]
    balance: int


class OrderQuote(BaseModel):
    """An order's price and who pays what, before it is placed (the same rule pays it)."""

    amount_fen: int
    subsidy_fen: int
    self_pay_fen: int
    minutes_used: int
    balances: list[PolicyBalance]


class SeriesCreate(Input):
    elder_id: Id
    item_id: Id
    weekdays: list[int] = Field(min_length=1)
    time_of_day: dt.time
    starts_on: dt.date
    ends_on: dt.date | None = None
    quantity: int = Field(default=1, ge=1, le=12)

    @field_validator("weekdays")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in v):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return sorted(set(v))


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    elder_id: int
    provider_id: int
    item_id: int
    caregiver_id: int | None
    series_id: int | None
    state: str
    quantity: int
    scheduled_at: dt.datetime
    booked_minutes: int
    unit_price_fen: int
    amount_fen: int
    pay_with: str
    subsidy_fen: int
    self_pay_fen: int
    flags: list[str]
    accept_due_at: dt.datetime | None
    escalated_at: dt.datetime | None
    checkin_at: dt.datetime | None
    checkin_distance_m: float | None
    checkout_at: dt.datetime | None
    confirmed_at: dt.datetime | None
    confirmed_via: str | None
    code_failures: int  # wrong elder's codes since it was issued
    code_locked_at: dt.datetime | None  # locked after five: reissue it, or confirm otherwise
    cancel_reason: str | None
    dispute_reason: str | None
    version: int


class OrderAssignment(Input):
    caregiver_id: Id
    note: str | None = Field(default=None, max_length=500)


class StepReason(Input):
    reason: str = Reason


class InvestigationNote(Input):
    note: str | None = Field(default=None, max_length=500)


class OrderCheckIn(Input):
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class OrderCheckOut(OrderCheckIn):
    code: str | None = Field(default=None, max_length=8, description="the elder's code")
    signature: str | None = Field(default=None, max_length=20_000, description="SVG path")


class OrderConfirmation(Input):
    code: str | None = Field(default=None, max_length=8)


class RatingCreate(Input):
    stars: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=1000)


class ComplaintCreate(Input):
    order_id: Id
    category: Literal["quality", "attitude", "late", "fee", "safety", "other"]
    description: str = Field(min_length=4, max_length=2000)


class ComplaintRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    order_id: int | None
    elder_id: int
    provider_id: int
    state: str
    category: str
    description: str
    opened_by_name: str
    opened_at: dt.datetime
    respond_by: dt.datetime
    due_at: dt.datetime
    handler_name: str | None
    resolved_at: dt.datetime | None
    resolution: str | None


class CanteenCreate(Input):
    provider_id: Id
    name: str = Field(min_length=2, max_length=128)
    region_code: RegionCode
    address: str = Field(min_length=2, max_length=255)
    delivers: bool = True


class MenuCreate(Input):
    day: dt.date
    meal: Literal["breakfast", "lunch", "dinner"]
    dishes: list[str] = Field(min_length=1, max_length=12)
    price_fen: int = Field(ge=0, le=100_000)
    capacity: int = Field(default=200, ge=1, le=5000)


class MealOrderCreate(Input):
    elder_id: Id
    menu_id: Id
    mode: Literal["pickup", "delivery"] = "pickup"


class MealOrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    elder_id: int
    menu_id: int
    mode: str
    state: str
    price_fen: int
    subsidy_fen: int
    self_pay_fen: int
    policy_id: int | None


# --- results of JSON routes that add to the read shapes above ---


class ProviderListItem(ProviderRead):
    score: float
    reviews: int
    mean: float | None


class CaregiverListItem(CaregiverRead):
    score: float
    reviews: int


class CertificateRead(BaseModel):
    id: int
    skill: str
    expires_on: dt.date | None


class SeriesCreated(BaseModel):
    id: int
    orders_created: int


class OrderListItem(OrderRead):
    elder_name: str | None
    item_name: str | None
    caregiver_name: str | None


class OrderTrailEntry(BaseModel):
    at: str  # ISO 8601, as stored
    actor: str | None
    action: str
    from_: str | None = Field(alias="from")
    to: str | None
    note: str | None


class OrderDetail(OrderRead):
    """One order with its trail; ``confirm_code`` only for those who place orders (the key is
    absent otherwise: the route excludes unset fields)."""

    address: str | None
    confirm_code: str | None = None
    trail: list[OrderTrailEntry]


class SuggestionRead(BaseModel):
    caregiver_id: int
    name: str
    score: float  # lower is better
    travel_km: float | None
    load: int
    excluded: str | None  # why not, or None when eligible


class RatingRead(BaseModel):
    id: int
    stars: int


class ScoreRead(BaseModel):
    score: float
    count: int
    mean: float | None


class ComplaintListItem(ComplaintRead):
    overdue: bool


class CanteenRead(BaseModel):
    id: int
    name: str


class MenuRead(BaseModel):
    id: int
    day: dt.date
    meal: str
    price_fen: int
