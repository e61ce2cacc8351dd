"""Water (a remote meter): water running for ``water_running_hours`` (a tap left open), and a live
meter that has not moved for ``water_no_use_hours`` (nobody used water for a day)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Event, Facts, Finding, State


def on_meter(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    total = float(ev.data["total_litres"])
    out: list[Finding] = []
    last, last_at = state.last_meter_litres, state.last_meter_at
    if last is not None and last_at is not None and ev.at > last_at and total >= last:
        used = total - last
        hours = (ev.at - last_at).total_seconds() / 3600
        if used >= 0.5:
            state.last_water_use_at = ev.at
            state.last_activity_at = max(state.last_activity_at or ev.at, ev.at)
        if hours > 0 and used / hours >= p.water_flow_min_lph:
            if state.water_running_since is None:
                state.water_running_since = last_at
            running = ev.at - state.water_running_since
            if running >= dt.timedelta(hours=p.water_running_hours):
                out.append(
                    Finding(
                        AlertType.WATER_RUNNING,
                        Severity.WARNING,
                        f"water_running:{state.water_running_since.isoformat()}",
                        ev.at,
                        {
                            "since": state.water_running_since.isoformat(),
                            "hours": round(running.total_seconds() / 3600, 1),
                            "litres_per_hour": round(used / hours, 1),
                        },
                        ev.device_id,
                        repeat_counts=False,
                        episodic=True,
                    )
                )
        else:
            state.water_running_since = None
    elif last is None or total < last:  # first reading, or the meter was replaced / reset
        state.water_running_since = None
        if state.last_water_use_at is None:
            state.last_water_use_at = ev.at
    if last_at is None or ev.at >= last_at:
        state.last_meter_litres, state.last_meter_at = total, ev.at
    return out


def no_water(
    state: State,
    now: dt.datetime,
    local: dt.datetime,
    p: Params,
    tz: ZoneInfo,
    motion_today: int | None,
) -> Finding | None:
    """A live meter (heard from in the last 3 h) that has not moved for a day."""
    if state.last_meter_at is None or now - state.last_meter_at > dt.timedelta(hours=3):
        return None
    since = state.last_water_use_at
    if since is None or now - since < dt.timedelta(hours=p.water_no_use_hours):
        return None
    return Finding(
        AlertType.NO_WATER,
        Severity.WARNING,
        f"no_water:{since.isoformat()}",
        now,
        {
            "hours": round((now - since).total_seconds() / 3600),
            "since": since.isoformat(),
        },
        repeat_counts=False,
        episodic=True,
    )
