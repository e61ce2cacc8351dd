"""Subsidy policies and the double-entry ledger: accounts, entries (one per business event,
idempotent by key) and their postings. Append-only: nothing here is ever updated or deleted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from yiyang.core.audit import Audited
from yiyang.core.clock import now
from yiyang.core.db import Base, BigId


class SubsidyPolicy(Audited, Base):
    __tablename__ = "subsidy_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(12))  # credit | hours | per_meal
    # eligible when the elder holds any of these categories (empty: any) …
    categories: Mapped[list[Any]] = mapped_column(default=list)
    # … and, when set, has at least this care level (统一需求评估 0–6)
    min_care_level: Mapped[int | None] = mapped_column(SmallInteger)
    monthly_amount: Mapped[int] = mapped_column(Integer, default=0)  # fen, or minutes
    amount_by_level: Mapped[dict[str, Any]] = mapped_column(default=dict)  # "3" → minutes
    per_meal_fen: Mapped[int] = mapped_column(Integer, default=0)
    carry_over: Mapped[str] = mapped_column(String(12), default="none")
    carry_cap: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(SmallInteger, default=100)  # lower pays first
    region_path: Mapped[str] = mapped_column(String(255))  # the issuing district
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class LedgerAccount(Base):
    __tablename__ = "ledger_account"
    __table_args__ = (
        Index("ix_ledger_account_elder", "elder_id"),
        Index("ix_ledger_account_region", "kind", "region_path"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # fund | credit | spent | cash | payable
    unit: Mapped[str] = mapped_column(String(4))  # fen | min
    elder_id: Mapped[int | None] = mapped_column(Integer)
    provider_id: Mapped[int | None] = mapped_column(Integer)
    policy_id: Mapped[int | None] = mapped_column(Integer)
    region_path: Mapped[str | None] = mapped_column(String(255))


class LedgerEntry(Base):
    """One business event. ``key`` makes posting idempotent: pay:<order>, reverse:<order>,
    alloc:<policy>:<elder>:<YYYY-MM>, expire:<policy>:<elder>:<YYYY-MM>, meal:<meal order>."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        Index("ix_ledger_entry_period", "period", "kind"),
        Index("ix_ledger_entry_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM, local
    order_id: Mapped[int | None] = mapped_column(Integer)
    meal_order_id: Mapped[int | None] = mapped_column(Integer)
    provider_id: Mapped[int | None] = mapped_column(Integer)
    elder_id: Mapped[int | None] = mapped_column(Integer)
    reverses_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(64), default="system")
    at: Mapped[dt.datetime] = mapped_column(default=now)


class LedgerPosting(Base):
    __tablename__ = "ledger_posting"
    __table_args__ = (
        Index("ix_ledger_posting_account", "account_id"),
        Index("ix_ledger_posting_entry", "entry_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("ledger_entry.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_account.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    unit: Mapped[str] = mapped_column(String(4))


class SettlementStatement(Base):
    """A provider's month, as settled: rebuilt (not edited) if the month is settled again."""

    __tablename__ = "settlement_statement"
    __table_args__ = (
        Index("ix_settlement_statement_period", "period", "provider_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    provider_id: Mapped[int] = mapped_column(Integer)
    orders: Mapped[int] = mapped_column(Integer)
    reversals: Mapped[int] = mapped_column(Integer)
    meals: Mapped[int] = mapped_column(Integer)
    gross_fen: Mapped[int] = mapped_column(BigInteger)
    subsidy_fen: Mapped[int] = mapped_column(BigInteger)
    self_pay_fen: Mapped[int] = mapped_column(BigInteger)
    settled_at: Mapped[dt.datetime] = mapped_column(default=now)
