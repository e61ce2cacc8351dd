"""The audit trail's table. It lives in core because ``core.audit`` writes it (a session hook
records every ORM write); the audit domain reads it (``yiyang.audit.models`` re-exports it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yiyang.core.clock import now
from yiyang.core.db import Base


class AuditEvent(Base):
    """Who did what, when, from where, with the before and after. Append-only: the migration
    installs triggers that refuse UPDATE and DELETE on both PostgreSQL and SQLite."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_at", "at"),
        Index("ix_audit_event_elder_at", "elder_id", "at"),
        Index("ix_audit_event_actor_at", "actor_username", "at"),  # the "by user" filter
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=now)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_username: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(32))
    entity_type: Mapped[str] = mapped_column(String(48))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    elder_id: Mapped[int | None] = mapped_column(Integer)
    region_path: Mapped[str | None] = mapped_column(String(255))
    summary: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
