"""Time-driven work: silence rules and device health (as ticks through the bus, so each
elder's state keeps one writer), nightly baselines, escalation timers and retention."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from yiyang.alarms import engine
from yiyang.alarms.models import ElderState
from yiyang.core.clock import local_zone
from yiyang.devices.enums import DeviceStatus
from yiyang.devices.models import ActivityHourly, Device
from yiyang.pipeline.bus import BusMessage
from yiyang.pipeline.messages import Baseline, Offline, Tick

log = logging.getLogger(__name__)
BASELINE_DAYS = engine.BASELINE_DAYS


def tick_messages(session: Session, now: dt.datetime, *, routine: bool) -> list[BusMessage]:
    """Ticks for elders whose silence could matter now (``engine.needs_tick``; the query only
    narrows to the candidates), and notices for silent devices."""
    conds: list[Any] = [
        ElderState.last_activity_at < now - engine.TICK_QUIET,
        ElderState.last_water_use_at < now - engine.TICK_WATER_QUIET,
        ElderState.in_bed.is_(False),
        ElderState.not_worn_since.is_not(None),
    ]
    if routine:
        conds.append(ElderState.baseline.is_not(None))
    out: list[BusMessage] = []
    stamp = now.timestamp()
    rows = session.execute(
        select(
            ElderState.elder_id,
            ElderState.last_activity_at,
            ElderState.last_water_use_at,
            ElderState.in_bed,
            ElderState.not_worn_since,
            ElderState.baseline,
        ).where(or_(*conds))
    )
    for row in rows:
        if engine.needs_tick(row, now, routine=routine):
            out.append(BusMessage.of(Tick(row.elder_id, stamp, routine)))
    # Devices past twice their reporting interval (the exact test is the rule's)
    rows = session.execute(
        select(
            Device.id,
            Device.elder_id,
            Device.device_type,
            Device.last_seen_at,
            Device.report_interval_s,
        ).where(
            Device.status == DeviceStatus.ACTIVE,
            Device.elder_id.is_not(None),
            Device.last_seen_at < now - dt.timedelta(minutes=2),
        )
    )
    for r in rows:
        if r.last_seen_at is None or now - r.last_seen_at <= dt.timedelta(
            seconds=r.report_interval_s
        ):
            continue
        out.append(
            BusMessage.of(
                Offline(
                    r.elder_id,
                    r.id,
                    str(r.device_type),
                    r.last_seen_at.timestamp(),
                    r.report_interval_s,
                    stamp,
                )
            )
        )
    return out


def baseline_messages(
    session: Session, today: dt.date, elder_ids: list[int] | None = None
) -> list[BusMessage]:
    """Learn each elder's usual hourly activity from the last four weeks (local days)."""
    start, end = engine.baseline_window(today, local_zone())
    query = select(ActivityHourly.elder_id, ActivityHourly.hour, ActivityHourly.motion).where(
        ActivityHourly.hour >= start, ActivityHourly.hour < end
    )
    if elder_ids is not None:
        query = query.where(ActivityHourly.elder_id.in_(elder_ids))
    rows = session.execute(query.order_by(ActivityHourly.elder_id))
    return [
        BusMessage.of(Baseline(elder_id, base, days))
        for elder_id, (base, days) in engine.learn_baselines(rows, local_zone()).items()
    ]
