"""The outbox: one row per message, written in the caller's transaction and sent by the
dispatcher after it commits; deduplicated by ``dedupe_key``. Generic: what a message says and
who receives it is decided by the domain that enqueues it (e.g. ``alarms.notices``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from yiyang.core.clock import now
from yiyang.core.db import upsert
from yiyang.notifications.models import Notification


def enqueue_message(
    session: Session,
    *,
    dedupe_key: str,
    channel: str,
    recipient: str,
    label: str,
    subject: str,
    body: str,
    payload: dict[str, Any],
    alert_id: int | None = None,
    elder_id: int | None = None,
) -> None:
    """One outbox row, sent by the dispatcher after the caller's transaction commits."""
    at = now()
    stmt = upsert(session, Notification)
    session.execute(
        stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]),
        [
            {
                "dedupe_key": dedupe_key[:160],
                "created_at": at,
                "alert_id": alert_id,
                "elder_id": elder_id,
                "channel": channel,
                "recipient": recipient,
                "recipient_label": label[:128],
                "subject": subject[:255],
                "body": body,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": at,
            }
        ],
    )
