"""The services' timers, run every minute by the timer loop (``runtime.py``, ``services_tick``):
escalate unaccepted assignments, flag missing check-outs and, hourly, keep recurring orders a
fortnight ahead."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.core.errors import Conflict, NotFound, ValidationFailed
from yiyang.services import proof
from yiyang.services.enums import Flag, OrderState
from yiyang.services.models import OrderSeries, ServiceOrder
from yiyang.services.notices import notify_provider
from yiyang.services.orders import PROOF, trail
from yiyang.services.series import materialize


def escalate_unaccepted(session: Session, at: dt.datetime) -> int:
    """Assignments nobody accepted in time go to the provider admin (SMS/e-mail through the
    outbox, and the board's red column)."""
    due = session.scalars(
        select(ServiceOrder)
        .where(
            ServiceOrder.state == OrderState.ASSIGNED.value,
            ServiceOrder.escalated_at.is_(None),
            ServiceOrder.accept_due_at <= at,
        )
        .order_by(ServiceOrder.accept_due_at)
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    for order in due:
        order.escalated_at = at
        session.flush()
        trail(session, None, order, "escalate", order.state, "unaccepted")
        notify_provider(session, order, "unaccepted")
    return len(due)


def flag_missing_checkouts(session: Session, at: dt.datetime) -> int:
    rows = session.scalars(
        select(ServiceOrder)
        .where(
            ServiceOrder.state == OrderState.IN_SERVICE.value,
            ServiceOrder.checkin_at <= at - PROOF.missing_checkout_after,
        )
        .limit(1000)
    ).all()
    n = 0
    for order in rows:
        if Flag.MISSING_CHECKOUT.value in order.flags or order.checkin_at is None:
            continue
        if proof.checkout_overdue(order.checkin_at, order.booked_minutes, at, PROOF):
            order.flags = sorted({*order.flags, Flag.MISSING_CHECKOUT.value})
            n += 1
    session.flush()
    return n


def tick(session: Session, at: dt.datetime, *, series: bool = False) -> dict[str, int]:
    """The services' timers: escalate unaccepted assignments, flag missing check-outs and (when
    ``series``, hourly) keep recurring orders a fortnight ahead, each as the person who set
    the series up (their scope still applies; a deactivated user's series pauses)."""
    from yiyang.accounts.models import User
    from yiyang.accounts.service import actor_for

    out = {
        "escalated": escalate_unaccepted(session, at),
        "missing_checkouts": flag_missing_checkouts(session, at),
        "series_orders": 0,
    }
    if series:
        for s in session.scalars(select(OrderSeries).where(OrderSeries.active)).all():
            user = session.get(User, s.placed_by) if s.placed_by else None
            if user is None or not user.active:
                continue
            try:
                with session.begin_nested():
                    out["series_orders"] += materialize(session, actor_for(user), s, at)
            except (ValidationFailed, NotFound, Conflict):  # the elder moved, the item retired…
                continue
    return out
