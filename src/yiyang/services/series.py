"""Recurring orders: a series (weekdays and a time) and its orders for the next fortnight, each
day's order keyed ``series:<id>:<date>`` so that a re-run adds only what is missing (the timers
top them up hourly, ``services/timers.py``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from yiyang.core.clock import local_zone, now, to_local
from yiyang.core.errors import ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.scoping import Actor
from yiyang.registry.service import access_elder
from yiyang.services.models import OrderSeries
from yiyang.services.orders import orderable_item, place_order
from yiyang.services.schemas import OrderCreate, SeriesCreate

SERIES_HORIZON_DAYS = 14


def create_series(session: Session, actor: Actor, data: SeriesCreate) -> tuple[OrderSeries, int]:
    elder = access_elder(session, actor, data.elder_id)
    orderable_item(session, data.item_id, elder)
    if data.ends_on and data.ends_on < data.starts_on:
        raise ValidationFailed(_("The series ends before it starts."), field="ends_on")
    series = OrderSeries(
        **data.model_dump(), region_path=elder.region_path, placed_by=actor.user_id
    )
    session.add(series)
    session.flush()
    return series, materialize(session, actor, series, now())


def materialize(session: Session, actor: Actor, series: OrderSeries, at: dt.datetime) -> int:
    """Create the series' orders for the next fortnight; each day's order once (its
    idempotency key is the series and the date), so a re-run adds only what is missing."""
    today = to_local(at).date()
    made = 0
    for offset in range(SERIES_HORIZON_DAYS):
        day = today + dt.timedelta(days=offset)
        if day < series.starts_on or (series.ends_on and day > series.ends_on):
            continue
        if day.weekday() not in series.weekdays:
            continue
        start = dt.datetime.combine(day, series.time_of_day, tzinfo=local_zone())
        if start < at:
            continue
        data = OrderCreate(
            elder_id=series.elder_id,
            item_id=series.item_id,
            scheduled_at=start,
            quantity=series.quantity,
        )
        _order, created = place_order(
            session, actor, data, f"series:{series.id}:{day.isoformat()}", series=series
        )
        made += created
    return made
