"""Morning silence (the fixed rule, until the home's silence is learned): no sign of life since
the morning window opened, ``morning_quiet_minutes`` into it (once a day). Once learned, the
elder's own getting-up time takes its place inside ``silence.learned_silence`` ("usually up by
08:40; …"), whose threshold is this home's longest silence at that hour: a late riser is not
raised at 08:00. Never while the elder is out."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules import silence
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Finding, State
from yiyang.alarms.rules.times import hhmm, in_window


def morning_silence(
    state: State,
    now: dt.datetime,
    local: dt.datetime,
    p: Params,
    tz: ZoneInfo,
    motion_today: int | None,
) -> Finding | None:
    last = state.last_activity_at if state.activity_sensed else None
    if not p.morning_quiet_minutes or last is None:
        return None
    learned = state.learned or {}
    if silence.away(learned) or silence.warm(learned, now, tz, p):
        return None
    if not in_window(local, p.morning_start, p.morning_end):
        return None
    start = dt.datetime.combine(local.date(), hhmm(p.morning_start), tzinfo=tz)
    if last >= start or local - start < dt.timedelta(minutes=p.morning_quiet_minutes):
        return None
    return Finding(
        AlertType.MORNING_SILENCE,
        Severity.WARNING,
        f"morning:{local.date().isoformat()}",
        now,
        {"since": p.morning_start, "local_time": local.strftime("%H:%M")},
        repeat_counts=False,
        episodic=True,
    )
