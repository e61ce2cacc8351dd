"""The console's queue: open alerts in the operator's area, most urgent first, with the
elder's name and address — as a scoped query for a page, and by id for pushed updates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from yiyang.accounts.models import User
from yiyang.alarms import describe
from yiyang.alarms.enums import AlertState, Severity
from yiyang.alarms.models import Alert
from yiyang.alarms.repository import alert_scope
from yiyang.console.models import Dispatch, Responder
from yiyang.core.roles import Perm, Role, has_perm
from yiyang.core.scoping import Actor, within_path
from yiyang.notifications import delivery
from yiyang.registry.models import Elder

RANK = case(
    {Severity.CRITICAL.value: 0, Severity.WARNING.value: 1},
    value=Alert.severity,
    else_=2,
)
OPEN_STATES = [s.value for s in AlertState if s is not AlertState.RESOLVED]


@dataclass(frozen=True)
class QueueFilters:
    region: str = ""  # a region path inside the actor's scope
    alert_type: str = ""
    state: str = ""  # one open state, or "" for all open ones

    def matches(self, row: QueueRow) -> bool:
        if row.state == AlertState.RESOLVED:
            return False
        if self.region and not row.region_path.startswith(self.region):
            return False
        if self.alert_type and row.alert_type != self.alert_type:
            return False
        return not self.state or row.state == self.state


@dataclass(frozen=True)
class QueueRow:
    id: int
    elder_id: int
    elder_name: str
    address: str
    region_path: str
    alert_type: str
    severity: str
    state: str
    detail: dict
    count: int
    created_at: dt.datetime
    first_at: dt.datetime
    next_escalation_at: dt.datetime | None
    escalation_step: int
    claimed_by: int | None
    claimed_by_name: str | None
    version: int
    # dispatched, but every message sent reached nobody (failed, or skipped with no gateway)
    # and nobody has arrived: the queue must not read as if help were on the way
    unreached: bool = False


COLUMNS = (
    Alert.id,
    Alert.elder_id,
    Elder.name.label("elder_name"),
    Elder.address,
    Alert.region_path,
    Alert.alert_type,
    Alert.severity,
    Alert.state,
    Alert.detail,
    Alert.count,
    Alert.created_at,
    Alert.first_at,
    Alert.next_escalation_at,
    Alert.escalation_step,
    Alert.claimed_by,
    Alert.claimed_by_name,
    Alert.version,
    Elder.consent_health_monitoring.label("monitored"),
)


def _row(r: Any) -> QueueRow:
    """A queue row; its ``detail`` as the ``elder.monitored`` rule allows now: an alert raised
    before the elder withdrew the monitoring consent no longer shows its readings."""
    values = r._asdict()
    monitored = bool(values.pop("monitored"))
    values["detail"] = describe.shown_detail(values["detail"] or {}, monitored)
    return QueueRow(**values)


def queue(session: Session, actor: Actor, f: QueueFilters, limit: int = 1000) -> list[QueueRow]:
    query = (
        select(*COLUMNS)
        .join(Elder, Elder.id == Alert.elder_id)
        .where(alert_scope(actor), Alert.state.in_(OPEN_STATES))
    )
    if f.region:
        query = query.where(within_path(Alert.region_path, f.region))
    if f.alert_type:
        query = query.where(Alert.alert_type == f.alert_type)
    if f.state:
        query = query.where(Alert.state == f.state)
    query = query.order_by(RANK, Alert.created_at, Alert.id).limit(limit)
    return _with_reach(session, [_row(r) for r in session.execute(query)])


def rows_by_id(session: Session, ids: Sequence[int]) -> list[QueueRow]:
    """Rows for pushed updates, unscoped: the hub filters them per console."""
    query = select(*COLUMNS).join(Elder, Elder.id == Alert.elder_id).where(Alert.id.in_(ids))
    return _with_reach(session, [_row(r) for r in session.execute(query)])


def _with_reach(session: Session, rows: list[QueueRow]) -> list[QueueRow]:
    """Mark the dispatched rows whose dispatches all reached nobody (``unreached``)."""
    sent = [r.id for r in rows if r.state == AlertState.DISPATCHED]
    if not sent:
        return rows
    dispatches = session.scalars(select(Dispatch).where(Dispatch.alert_id.in_(sent))).all()
    messages = delivery.by_key(session, (dispatch_key(d.id) for d in dispatches))
    reached = {
        d.alert_id
        for d in dispatches
        if d.arrived_at is not None
        or may_be_on_the_way(d, getattr(messages.get(dispatch_key(d.id)), "status", None))
    }
    return [replace(r, unreached=True) if r.id in sent and r.id not in reached else r for r in rows]


def sla_alarms(
    session: Session, actor: Actor, start: dt.datetime, end: dt.datetime, region: str = ""
) -> list[Any]:
    """The alarms of a period for the service-level report, in the actor's area."""
    from yiyang.accounts.models import User
    from yiyang.console.sla import AlarmTimes
    from yiyang.devices.models import Device

    query = (
        select(
            Alert.id,
            Alert.created_at,
            Alert.claimed_at,
            Alert.acknowledged_at,
            Alert.resolved_at,
            Alert.outcome,
            Alert.severity,
            Alert.state,
            Device.device_type,
            User.display_name,
        )
        .outerjoin(Device, Device.id == Alert.device_id)
        .outerjoin(User, User.id == Alert.acknowledged_by)
        .where(alert_scope(actor), Alert.created_at >= start, Alert.created_at < end)
    )
    if region:
        query = query.where(within_path(Alert.region_path, region))
    out = []
    for r in session.execute(query):
        answered = min((t for t in (r.claimed_at, r.acknowledged_at) if t), default=None)
        out.append(
            AlarmTimes(
                alert_id=r.id,
                created_at=r.created_at,
                answered_at=answered,
                resolved_at=r.resolved_at,
                answered_by=r.display_name,
                outcome=r.outcome,
                device_type=r.device_type,
                severity=r.severity,
                system_closed=r.state == AlertState.RESOLVED and answered is None,
            )
        )
    return out


def can_handle(user: User) -> bool:
    """The user's role handles alerts (an operator, or staff who stand in)."""
    return has_perm(Role(user.role), Perm.HANDLE_ALERTS)


def colleagues(session: Session, alert: Alert) -> list[User]:
    """Who an alert can be handed to: active users who handle alerts in its area."""
    users = session.scalars(select(User).where(User.active).order_by(User.display_name))
    return [u for u in users if can_handle(u) and alert.region_path.startswith(u.region_path)]


def responders_for(session: Session, alert: Alert) -> list[Responder]:
    """Responders who can reach the elder: the elder's community first, then the street."""
    street = alert.region_path[:27]
    rows = session.scalars(
        select(Responder)
        .where(Responder.active, within_path(Responder.region_path, street))
        .order_by(Responder.kind, Responder.name)
    ).all()
    return sorted(rows, key=lambda r: (r.region_path != alert.region_path, r.kind, r.name))


def dispatch_key(dispatch_id: int) -> str:
    """The outbox key of the message that carried a dispatch's link."""
    return f"dispatch:{dispatch_id}"


def may_be_on_the_way(d: Dispatch, message_status: str | None) -> bool:
    """Someone sent who may be on the way: not arrived, and their message was sent or is still
    being sent (one that failed or was skipped reached nobody)."""
    return d.arrived_at is None and d.status == "sent" and delivery.may_arrive(message_status)


def on_the_way(session: Session, alert: Alert) -> list[Dispatch]:
    """Everyone sent to ``alert`` who may be on the way (``may_be_on_the_way``)."""
    waiting = session.scalars(
        select(Dispatch)
        .where(Dispatch.alert_id == alert.id, Dispatch.arrived_at.is_(None))
        .order_by(Dispatch.sent_at)
    ).all()
    messages = delivery.by_key(session, (dispatch_key(d.id) for d in waiting))
    return [
        d
        for d in waiting
        if may_be_on_the_way(d, getattr(messages.get(dispatch_key(d.id)), "status", None))
    ]
