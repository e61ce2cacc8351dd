"""What became of a message, for the people who rely on it: sent, still being sent, failed, or
skipped because the deployment has no such channel (no SMS gateway configured). Pages must
never say someone was notified — let alone that they are on their way — when nothing was sent;
they read it here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.core.i18n import N_
from yiyang.notifications.models import Notification

SENT = "sent"
IN_FLIGHT = frozenset({"pending", "sending"})
NOT_DELIVERED = frozenset({"failed", "skipped"})

LABELS: dict[str, str] = {
    "pending": N_("sending…"),
    "sending": N_("sending…"),
    "sent": N_("message sent"),
    "failed": N_("sending failed"),
    "skipped": N_("not sent: no gateway configured"),
}


def label(status: str | None) -> str:
    """The message id describing ``status`` (translate it where it is shown)."""
    return LABELS.get(status or "", N_("no message queued"))


def delivered(status: str | None) -> bool:
    return status == SENT


def may_arrive(status: str | None) -> bool:
    """Whoever the message went to may be on the way: it was sent, or is still being sent."""
    return status == SENT or status in IN_FLIGHT


def failed(status: str | None) -> bool:
    """Nothing reached them (and nothing will without someone calling)."""
    return status in NOT_DELIVERED


def for_alert(session: Session, alert_id: int) -> Sequence[Notification]:
    """Every message an alert caused (notices to family and responders, dispatches, 120), oldest
    first."""
    return session.scalars(
        select(Notification)
        .where(Notification.alert_id == alert_id)
        .order_by(Notification.created_at, Notification.id)
    ).all()


def by_key(session: Session, keys: Iterable[str]) -> dict[str, Notification]:
    wanted = list(keys)
    if not wanted:
        return {}
    rows = session.scalars(select(Notification).where(Notification.dedupe_key.in_(wanted)))
    return {n.dedupe_key: n for n in rows}
