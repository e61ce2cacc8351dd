"""The engine's pure decisions that the worker, the sweeper and the replay share
(``alarms/engine.py``): the tick filter, the sweep schedule, the nightly learner."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from yiyang.alarms import engine, rules
from yiyang.devices.enums import DeviceType, EventKind

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 3, 2, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai


def test_needs_tick_when_silence_could_matter() -> None:
    assert not engine.needs_tick(rules.State(), NOW, routine=True)  # nothing known yet
    quiet = rules.State(last_activity_at=NOW - dt.timedelta(minutes=61))
    assert engine.needs_tick(quiet, NOW, routine=False)
    busy = rules.State(last_activity_at=NOW - dt.timedelta(minutes=59), in_bed=True)
    assert not engine.needs_tick(busy, NOW, routine=False)
    assert engine.needs_tick(rules.State(in_bed=False), NOW, routine=False)
    assert engine.needs_tick(rules.State(not_worn_since=NOW), NOW, routine=False)
    dry = rules.State(last_water_use_at=NOW - dt.timedelta(hours=13))
    assert engine.needs_tick(dry, NOW, routine=False)
    learned = rules.State(baseline=[1.0] * 24)
    assert engine.needs_tick(learned, NOW, routine=True)
    assert not engine.needs_tick(learned, NOW, routine=False)


def test_sweep_due_routine_each_local_hour_baselines_each_local_day() -> None:
    clock = engine.SweepClock()
    assert engine.sweep_due(clock, NOW, TZ) == (True, True)  # at start
    assert engine.sweep_due(clock, NOW + dt.timedelta(minutes=1), TZ) == (False, False)
    assert engine.sweep_due(clock, NOW + dt.timedelta(hours=1), TZ) == (True, False)
    midnight = dt.datetime(2026, 3, 3, 0, 0, 30, tzinfo=TZ)
    assert engine.sweep_due(clock, midnight, TZ) == (True, True)


def test_learn_baselines_by_local_day() -> None:
    start, end = engine.baseline_window(dt.date(2026, 3, 10), TZ)
    assert end - start == dt.timedelta(days=engine.BASELINE_DAYS)
    assert end == dt.datetime(2026, 3, 9, 16, 0, tzinfo=dt.UTC)  # local midnight
    rows = [
        (7, dt.datetime(2026, 3, 1, 23, 0, tzinfo=dt.UTC), 4),  # 07:00 on 3-2 local
        (7, dt.datetime(2026, 3, 2, 23, 0, tzinfo=dt.UTC), 2),  # 07:00 on 3-3 local
        (7, dt.datetime(2026, 3, 3, 1, 0, tzinfo=dt.UTC), 2),  # 09:00 on 3-3 local
    ]
    base, days = engine.learn_baselines(rows, TZ)[7]
    assert days == 2
    assert base[6] == 0 and base[7] == 3.0 and base[9] == 4.0  # medians of 4|2 and 4|4


def test_motion_window_and_activity_count() -> None:
    start, until = engine.motion_window(NOW + dt.timedelta(minutes=30), TZ)
    assert start == dt.datetime(2026, 3, 1, 16, 0, tzinfo=dt.UTC)  # local midnight
    assert until == NOW  # the start of the current local hour
    at = NOW + dt.timedelta(minutes=12)
    motion = rules.Event(1, DeviceType.PIR_MOTION, EventKind.MOTION, at, {"count": 3})
    assert engine.activity_count(motion) == (NOW, "motion", 3)
    door = rules.Event(2, DeviceType.DOOR_SENSOR, EventKind.DOOR, at, {"open": True})
    assert engine.activity_count(door) == (NOW, "door", 1)
    bed = rules.Event(3, DeviceType.BED_SENSOR, EventKind.BED, at, {"in_bed": False})
    assert engine.activity_count(bed) is None
