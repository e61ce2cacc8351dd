"""Overall inactivity (the fixed rule, until the home's silence is learned: ``silence.py``): no
sign of life for ``inactivity_hours``, when the silence *began* in waking hours or is due in
them (a collapse at 11:00 is raised at 23:00, not at 07:00 next day), optionally after asking
the elder first (``prewarn_minutes``). Only homes with a motion, door or contact sensor, and
never while the elder is out (``away``)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules import silence
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Finding, State
from yiyang.alarms.rules.times import in_window


def inactivity(
    state: State,
    now: dt.datetime,
    local: dt.datetime,
    p: Params,
    tz: ZoneInfo,
    motion_today: int | None,
) -> Finding | None:
    last = state.last_activity_at if state.activity_sensed else None
    if last is None or now - last < dt.timedelta(hours=p.inactivity_hours):
        return None
    learned = state.learned or {}
    if silence.away(learned) or silence.warm(learned, now, tz, p):
        return None  # out, or the learned model decides
    began = last.astimezone(tz)
    if not (
        in_window(local, p.waking_start, p.waking_end)
        or in_window(began, p.waking_start, p.waking_end)
    ):
        return None
    hours = round((now - last).total_seconds() / 3600, 1)
    key = f"inactivity:{last.isoformat()}"
    if p.prewarn_minutes and state.prewarned_at is None:
        state.prewarned_at = now
        return Finding(
            AlertType.INACTIVITY,
            Severity.INFO,
            key,
            now,
            {"hours": hours},
            prompt_elder=True,
        )
    if not p.prewarn_minutes or now - state.prewarned_at >= dt.timedelta(  # type: ignore[operator]
        minutes=p.prewarn_minutes
    ):
        return Finding(
            AlertType.INACTIVITY,
            Severity.WARNING,
            key,
            now,
            {"hours": hours, "last_activity": last.isoformat()},
            repeat_counts=False,
            episodic=True,
        )
    return None
