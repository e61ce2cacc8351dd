"""Routine deviation: today clearly below the elder's usual activity by this hour (a baseline of
the median cumulative motion count per hour, learnt by the sweeper)."""

from __future__ import annotations

import datetime as dt
import statistics
from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Finding, State


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
    if local.hour == 0:
        return None
    expected = base[local.hour - 1]  # usual count by the start of the current hour
    if expected < p.routine_min_expected or motion_today >= expected * p.routine_ratio:
        return None
    return Finding(
        AlertType.ROUTINE,
        Severity.WARNING,
        f"routine:{local.date().isoformat()}",
        local.astimezone(dt.UTC),
        {"expected": round(expected), "actual": motion_today, "by": f"{local.hour:02d}:00"},
        repeat_counts=False,
        episodic=True,
    )


def routine(
    state: State,
    now: dt.datetime,
    local: dt.datetime,
    p: Params,
    tz: ZoneInfo,
    motion_today: int | None,
) -> Finding | None:
    return routine_deviation(state, local, p, motion_today)
