"""Routine deviation: the elder's activity over the last hours clearly below their usual rate for
those hours of the day (issue #16 item 4, docs/adr/0014 §4). Unusual, not alarming: a check-in.

Rates by time of day, not counts since midnight:

- **The usual rate per hour of day** comes from the baseline the sweeper learns each night
  (``learn_baseline``: the median cumulative motion count by the end of each local hour over the
  last 28 days); the usual count in a span of hours is the difference of its ends.
- **Today's count over the last** ``WINDOW_HOURS`` **hours** is a difference too: the sweeper
  passes the count since midnight (``motion_today``) on the first tick of each hour, and the rule
  remembers it hour by hour in ``State.recent["routine"]`` (only when it changed, so a quiet
  hour writes nothing). An hour whose count was not remembered (a missed tick, the first day)
  reads as the last one before it, which can only make today's count larger: never a call the
  figures do not support.
- **An hour's slack**: the usual is the smallest of the span itself and the same span an hour
  earlier or later (a routine an hour late or early is still the routine).
- **Low-count guard**: only a span whose usual count is at least ``routine_min_expected`` can
  fire, so the hours a home is usually quiet — a night, a quiet evening, the hours a shift
  worker sleeps or an elder is usually out — never do.
- **Only inside the elder's day**: a full window after the usual getting-up time (learned median,
  else ``morning_start``; never before ``night_end``), up to the usual bedtime (the earliest
  quarter of learned bedtimes, else ``night_start``; midnight at the latest): never in the small
  hours. Not when the elder is out, or was out during the span.
- **A slow span, not a silence**: once the learned silence is warm, an elder with no sign of
  life for an hour is silent, and that is the learned silence's to judge (it knows this home's
  quiet hours and the absences its door does not show); the routine asks about a span that is
  slow while the elder is still about — unwell, up once an hour — which a silence never shows.
"""

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

WINDOW_HOURS = 3  # the span compared: the last three hours
MEMORY = "routine"  # State.recent key: [local day ordinal, cumulative count at each hour or None]
SHIFTS = (-1, 0, 1)  # an hour late or early is still the routine


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


def usual_span(base: list[float], start: int, end: int) -> float:
    """The usual motion count between local hours ``start`` and ``end`` (``end`` ≤ 24), the
    smallest of the span and the span shifted an hour either way."""

    def by(hour: int) -> float:  # usual count by hour:00
        hour = min(max(hour, 0), 24)
        return base[hour - 1] if hour > 0 else 0.0

    return min(by(end + s) - by(start + s) for s in SHIFTS)


def remember(state: State, local: dt.datetime, motion_today: int) -> list[int | None]:
    """Today's cumulative motion count by each hour (None: not remembered), with this hour's
    count (``motion_today``: since midnight, up to ``local``'s hour) added when it changed.
    Replaces the list in ``state.recent`` (never edits it: the worker compares snapshots)."""
    today = local.date().toordinal()
    row = state.recent.get(MEMORY)
    hours: list[int | None] = list(row[1:]) if row and row[0] == today else [None] * 24
    if _count_by(hours, local.hour) != motion_today:
        hours[local.hour] = motion_today
        state.recent[MEMORY] = [today, *hours]
    return hours


def _count_by(hours: list[int | None], hour: int) -> int:
    """Today's count by ``hour``:00 as remembered: the last one remembered at or before it (0
    before any) — never more than the true count, which only grows."""
    return next((c for c in reversed(hours[: hour + 1]) if c is not None), 0)


def day_span(state: State, local: dt.datetime, p: Params) -> tuple[int, int]:
    """The elder's day in minutes after midnight: (usual getting-up time, usual bedtime).
    Learned once the silence model is warm (the median getting-up time, the earliest quarter of
    bedtimes; a bedtime after midnight is midnight), else ``morning_start`` and ``night_start``;
    never before ``night_end``."""
    start, end = hhmm(p.morning_start), hhmm(p.night_start)
    up, bed = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    tz, learned = local.tzinfo, state.learned or {}
    if isinstance(tz, ZoneInfo) and silence.warm(learned, local, tz, p):
        beds, wakes = silence.rest_times(learned, tz)
        wake, usual_bed = silence.usual(wakes, 0.5), silence.usual(beds, 0.25)
        if wake is not None:
            up = (wake + silence.NOON) % 1440
        if usual_bed is not None:
            bed = usual_bed + silence.NOON if usual_bed < silence.NOON else 1440
    night_end = hhmm(p.night_end)
    return max(up, night_end.hour * 60 + night_end.minute), bed


def routine_deviation(
    state: State, local: dt.datetime, p: Params, motion_today: int | None
) -> Finding | None:
    """The last ``WINDOW_HOURS`` hours clearly below the elder's usual for those hours of the
    day. ``motion_today``: motion since local midnight up to ``local``'s hour (the first tick of
    each hour; None on the others)."""
    if motion_today is None:
        return None
    hours = remember(state, local, motion_today)
    base = state.baseline
    if not base or state.baseline_days < p.routine_min_days:
        return None
    up, bed = day_span(state, local, p)
    end = local.hour
    start = end - WINDOW_HOURS
    if start * 60 < up or end * 60 > bed:
        return None  # before a full window of the elder's day, or past their bedtime
    learned = state.learned or {}
    if silence.away(learned) or silence.out_today(learned, local, start * 60):
        return None  # out now, or out during the span: fewer events at home is no surprise
    expected = usual_span(base, start, end)
    actual = motion_today - _count_by(hours, start)
    if expected < p.routine_min_expected or actual >= expected * p.routine_ratio:
        return None
    if _left_to_silence(state, local, p):
        return None
    since, by = f"{start:02d}:00", f"{end:02d}:00"
    return Finding(
        AlertType.ROUTINE,
        Severity.INFO,
        f"check_in:routine:{local.date().isoformat()}",
        local.astimezone(dt.UTC),
        {"expected": round(expected), "actual": actual, "since": since, "by": by},
        repeat_counts=False,
        episodic=True,
        response=Response.CHECK_IN,
        reason=_(
            "usually %(expected)s motion events between %(since)s and %(by)s, today %(actual)s",
            expected=round(expected),
            since=since,
            by=by,
            actual=actual,
        ),
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


def _left_to_silence(state: State, local: dt.datetime, p: Params) -> bool:
    """Once learned, an elder with no sign of life for an hour is silent, and the learned
    silence judges that (it knows this home's quiet hours, and the absences its door does not
    show); the routine asks about a slow span while the elder is still about."""
    tz, last = local.tzinfo, state.last_activity_at
    if not isinstance(tz, ZoneInfo) or not silence.warm(state.learned or {}, local, tz, p):
        return False
    return last is None or local - last >= dt.timedelta(hours=1)
