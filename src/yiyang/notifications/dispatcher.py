"""Sends the outbox. A row is leased (status ``sending``, lease as the next attempt time) in a
short transaction, sent outside any transaction, then marked sent — or failed with exponential
backoff, and given up after ``notify_max_attempts`` (status ``failed``, visible to admins). A
process that dies mid-send leaves a lease that expires, and the row is sent again: delivery is
at least once, and every channel carries the notification id for the receiver to deduplicate.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update

from yiyang.core import db
from yiyang.core.clock import now as clock_now
from yiyang.core.config import get_settings
from yiyang.notifications.channels import SENDERS, DeliveryError, NotConfigured
from yiyang.notifications.models import Notification

log = logging.getLogger(__name__)
LEASE = dt.timedelta(seconds=60)


def backoff(attempts: int) -> dt.timedelta:
    """15 s, 30 s, 1 min, 2 min … capped at one hour."""
    return dt.timedelta(seconds=min(3600, 15 * 2 ** max(0, attempts - 1)))


def _lease(limit: int) -> list[Notification]:
    now = clock_now()
    with db.unit_of_work() as session:
        query = (
            select(Notification)
            .where(
                Notification.status.in_(("pending", "sending")), Notification.next_attempt_at <= now
            )
            .order_by(Notification.next_attempt_at)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = session.scalars(query).all()
        for n in rows:
            n.status, n.next_attempt_at = "sending", now + LEASE
        session.flush()
        session.expunge_all()
        return list(rows)


def _finish(n: Notification, status: str, error: str | None) -> None:
    now = clock_now()
    values: dict[str, object] = {"status": status, "last_error": error, "attempts": n.attempts + 1}
    if status == "sent":
        values.update(sent_at=now, next_attempt_at=None)
    elif status == "pending":
        values["next_attempt_at"] = now + backoff(n.attempts + 1)
    else:
        values["next_attempt_at"] = None
    with db.unit_of_work() as session:
        session.execute(update(Notification).where(Notification.id == n.id).values(**values))


def run_once(limit: int = 50) -> dict[str, int]:
    """Send what is due; returns counts by result."""
    settings = get_settings()
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    for n in _lease(limit):
        try:
            SENDERS[n.channel](n, settings)
        except NotConfigured as exc:
            _finish(n, "skipped", str(exc))
            counts["skipped"] += 1
        except (DeliveryError, KeyError) as exc:
            give_up = n.attempts + 1 >= settings.notify_max_attempts
            _finish(n, "failed" if give_up else "pending", str(exc)[:500])
            counts["failed" if give_up else "retry"] += 1
            log.warning("notification %s via %s failed: %s", n.id, n.channel, exc)
        else:
            _finish(n, "sent", None)
            counts["sent"] += 1
    return counts
