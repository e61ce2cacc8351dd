"""Door: a sign of life, and maybe the elder going out (``silence.on_door``: the next sign of life
inside means back home); opened at night by an elder with dementia, a warning (once a night).
The night is the elder's own once learned: from their usual bedtime to their usual getting-up
time (``night_window``), the fixed ``night_start``–``night_end`` until then."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules import silence
from yiyang.alarms.rules.activity import mark_activity
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Event, Facts, Finding, State
from yiyang.alarms.rules.times import in_window, night_of


def night_window(state: State, now: dt.datetime, p: Params, tz: ZoneInfo) -> tuple[str, str]:
    """The elder's night as (start, end) HH:MM: most nights asleep by the start (the 75th
    percentile of learned bedtimes), most mornings not up before the end (the 25th of getting-up
    times); the fixed night until the model is warm."""
    learned = state.learned or {}
    if silence.warm(learned, now, tz, p):
        beds, wakes = silence.rest_times(learned, tz)
        bed, wake = silence.usual(beds, 0.75), silence.usual(wakes, 0.25)
        if bed is not None and wake is not None and wake - bed >= 240:
            return silence.clock(bed), silence.clock(wake)
    return p.night_start, p.night_end


def on_door(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    state.activity_sensed = True
    if state.last_activity_at is None or ev.at > state.last_activity_at:
        silence.on_door(state, ev.at, tz, opened=bool(ev.data.get("open", True)))
    mark_activity(state, ev.at)
    local = ev.at.astimezone(tz)
    start, end = night_window(state, ev.at, p, tz)
    if facts.dementia and ev.data.get("open") and in_window(local, start, end):
        night = night_of(local, p.night_end)
        return [
            Finding(
                AlertType.NIGHT_DOOR,
                Severity.WARNING,
                f"night_door:{night.isoformat()}",
                ev.at,
                {"local_time": local.strftime("%H:%M")},
                ev.device_id,
            )
        ]
    return []
