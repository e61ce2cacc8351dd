"""The notification outbox: written in the same transaction as the alert that causes it, sent
afterwards by the dispatcher with retries, so a channel being down loses nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from yiyang.core.clock import now
from yiyang.core.db import Base, BigId


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        Index(
            "ix_notification_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
            sqlite_where=text("status IN ('pending', 'sending')"),
        ),
        Index("ix_notification_alert", "alert_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # One message per (alert, step, channel, recipient): re-running a step enqueues nothing new.
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    alert_id: Mapped[int | None] = mapped_column(Integer)
    elder_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8))  # email | sms | webhook
    recipient: Mapped[str] = mapped_column(String(255))
    recipient_label: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=now)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None]
