"""The alarm engine's decisions as pure functions of in-memory data: what the rule worker, the
sweeper and ``yiyang replay`` (``alarms/replay.py``) all call, so a replay runs the production
code, not a copy.

- ``handle_event`` / ``handle_tick`` / ``handle_baseline``: one message against an elder's rule
  state (the rules of ``alarms/rules``), and ``activity_count``: what a message adds to the
  hourly activity the routine baseline is learned from;
- ``needs_tick``: the sweeper's filter, which elders get a silence tick now;
- ``sweep_due``: what a sweep does at this moment (a routine check on the first sweep of a local
  hour, baselines on the first of a local day);
- ``baseline_window`` / ``learn_baselines``: the nightly learner, from hourly motion counts;
- ``motion_window``: the span "today before this hour" the routine rule compares;
- ``response_of``: whether an alert opened is an operator alarm or a check-in task;
- the consent gate (``passive``, ``withhold``, ``forget``): without the elder's
  health-monitoring consent (``Facts.monitoring`` False) no passive rule runs — vitals,
  activity, bed, water, location and the silence rules find nothing, their state is forgotten
  and nothing is counted — while an SOS, fall, smoke or gas alarm (and a tamper or trouble
  report, a battery running low) raises exactly as before. This is the one place it is decided.

The alert planning (dedupe, episodes, storm control) is ``alarms/plan.plan_alerts``.
No I/O here and no clock: the callers pass ``now``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

from yiyang.alarms import rules
from yiyang.alarms.rules.battery import low_battery
from yiyang.devices.enums import PASSIVE_EVENTS, EventKind

# The sweeper's filter: silence that could matter now
TICK_QUIET = dt.timedelta(hours=1)  # no sign of life for this long
TICK_WATER_QUIET = dt.timedelta(hours=12)  # no water used for this long
BASELINE_DAYS = 28  # the routine baseline looks back four weeks (local days)

Response = Literal["alarm", "check_in"]


def passive(kind: EventKind | str) -> bool:
    """Whether a message of this kind is passive monitoring (needs the monitoring consent)."""
    try:
        return EventKind(kind) in PASSIVE_EVENTS
    except ValueError:
        return False


M = TypeVar("M")


def withhold(message: M, facts: rules.Facts) -> M:
    """A bus message as it may be kept: without the elder's monitoring consent a passive
    message loses its readings (``data``) before anything stores or reads it; everything else
    is kept whole. ``message`` is any dataclass with ``event`` and ``data``."""
    if facts.monitoring or not passive(getattr(message, "event", "")):
        return message
    return replace(message, data={})  # type: ignore[type-var]


_FRESH = rules.State()


def forget(state: rules.State) -> None:
    """Monitoring withdrawn: the passive state (last activity, bed, water, position, the
    learned routine and silences) is dropped, so nothing carries over if consent is given
    again later (it starts cold, as for a new home)."""
    for f in fields(rules.State):
        value = getattr(_FRESH, f.name)
        setattr(state, f.name, value.copy() if isinstance(value, dict) else value)


def handle_event(
    state: rules.State, event: rules.Event, params: rules.Params, facts: rules.Facts, tz: ZoneInfo
) -> list[rules.Finding]:
    """One device message against the elder's state: what it raises. Without the monitoring
    consent a passive message raises nothing but its battery level."""
    if not facts.monitoring and event.event in PASSIVE_EVENTS:
        forget(state)
        battery = event.battery
        if battery is not None and battery <= params.battery_low:
            return [low_battery(event, battery, params)]
        return []
    return rules.on_event(state, event, params, facts, tz)


def handle_tick(
    state: rules.State,
    now: dt.datetime,
    params: rules.Params,
    facts: rules.Facts,
    tz: ZoneInfo,
    *,
    motion_today: int | None = None,
) -> list[rules.Finding]:
    """A sweeper tick: the silence rules at ``now``. ``motion_today``: motion counted today
    (local) before the current hour, on the first tick of each hour (else ``None``). Without
    the monitoring consent: nothing (the silence rules are passive monitoring)."""
    if not facts.monitoring:
        forget(state)
        return []
    return rules.on_tick(state, now, params, facts, tz, motion_today=motion_today)


def handle_baseline(
    state: rules.State, base: list[float], days: int, facts: rules.Facts | None = None
) -> None:
    """A freshly learned baseline replaces the elder's (none without the monitoring
    consent)."""
    if facts is not None and not facts.monitoring:
        forget(state)
        return
    state.baseline, state.baseline_days = base, days


def hour_of(at: dt.datetime) -> dt.datetime:
    """The UTC hour an instant counts in (``activity_hourly.hour``)."""
    return at.replace(minute=0, second=0, microsecond=0)


def activity_count(
    event: rules.Event, facts: rules.Facts | None = None
) -> tuple[dt.datetime, str, int] | None:
    """What a message adds to the hourly activity: (hour, ``"motion"`` / ``"door"``, count);
    nothing without the monitoring consent."""
    if event.event not in (EventKind.MOTION, EventKind.DOOR):
        return None
    if facts is not None and not facts.monitoring:
        return None
    return hour_of(event.at), event.event.value, int(event.data.get("count", 1))


class TickView(Protocol):
    """What the tick filter reads of a rule state (a ``rules.State`` or a row of it)."""

    @property
    def last_activity_at(self) -> dt.datetime | None: ...
    @property
    def last_water_use_at(self) -> dt.datetime | None: ...
    @property
    def in_bed(self) -> bool | None: ...
    @property
    def not_worn_since(self) -> dt.datetime | None: ...
    @property
    def baseline(self) -> list[float] | None: ...


def needs_tick(state: TickView, now: dt.datetime, *, routine: bool) -> bool:
    """Whether the elder's silence could matter at ``now``: quiet for an hour, no water for
    12 h, out of bed, a watch off, or (on the hour's routine sweep) a baseline to compare."""
    last, water = state.last_activity_at, state.last_water_use_at
    return (
        (last is not None and last < now - TICK_QUIET)
        or (water is not None and water < now - TICK_WATER_QUIET)
        or state.in_bed is False
        or state.not_worn_since is not None
        or (routine and state.baseline is not None)
    )


@dataclass(slots=True)
class SweepClock:
    """What the sweeper remembers between sweeps: the local hour and day it last ran in."""

    hour: int | None = None
    day: dt.date | None = None


def sweep_due(clock: SweepClock, now: dt.datetime, tz: ZoneInfo) -> tuple[bool, bool]:
    """(routine check, baselines) for a sweep at ``now``: the routine rule runs on the first
    sweep of each local hour, the baselines are learned on the first sweep of each local day
    (and at start). Advances ``clock``."""
    local = now.astimezone(tz)
    routine = clock.hour != local.hour
    baselines = clock.day != local.date()
    clock.hour, clock.day = local.hour, local.date()
    return routine, baselines


def baseline_window(today: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC span the nightly learner reads: the ``BASELINE_DAYS`` local days before today."""
    start = dt.datetime.combine(today - dt.timedelta(days=BASELINE_DAYS), dt.time(), tzinfo=tz)
    end = dt.datetime.combine(today, dt.time(), tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def learn_baselines(
    hourly: Iterable[tuple[int, dt.datetime, int]], tz: ZoneInfo
) -> dict[int, tuple[list[float], int]]:
    """Each elder's usual hourly motion from (elder, UTC hour, motion count) rows of the
    window: the baseline and the number of local days it was learned from (days with a row)."""
    days: dict[int, dict[dt.date, list[int]]] = {}
    for elder_id, hour, motion in hourly:
        local = hour.astimezone(tz)
        days.setdefault(elder_id, {}).setdefault(local.date(), [0] * 24)[local.hour] += motion
    return {
        elder_id: (rules.learn_baseline(list(by_day.values())), len(by_day))
        for elder_id, by_day in days.items()
    }


def motion_window(now: dt.datetime, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC span of today's motion the routine rule compares at ``now``: local midnight to
    the start of the current hour."""
    at = now.astimezone(tz)
    start = at.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    until = at.replace(minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    return start, until


def response_of(finding: rules.Finding) -> Response:
    """An operator alarm, or a check-in task for a community worker (a finding that says
    ``check_in``: the graded response of issue #16)."""
    return "check_in" if getattr(finding, "check_in", False) else "alarm"
