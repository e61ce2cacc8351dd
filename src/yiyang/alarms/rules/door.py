"""Door: a sign of life; opened at night by an elder with dementia, a warning (once a night)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules.activity import mark_activity
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Event, Facts, Finding, State
from yiyang.alarms.rules.times import in_window, night_of


def on_door(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    state.activity_sensed = True
    mark_activity(state, ev.at)
    local = ev.at.astimezone(tz)
    if facts.dementia and ev.data.get("open") and in_window(local, p.night_start, p.night_end):
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
