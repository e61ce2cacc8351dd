"""Alerts, their append-only trail, per-elder rule state and rule parameters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from yiyang.alarms.enums import AlertState
from yiyang.core.audit import Audited
from yiyang.core.clock import now
from yiyang.core.db import Base, BigId


class Alert(Audited, Base):
    __tablename__ = "alert"
    __audit_exclude__ = frozenset({"updated_at", "version"})
    __table_args__ = (
        # At most one open alert per elder and kind: repeats merge into it, and two workers
        # racing on the same event cannot make two.
        Index(
            "uq_alert_open",
            "elder_id",
            "dedupe_key",
            unique=True,
            postgresql_where=text("state <> 'resolved'"),
            sqlite_where=text("state <> 'resolved'"),
        ),
        Index("ix_alert_elder_key", "elder_id", "dedupe_key"),
        Index("ix_alert_state_severity", "state", "severity", "created_at"),
        Index(
            "ix_alert_region_created",
            "region_path",
            "created_at",
            postgresql_ops={"region_path": "text_pattern_ops"},
        ),
        Index(
            "ix_alert_escalation_due",
            "next_escalation_at",
            postgresql_where=text("next_escalation_at IS NOT NULL"),
            sqlite_where=text("next_escalation_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elder.id"))
    region_path: Mapped[str] = mapped_column(String(255))
    device_id: Mapped[int | None] = mapped_column(Integer)
    alert_type: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    state: Mapped[AlertState] = mapped_column(String(16), default=AlertState.NEW)
    outcome: Mapped[str | None] = mapped_column(String(24))
    dedupe_key: Mapped[str] = mapped_column(String(96))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # explanation: code + figures
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[dt.datetime]  # when it happened (device time)
    last_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=now)  # when the platform stored it
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(Integer)
    handling_at: Mapped[dt.datetime | None]
    dispatched_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(Integer)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # The operator handling it (claimed in the console); one at a time.
    claimed_by: Mapped[int | None] = mapped_column(Integer)
    claimed_by_name: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime | None]
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class AlertEvent(Base):
    """The alert's trail: created, repeated, escalated, notified, each transition (append-only)."""

    __tablename__ = "alert_event"
    __table_args__ = (Index("ix_alert_event_alert", "alert_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"))
    at: Mapped[dt.datetime] = mapped_column(default=now)
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ElderState(Base):
    """What the rules remember about an elder between messages (one row per elder). Workers
    keep no state of their own, so any worker can take over an elder after a crash."""

    __tablename__ = "elder_state"
    # No index on last_activity_at: it moves with every motion event, and an indexed column
    # forbids PostgreSQL's in-page (HOT) update; fillfactor 70 leaves room for those (0007).
    __table_args__ = ({"postgresql_with": {"fillfactor": 70}},)

    elder_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_activity_at: Mapped[dt.datetime | None]
    last_water_use_at: Mapped[dt.datetime | None]
    water_running_since: Mapped[dt.datetime | None]
    last_meter_litres: Mapped[float | None] = mapped_column(Float)
    last_meter_at: Mapped[dt.datetime | None]
    in_bed: Mapped[bool | None] = mapped_column(Boolean)
    bed_changed_at: Mapped[dt.datetime | None]
    outside_since: Mapped[dt.datetime | None]
    outside_points: Mapped[int] = mapped_column(Integer, default=0)
    not_worn_since: Mapped[dt.datetime | None]
    prewarned_at: Mapped[dt.datetime | None]
    recent: Mapped[dict[str, Any]] = mapped_column(default=dict)  # metric → last N values
    baseline: Mapped[list[Any] | None] = mapped_column(default=None)  # cumulative motion by hour
    baseline_days: Mapped[int] = mapped_column(Integer, default=0)
    activity_sensed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # the home's learned silences, door and away state (alarms/rules/silence.py, ADR 0014)
    learned: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)


class RuleSettings(Audited, Base):
    """Rule parameters: a region's row sets defaults for every elder below it, an elder's row
    overrides them. Only the keys given are stored; the rest come from the code defaults."""

    __tablename__ = "rule_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_path: Mapped[str | None] = mapped_column(String(255), unique=True)
    elder_id: Mapped[int | None] = mapped_column(ForeignKey("elder.id"), unique=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)
    note: Mapped[str | None] = mapped_column(Text)
