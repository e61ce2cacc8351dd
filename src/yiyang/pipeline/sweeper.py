"""Time-driven work: silence rules and device health (as ticks through the bus, so each
elder's state keeps one writer), nightly baselines, escalation timers and retention."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from yiyang.alarms import rules
from yiyang.alarms.models import ElderState
from yiyang.core.clock import local_zone
from yiyang.devices.enums import DeviceStatus
from yiyang.devices.models import ActivityHourly, Device
from yiyang.pipeline.bus import BusMessage
from yiyang.pipeline.messages import Baseline, Offline, Tick

log = logging.getLogger(__name__)
BASELINE_DAYS = 28


def tick_messages(session: Session, now: dt.datetime, *, routine: bool) -> list[BusMessage]:
    """Ticks for elders whose silence could matter now, and notices for silent devices."""
    quiet = now - dt.timedelta(hours=1)
    conds: list[Any] = [
        ElderState.last_activity_at < quiet,
        ElderState.last_water_use_at < now - dt.timedelta(hours=12),
        ElderState.in_bed.is_(False),
        ElderState.not_worn_since.is_not(None),
    ]
    if routine:
        conds.append(ElderState.baseline.is_not(None))
    out: list[BusMessage] = []
    stamp = now.timestamp()
    for (elder_id,) in session.execute(select(ElderState.elder_id).where(or_(*conds))):
        out.append(BusMessage.of(Tick(elder_id, stamp, routine)))
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
    tz = local_zone()
    start_local = dt.datetime.combine(
        today - dt.timedelta(days=BASELINE_DAYS), dt.time(), tzinfo=tz
    )
    end_local = dt.datetime.combine(today, dt.time(), tzinfo=tz)
    query = select(ActivityHourly.elder_id, ActivityHourly.hour, ActivityHourly.motion).where(
        ActivityHourly.hour >= start_local.astimezone(dt.UTC),
        ActivityHourly.hour < end_local.astimezone(dt.UTC),
    )
    if elder_ids is not None:
        query = query.where(ActivityHourly.elder_id.in_(elder_ids))
    days: dict[int, dict[dt.date, list[int]]] = {}
    for elder_id, hour, motion in session.execute(query.order_by(ActivityHourly.elder_id)):
        local = hour.astimezone(tz)
        days.setdefault(elder_id, {}).setdefault(local.date(), [0] * 24)[local.hour] += motion
    out = []
    for elder_id, by_day in days.items():
        base = rules.learn_baseline(list(by_day.values()))
        out.append(BusMessage.of(Baseline(elder_id, base, len(by_day))))
    return out
