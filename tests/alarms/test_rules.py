"""The alarm rules as pure functions: each rule fires when it should and stays quiet when not."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from yiyang.alarms import rules
from yiyang.alarms.enums import AlertType, Severity
from yiyang.devices.enums import DeviceType, EventKind

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")
P = rules.DEFAULTS
HOME = (31.19, 121.44)
FACTS = rules.Facts(1, dementia=True, home=HOME)


def local(h: int, m: int = 0, day: int = 23) -> dt.datetime:
    return dt.datetime(2026, 11, day, h, m, tzinfo=TZ).astimezone(dt.UTC)


def ev(
    kind: EventKind,
    at: dt.datetime,
    data: dict | None = None,
    dtype: DeviceType = DeviceType.SMART_WATCH,
    battery: int | None = None,
) -> rules.Event:  # type: ignore[type-arg]
    return rules.Event(7, dtype, kind, at, data or {}, battery)


def types(findings: list[rules.Finding]) -> list[str]:
    return [f.alert_type.value for f in findings]


def test_immediate_events_are_critical() -> None:
    for kind, expected in [
        (EventKind.SOS, "sos"),
        (EventKind.FALL, "fall"),
        (EventKind.SMOKE, "smoke"),
        (EventKind.GAS, "gas"),
    ]:
        (f,) = rules.on_event(rules.State(), ev(kind, local(9)), P, FACTS, TZ)
        assert (f.alert_type.value, f.severity) == (expected, Severity.CRITICAL)


def test_heart_rate_needs_three_readings_in_a_row_and_grades_severity() -> None:
    s = rules.State()
    seen = [
        types(rules.on_event(s, ev(EventKind.VITALS, local(9, i), {"heart_rate": v}), P, FACTS, TZ))
        for i, v in enumerate([135, 140, 80, 132, 150])
    ]
    assert seen == [[], [], [], [], []]
    (f,) = rules.on_event(s, ev(EventKind.VITALS, local(9, 9), {"heart_rate": 131}), P, FACTS, TZ)
    assert f.severity is Severity.WARNING and f.detail["values"] == [132, 150, 131]
    for i in range(3):
        out = rules.on_event(
            s, ev(EventKind.VITALS, local(10, i), {"heart_rate": 30}), P, FACTS, TZ
        )
    assert out[0].severity is Severity.CRITICAL


def test_spo2_bp_and_glucose_thresholds() -> None:
    s = rules.State()
    for i in range(3):
        out = rules.on_event(s, ev(EventKind.VITALS, local(9, i), {"spo2": 88}), P, FACTS, TZ)
    assert types(out) == ["vitals"] and out[0].key == "vitals:spo2"
    bp = [
        rules.on_event(
            s,
            ev(
                EventKind.BP,
                local(9, i),
                {"systolic": 185, "diastolic": 100},
                DeviceType.BP_MONITOR,
            ),
            P,
            FACTS,
            TZ,
        )
        for i in range(2)
    ]
    assert types(bp[0]) == [] and types(bp[1]) == ["vitals"]
    assert types(
        rules.on_event(
            s,
            ev(EventKind.GLUCOSE, local(9), {"mmol_l": 3.5}, DeviceType.GLUCOSE_METER),
            P,
            FACTS,
            TZ,
        )
    ) == ["vitals"]
    assert (
        types(
            rules.on_event(
                rules.State(),
                ev(EventKind.GLUCOSE, local(9), {"mmol_l": 6.1}, DeviceType.GLUCOSE_METER),
                P,
                FACTS,
                TZ,
            )
        )
        == []
    )


def test_wandering_needs_two_fixes_outside_and_only_for_dementia() -> None:
    s = rules.State()
    away = {"lat": HOME[0] + 0.01, "lon": HOME[1]}  # ~1.1 km north
    assert rules.on_event(s, ev(EventKind.GPS, local(10), away), P, FACTS, TZ) == []
    (f,) = rules.on_event(s, ev(EventKind.GPS, local(10, 5), away), P, FACTS, TZ)
    assert f.alert_type is AlertType.WANDERING and 1000 < f.detail["distance_m"] < 1200
    assert f.detail["left_at"] == local(10).isoformat()
    rules.on_event(
        s, ev(EventKind.GPS, local(10, 9), {"lat": HOME[0], "lon": HOME[1]}), P, FACTS, TZ
    )
    assert s.outside_since is None
    calm = rules.Facts(2, dementia=False, home=HOME)
    t = rules.State()
    assert [
        rules.on_event(t, ev(EventKind.GPS, local(10, i), away), P, calm, TZ) for i in range(3)
    ] == [[], [], []]


def test_polygon_geofence() -> None:
    square = [(31.18, 121.43), (31.20, 121.43), (31.20, 121.45), (31.18, 121.45)]
    p = rules.Params.layered({"geofence_polygon": square})
    assert rules.inside_geofence((31.19, 121.44), FACTS, p) is True
    assert rules.inside_geofence((31.21, 121.44), FACTS, p) is False


def test_inactivity_only_in_waking_hours_and_optionally_after_asking_the_elder() -> None:
    s = rules.State(last_activity_at=local(20, 0, day=22), activity_sensed=True)
    assert types(rules.on_tick(s, local(6, 30), P, FACTS, TZ)) == []  # 10.5 h, and before 07:00
    out = rules.on_tick(s, local(8, 30), P, FACTS, TZ)  # 12.5 h
    assert AlertType.INACTIVITY in [f.alert_type for f in out]
    p = rules.Params.layered({"prewarn_minutes": 30})
    s2 = rules.State(last_activity_at=local(20, 0, day=22), activity_sensed=True)
    first = [
        f
        for f in rules.on_tick(s2, local(8, 30), p, FACTS, TZ)
        if f.alert_type is AlertType.INACTIVITY
    ]
    assert first[0].prompt_elder
    assert [
        f
        for f in rules.on_tick(s2, local(8, 45), p, FACTS, TZ)
        if f.alert_type is AlertType.INACTIVITY
    ] == []
    late = [
        f
        for f in rules.on_tick(s2, local(9, 1), p, FACTS, TZ)
        if f.alert_type is AlertType.INACTIVITY
    ]
    assert late and not late[0].prompt_elder
    rules.on_event(
        s2, ev(EventKind.MOTION, local(9, 2), {"count": 1}, DeviceType.PIR_MOTION), p, FACTS, TZ
    )
    assert s2.prewarned_at is None and s2.last_activity_at == local(9, 2)


def test_morning_silence() -> None:
    s = rules.State(last_activity_at=local(21, 0, day=22), activity_sensed=True)
    assert AlertType.MORNING_SILENCE not in [
        f.alert_type for f in rules.on_tick(s, local(7, 30), P, FACTS, TZ)
    ]
    assert AlertType.MORNING_SILENCE in [
        f.alert_type for f in rules.on_tick(s, local(8, 5), P, FACTS, TZ)
    ]


def test_water_no_use_and_running() -> None:
    s = rules.State()
    for i, total in enumerate([100.0, 100.0, 100.1]):
        rules.on_event(
            s,
            ev(
                EventKind.METER,
                local(0) + dt.timedelta(hours=i),
                {"total_litres": total},
                DeviceType.WATER_METER,
            ),
            P,
            FACTS,
            TZ,
        )
    assert s.last_water_use_at == local(0)  # first reading; no use since
    out = rules.on_tick(s, local(0) + dt.timedelta(hours=25), P, FACTS, TZ)
    assert AlertType.NO_WATER not in types(out)  # the meter went quiet: that is a device problem
    s.last_meter_at = local(0) + dt.timedelta(hours=24, minutes=30)
    assert "no_water" in types(rules.on_tick(s, local(0) + dt.timedelta(hours=25), P, FACTS, TZ))
    r = rules.State()
    found = []
    for i in range(5):
        found += rules.on_event(
            r,
            ev(
                EventKind.METER,
                local(1) + dt.timedelta(hours=i),
                {"total_litres": 10.0 + 30 * i},
                DeviceType.WATER_METER,
            ),
            P,
            FACTS,
            TZ,
        )
    assert types(found) == ["water_running", "water_running"]  # at 3 h and 4 h; one episode key
    assert len({f.key for f in found}) == 1


def test_night_door_for_dementia_and_not_in_bed() -> None:
    s = rules.State()
    (f,) = rules.on_event(
        s, ev(EventKind.DOOR, local(2, 10), {"open": True}, DeviceType.DOOR_SENSOR), P, FACTS, TZ
    )
    assert f.key == "night_door:2026-11-22"
    assert (
        rules.on_event(
            s, ev(EventKind.DOOR, local(14), {"open": True}, DeviceType.DOOR_SENSOR), P, FACTS, TZ
        )
        == []
    )
    b = rules.State()
    rules.on_event(
        b, ev(EventKind.BED, local(23, 0), {"in_bed": False}, DeviceType.BED_SENSOR), P, FACTS, TZ
    )
    assert "not_in_bed" not in types(rules.on_tick(b, local(23, 45), P, FACTS, TZ))
    assert "not_in_bed" in types(rules.on_tick(b, local(0, 5, day=24), P, FACTS, TZ))


def test_routine_baseline_and_deviation_are_explained() -> None:
    day = [0] * 7 + [15, 15, 12] + [9] * 12 + [0, 0]
    base = rules.learn_baseline([day] * 10)
    assert base[9] == 42  # usually 42 motion events by 10:00
    s = rules.State(baseline=base, baseline_days=10)
    f = rules.routine_deviation(s, local(10).astimezone(TZ), P, motion_today=0)
    # 07:00–10:00 usually 42, 06:00–09:00 usually 30: the smaller (an hour late is usual)
    assert f is not None and f.detail == {
        "expected": 30,
        "actual": 0,
        "since": "07:00",
        "by": "10:00",
    }
    assert rules.routine_deviation(s, local(10).astimezone(TZ), P, motion_today=3) is None
    young = rules.State(baseline=base, baseline_days=3)
    assert rules.routine_deviation(young, local(10).astimezone(TZ), P, motion_today=0) is None


def test_device_health_battery_offline_and_throttle() -> None:
    (f,) = rules.on_event(
        rules.State(),
        ev(EventKind.HEARTBEAT, local(9), dtype=DeviceType.SOS_BUTTON, battery=8),
        P,
        FACTS,
        TZ,
    )
    assert (f.alert_type, f.severity) == (AlertType.LOW_BATTERY, Severity.WARNING)
    assert rules.device_offline(1, DeviceType.SOS_BUTTON, local(9), 3600, local(10, 59), P) is None
    off = rules.device_offline(1, DeviceType.SOS_BUTTON, local(9), 3600, local(11, 1), P)
    assert off is not None and off.severity is Severity.WARNING and off.detail["minutes"] == 121
    recent = [local(9, i) for i in range(5)]
    assert rules.throttled(recent, local(9, 6), Severity.WARNING, P)
    assert not rules.throttled(recent, local(9, 6), Severity.CRITICAL, P)
    assert not rules.throttled(recent, local(9, 30), Severity.WARNING, P)


def test_params_layering_and_escalation_ladder() -> None:
    p = rules.Params.layered({"inactivity_hours": 14}, {"inactivity_hours": 6, "battery_low": 15})
    assert (p.inactivity_hours, p.battery_low, p.spo2_warn_below) == (6, 15, 90)
    created = local(9)
    assert rules.escalation_due(created, "critical", 0, P) == (
        "contacts",
        created + dt.timedelta(seconds=60),
    )
    assert rules.escalation_due(created, "critical", 3, P) is None
    assert rules.escalation_due(created, "info", 0, P) is None


def test_silence_rules_need_a_motion_or_door_sensor_in_the_home() -> None:
    watch_only = rules.State(last_activity_at=local(20, 0, day=22))  # e.g. from a bed sensor
    assert types(rules.on_tick(watch_only, local(9, 30), P, FACTS, TZ)) == []
    rules.on_event(
        watch_only,
        ev(EventKind.MOTION, local(9, 31), {"count": 1}, DeviceType.PIR_MOTION),
        P,
        FACTS,
        TZ,
    )
    assert watch_only.activity_sensed


def test_ordinary_household_water_use_is_not_a_running_tap() -> None:
    s = rules.State()
    found = []
    for i, total in enumerate([100, 115, 140, 150, 172, 190]):  # 10–25 L an hour, all day
        found += rules.on_event(
            s,
            ev(
                EventKind.METER,
                local(8) + dt.timedelta(hours=i),
                {"total_litres": float(total)},
                DeviceType.WATER_METER,
            ),
            P,
            FACTS,
            TZ,
        )
    assert found == []
