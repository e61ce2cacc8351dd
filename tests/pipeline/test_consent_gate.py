"""The consent gate in the pure engine (``alarms/engine.py``), which the worker and ``yiyang
replay`` share: without the health-monitoring consent no passive rule finds anything and what
was learned of the home is forgotten, while every alarm kind raises as before."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from yiyang.alarms import engine, rules
from yiyang.alarms.replay import make_facts
from yiyang.devices.enums import (
    EVENTS,
    PASSIVE_EVENTS,
    SAFETY_EVENTS,
    URGENT,
    DeviceType,
    EventKind,
)
from yiyang.pipeline.messages import DeviceEvent

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 3, 2, 4, 0, tzinfo=dt.UTC)
ON = rules.Facts(1)
OFF = rules.Facts(1, monitoring=False)
P = rules.Params()


def event(kind: EventKind, device: DeviceType, data: dict, battery: int | None = None):  # type: ignore[no-untyped-def,type-arg]
    return rules.Event(7, device, kind, NOW, data, battery)


ALARMS = [
    (EventKind.SOS, DeviceType.SOS_BUTTON),
    (EventKind.SOS, DeviceType.SMART_WATCH),
    (EventKind.FALL, DeviceType.FALL_RADAR),
    (EventKind.FALL, DeviceType.SMART_WATCH),
    (EventKind.SMOKE, DeviceType.SMOKE_ALARM),
    (EventKind.GAS, DeviceType.GAS_ALARM),
    (EventKind.SMOKE, DeviceType.ALARM_PANEL),
]


@pytest.mark.parametrize(("kind", "device"), ALARMS)
def test_an_alarm_is_never_dropped(kind: EventKind, device: DeviceType) -> None:
    found = engine.handle_event(rules.State(), event(kind, device, {}), P, OFF, TZ)
    assert [(f.alert_type.value, f.severity.value) for f in found] == [(kind.value, "critical")]


def test_passive_readings_find_nothing_and_the_home_is_forgotten() -> None:
    state = rules.State(
        last_activity_at=NOW - dt.timedelta(hours=30),
        in_bed=False,
        baseline=[1.0] * 24,
        activity_sensed=True,
        learned={"days": 9},
    )
    high = event(EventKind.VITALS, DeviceType.SMART_WATCH, {"heart_rate": 190})
    for _ in range(5):
        assert engine.handle_event(state, high, P, OFF, TZ) == []
    assert state == rules.State()  # nothing carried over
    assert engine.handle_event(rules.State(), high, P, ON, TZ) == []  # one reading: not yet
    walked = event(EventKind.GPS, DeviceType.SMART_WATCH, {"lat": 31.5, "lon": 121.9})
    assert (
        engine.handle_event(state, walked, P, rules.Facts(1, True, (31.2, 121.4), False), TZ) == []
    )
    assert engine.activity_count(event(EventKind.MOTION, DeviceType.PIR_MOTION, {}), OFF) is None
    assert engine.activity_count(event(EventKind.MOTION, DeviceType.PIR_MOTION, {}), ON) is not None


def test_silence_rules_find_nothing_without_the_consent() -> None:
    quiet = rules.State(last_activity_at=NOW - dt.timedelta(hours=30), activity_sensed=True)
    assert [f.alert_type.value for f in engine.handle_tick(quiet, NOW, P, ON, TZ)]
    quiet = rules.State(last_activity_at=NOW - dt.timedelta(hours=30), activity_sensed=True)
    assert engine.handle_tick(quiet, NOW, P, OFF, TZ) == []
    assert not engine.needs_tick(quiet, NOW, routine=True)  # and the sweeper stops asking
    engine.handle_baseline(quiet, [2.0] * 24, 20, OFF)
    assert quiet.baseline is None


def test_a_low_battery_is_still_reported() -> None:
    reading = event(EventKind.VITALS, DeviceType.SMART_WATCH, {"heart_rate": 70}, battery=5)
    found = engine.handle_event(rules.State(), reading, P, OFF, TZ)
    assert [f.alert_type.value for f in found] == ["low_battery"]


def test_every_event_kind_is_either_safety_or_passive() -> None:
    assert URGENT <= SAFETY_EVENTS and not (SAFETY_EVENTS & PASSIVE_EVENTS)
    assert set(EventKind) == SAFETY_EVENTS | PASSIVE_EVENTS
    assert EVENTS[DeviceType.SOS_BUTTON] <= SAFETY_EVENTS  # an SOS button never monitors
    assert {EventKind.VITALS, EventKind.MOTION, EventKind.GPS, EventKind.BED} <= PASSIVE_EVENTS


def test_withhold_drops_the_readings_of_passive_messages_only() -> None:
    def msg(kind: str, data: dict) -> DeviceEvent:  # type: ignore[type-arg]
        return DeviceEvent(7, 1, "smart_watch", kind, "m1", 0.0, 0.0, data)

    vitals, sos = msg("vitals", {"heart_rate": 150}), msg("sos", {"lat": 31.2, "lon": 121.4})
    assert engine.withhold(vitals, OFF).data == {}
    assert engine.withhold(sos, OFF) is sos
    assert engine.withhold(vitals, ON) is vitals


def test_replay_takes_no_monitoring() -> None:
    assert make_facts(["dementia", "no_monitoring"]) == rules.Facts(
        make_facts([]).elder_id, dementia=True, monitoring=False
    )
