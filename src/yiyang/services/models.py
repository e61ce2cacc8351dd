"""Providers, caregivers, the catalog, orders (with their append-only trail), ratings,
complaints, canteens and meals."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from yiyang.core.audit import Audited
from yiyang.core.clock import now
from yiyang.core.db import Base
from yiyang.core.masking import mask_phone


class Provider(Audited, Base):
    """A service organisation (服务商) licensed to work in some regions."""

    __tablename__ = "provider"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    licence_no: Mapped[str] = mapped_column(String(64), unique=True)
    licence_expires_on: Mapped[dt.date | None] = mapped_column(Date)
    contact_name: Mapped[str] = mapped_column(String(64))
    contact_phone: Mapped[str] = mapped_column(String(20))
    contact_email: Mapped[str | None] = mapped_column(String(255))
    # the district that registered it (who may manage it)
    region_path: Mapped[str] = mapped_column(String(255))
    # service areas: region paths the provider may serve (a street, a community, the district)
    areas: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | suspended
    status_reason: Mapped[str | None] = mapped_column(String(500))  # why it is suspended
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class Caregiver(Audited, Base):
    __tablename__ = "caregiver"
    __table_args__ = (Index("ix_caregiver_provider", "provider_id", "active"),)
    __audit_mask__ = {"phone": mask_phone}  # noqa: RUF012

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    skills: Mapped[list[Any]] = mapped_column(default=list)  # service categories / nursing skills
    areas: Mapped[list[Any]] = mapped_column(default=list)  # region paths served
    work_days: Mapped[list[Any]] = mapped_column(default=lambda: [0, 1, 2, 3, 4])
    work_start: Mapped[dt.time] = mapped_column(Time, default=dt.time(8, 0))
    work_end: Mapped[dt.time] = mapped_column(Time, default=dt.time(18, 0))
    max_jobs_per_day: Mapped[int] = mapped_column(SmallInteger, default=8)
    home_lat: Mapped[float | None] = mapped_column(Float)
    home_lon: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class Certificate(Audited, Base):
    """A qualification (养老护理员证, 健康证, 康复治疗师…) that a skill depends on."""

    __tablename__ = "caregiver_certificate"
    __table_args__ = (Index("ix_caregiver_certificate_caregiver", "caregiver_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    caregiver_id: Mapped[int] = mapped_column(ForeignKey("caregiver.id", ondelete="CASCADE"))
    skill: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(64))
    expires_on: Mapped[dt.date | None] = mapped_column(Date)


class ServiceItem(Audited, Base):
    """One line of a provider's catalog."""

    __tablename__ = "service_item"
    __table_args__ = (UniqueConstraint("provider_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(8))  # visit | hour | meal
    price_fen: Mapped[int] = mapped_column(Integer)
    duration_min: Mapped[int] = mapped_column(Integer)  # per unit
    required_skill: Mapped[str | None] = mapped_column(String(32))
    policy_ids: Mapped[list[Any]] = mapped_column(default=list)  # subsidy policies that may pay
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OrderSeries(Audited, Base):
    """A recurring order (lunch on weekdays, a bath every Saturday); orders are generated a
    fortnight ahead, each idempotently."""

    __tablename__ = "order_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elder.id"))
    region_path: Mapped[str] = mapped_column(String(255))
    item_id: Mapped[int] = mapped_column(ForeignKey("service_item.id"))
    quantity: Mapped[int] = mapped_column(SmallInteger, default=1)
    weekdays: Mapped[list[Any]] = mapped_column(default=list)  # 0 = Monday
    time_of_day: Mapped[dt.time] = mapped_column(Time)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    placed_by: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class ServiceOrder(Audited, Base):
    __tablename__ = "service_order"
    __table_args__ = (
        UniqueConstraint("placed_by", "idempotency_key"),
        Index(
            "ix_service_order_region",
            "region_path",
            "scheduled_at",
            postgresql_ops={"region_path": "text_pattern_ops"},
        ),
        Index("ix_service_order_provider", "provider_id", "state", "scheduled_at"),
        Index("ix_service_order_caregiver", "caregiver_id", "scheduled_at"),
        Index("ix_service_order_elder", "elder_id", "scheduled_at"),
        Index(
            "ix_service_order_accept_due",
            "accept_due_at",
            postgresql_where=text("state = 'assigned' AND escalated_at IS NULL"),
            sqlite_where=text("state = 'assigned' AND escalated_at IS NULL"),
        ),
    )
    __audit_exclude__ = frozenset({"updated_at", "version", "signature"})
    # the trail says a code was issued, never which (auditors are not the elder's side)
    __audit_mask__ = {"confirm_code": lambda _v: "******"}  # noqa: RUF012

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elder.id"))
    region_path: Mapped[str] = mapped_column(String(255))
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("service_item.id"))
    caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregiver.id"))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("order_series.id"))
    state: Mapped[str] = mapped_column(String(16), default="placed")
    quantity: Mapped[int] = mapped_column(SmallInteger, default=1)
    scheduled_at: Mapped[dt.datetime]
    booked_minutes: Mapped[int] = mapped_column(Integer)
    unit_price_fen: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(255))
    home_lat: Mapped[float | None] = mapped_column(Float)
    home_lon: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    placed_by: Mapped[int | None] = mapped_column(Integer)
    placed_by_name: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(80))
    confirm_code: Mapped[str] = mapped_column(String(8))  # the elder reads it to the caregiver
    # wrong codes since it was issued; at proof.CODE_MAX_FAILURES it locks until reissued
    code_failures: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    code_locked_at: Mapped[dt.datetime | None]
    assigned_at: Mapped[dt.datetime | None]
    accept_due_at: Mapped[dt.datetime | None]
    escalated_at: Mapped[dt.datetime | None]
    accepted_at: Mapped[dt.datetime | None]
    checkin_at: Mapped[dt.datetime | None]
    checkin_lat: Mapped[float | None] = mapped_column(Float)
    checkin_lon: Mapped[float | None] = mapped_column(Float)
    checkin_distance_m: Mapped[float | None] = mapped_column(Float)
    checkout_at: Mapped[dt.datetime | None]
    checkout_lat: Mapped[float | None] = mapped_column(Float)
    checkout_lon: Mapped[float | None] = mapped_column(Float)
    checkout_distance_m: Mapped[float | None] = mapped_column(Float)
    confirmed_at: Mapped[dt.datetime | None]
    confirmed_via: Mapped[str | None] = mapped_column(String(16))  # code | signature | staff
    signature: Mapped[str | None] = mapped_column(Text)  # SVG path data of the elder's mark
    flags: Mapped[list[Any]] = mapped_column(default=list)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    # subsidy_first: the rest is self-paid | subsidy_only: refuse what the subsidy cannot cover
    pay_with: Mapped[str] = mapped_column(String(16), default="subsidy_first")
    pay_round: Mapped[int] = mapped_column(SmallInteger, default=0)  # payments posted so far
    subsidy_fen: Mapped[int] = mapped_column(Integer, default=0)  # of the current payment
    self_pay_fen: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    def audit_region_path(self) -> str | None:
        return self.region_path


class OrderEvent(Base):
    """The order's trail, append-only: who did what, when, from which state to which."""

    __tablename__ = "service_order_event"
    __table_args__ = (Index("ix_service_order_event_order", "order_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("service_order.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(default=now)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Rating(Audited, Base):
    __tablename__ = "service_rating"
    __table_args__ = (
        Index("ix_service_rating_provider", "provider_id"),
        Index("ix_service_rating_caregiver", "caregiver_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("service_order.id"), unique=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elder.id"))
    region_path: Mapped[str] = mapped_column(String(255))
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    caregiver_id: Mapped[int | None] = mapped_column(ForeignKey("caregiver.id"))
    stars: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    by_user: Mapped[int | None] = mapped_column(Integer)
    by_name: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=now)


class Complaint(Audited, Base):
    __tablename__ = "service_complaint"
    __table_args__ = (Index("ix_service_complaint_open", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("service_order.id"))
    elder_id: Mapped[int] = mapped_column(ForeignKey("elder.id"))
    region_path: Mapped[str] = mapped_column(String(255))
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    state: Mapped[str] = mapped_column(String(16), default="received")
    category: Mapped[str] = mapped_column(String(32))  # quality | attitude | late | fee | other
    description: Mapped[str] = mapped_column(Text)
    opened_by: Mapped[int | None] = mapped_column(Integer)
    opened_by_name: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[dt.datetime] = mapped_column(default=now)
    # deadlines (regulations commonly ask: accept within 1 working day, answer within 7 days)
    respond_by: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime]
    investigating_at: Mapped[dt.datetime | None]
    handler_name: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[dt.datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)


class Canteen(Audited, Base):
    """A community canteen (长者食堂 / 助餐点) run by a provider."""

    __tablename__ = "canteen"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    name: Mapped[str] = mapped_column(String(128))
    region_path: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(255))
    delivers: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Menu(Audited, Base):
    """One meal of one day at one canteen."""

    __tablename__ = "canteen_menu"
    __table_args__ = (UniqueConstraint("canteen_id", "day", "meal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    canteen_id: Mapped[int] = mapped_column(ForeignKey("canteen.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    meal: Mapped[str] = mapped_column(String(8))  # breakfast | lunch | dinner
    dishes: Mapped[list[Any]] = mapped_column(default=list)
    price_fen: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer, default=200)


class MealOrder(Audited, Base):
    __tablename__ = "meal_order"
    __table_args__ = (
        UniqueConstraint("elder_id", "menu_id"),
        Index("ix_meal_order_menu", "menu_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elder.id"))
    region_path: Mapped[str] = mapped_column(String(255))
    menu_id: Mapped[int] = mapped_column(ForeignKey("canteen_menu.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"))
    mode: Mapped[str] = mapped_column(String(8))  # pickup | delivery
    state: Mapped[str] = mapped_column(
        String(12), default="ordered"
    )  # ordered | served | cancelled
    price_fen: Mapped[int] = mapped_column(Integer)
    subsidy_fen: Mapped[int] = mapped_column(Integer, default=0)
    self_pay_fen: Mapped[int] = mapped_column(Integer, default=0)
    policy_id: Mapped[int | None] = mapped_column(Integer)
    placed_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    served_at: Mapped[dt.datetime | None]
