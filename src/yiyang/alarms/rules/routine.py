"""Routine deviation: today clearly below the elder's usual activity by this hour (a baseline of
the median cumulative motion count per hour, learnt by the sweeper). What is compared is the
activity of the elder's day so far — the usual count between getting up (learned, else
``morning_start``) and this hour — not a count since midnight; it is never looked at before the
day has run a while (``morning_end``, or two hours after the usual getting-up time), so a quiet
night never raises it, nor while the elder is out. Unusual, not alarming: a check-in."""

from __future__ import annotations

import datetime as dt
import statistics
from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules import silence
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Finding, Response, State
from yiyang.alarms.rules.times import hhmm
from yiyang.core.i18n import gettext as _


def learn_baseline(days: list[list[int]]) -> list[float]:
    """Hourly motion counts of past days (24 per day) → the median cumulative count by the end
    of each hour: ``result[h]`` is how many events the elder usually has by (h+1):00."""
    if not days:
        return []
    cumulative = []
    for day in days:
        run, total = [], 0
        for count in day[:24]:
            total += count
            run.append(total)
        cumulative.append(run + [total] * (24 - len(run)))
    return [float(statistics.median(c[h] for c in cumulative)) for h in range(24)]


def routine_deviation(
    state: State, local: dt.datetime, p: Params, motion_today: int | None
) -> Finding | None:
    """Today clearly below the elder's usual activity by this hour."""
    base = state.baseline
    if motion_today is None or not base or state.baseline_days < p.routine_min_days:
        return None
    up = _day_start(state, local, p)
    if local.hour == 0 or local.hour * 60 < up + 120 or local.time() < hhmm(p.morning_end):
        return None  # the small hours, or the day has hardly begun
    learned = state.learned or {}
    if silence.away(learned) or silence.out_today(learned, local, up):
        return None  # out now, or out for part of today: fewer events at home is no surprise
    if _left_to_silence(state, local, p):
        return None
    before = base[up // 60 - 1] if up >= 60 else 0.0
    expected = base[local.hour - 1] - before  # usual count from getting up to this hour
    if expected < p.routine_min_expected or motion_today >= expected * p.routine_ratio:
        return None
    return Finding(
        AlertType.ROUTINE,
        Severity.INFO,
        f"check_in:routine:{local.date().isoformat()}",
        local.astimezone(dt.UTC),
        {"expected": round(expected), "actual": motion_today, "by": f"{local.hour:02d}:00"},
        repeat_counts=False,
        episodic=True,
        response=Response.CHECK_IN,
        reason=_(
            "usually %(expected)s motion events between getting up and %(by)s, today %(actual)s",
            expected=round(expected),
            by=f"{local.hour:02d}:00",
            actual=motion_today,
        ),
    )


def _day_start(state: State, local: dt.datetime, p: Params) -> int:
    """When the elder's day usually starts, minutes after midnight: the learned getting-up
    time (median) once warm, else ``morning_start``."""
    tz = local.tzinfo
    learned = state.learned or {}
    if isinstance(tz, ZoneInfo) and silence.warm(learned, local, tz, p):
        wake = silence.usual(silence.rest_times(learned, tz)[1], 0.5)
        if wake is not None:
            minutes = (wake + silence.NOON) % 1440
            if minutes < 14 * 60:  # a morning; a shift worker's afternoon start is not
                return minutes
    start = hhmm(p.morning_start)
    return start.hour * 60 + start.minute


def routine(
    state: State,
    now: dt.datetime,
    local: dt.datetime,
    p: Params,
    tz: ZoneInfo,
    motion_today: int | None,
) -> Finding | None:
    return routine_deviation(state, local, p, motion_today)


def _left_to_silence(state: State, local: dt.datetime, p: Params) -> bool:
    """Once learned, only a slow day that is also quiet now (an hour) is worth a call, and not
    when the learned silence has asked for one already (the same quiet, one call)."""
    tz, last = local.tzinfo, state.last_activity_at
    if not isinstance(tz, ZoneInfo) or not silence.warm(state.learned or {}, local, tz, p):
        return False
    if last is None or local - last < dt.timedelta(hours=1):
        return True
    q = silence.assess(state, local.astimezone(dt.UTC), tz, p)
    return q is not None and q.silent >= q.check_in
