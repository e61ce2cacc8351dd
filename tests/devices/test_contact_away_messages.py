"""Format v1's contact sensor and away button (issue #16): the messages validate, wrong ones are
explained, the simulator's validate too, and the rule engine takes them without failing."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from yiyang.alarms import engine, rules
from yiyang.devices import messages, simulator
from yiyang.devices.enums import DeviceType, EventKind

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


def message(dtype: str, event: str, data: dict | None = None) -> dict:  # type: ignore[type-arg]
    out = {
        "v": 1,
        "id": "m1",
        "device": "DEV1",
        "type": dtype,
        "event": event,
        "ts": NOW.isoformat(),
    }
    if data is not None:
        out["data"] = data
    return out


def test_contact_away_and_home_are_readings() -> None:
    used = messages.validate(message("contact_sensor", "contact", {"active": True}), now=NOW)
    assert isinstance(used, messages.Reading)
    assert used.event is EventKind.CONTACT and used.data == {"active": True}
    bare = messages.validate(message("contact_sensor", "contact"), now=NOW)
    assert isinstance(bare, messages.Reading) and bare.data == {"active": True}
    for event in ("away", "home"):
        r = messages.validate(message("away_button", event), now=NOW)
        assert isinstance(r, messages.Reading) and r.device_type is DeviceType.AWAY_BUTTON


@pytest.mark.parametrize(
    ("obj", "code", "words"),
    [
        (message("contact_sensor", "contact", {"active": "often"}), "schema", "data.active"),
        (message("contact_sensor", "contact", {"open": True}), "schema", "data.open"),
        (message("away_button", "away", {"until": "Sunday"}), "schema", "data.until"),
        (message("door_sensor", "contact"), "wrong_event", "does not send 'contact'"),
        (message("sos_button", "away"), "wrong_event", "does not send 'away'"),
        (message("away_button", "sos"), "wrong_event", "does not send 'sos'"),
    ],
)
def test_wrong_ones_are_explained(obj: dict, code: str, words: str) -> None:  # type: ignore[type-arg]
    r = messages.validate(obj, now=NOW)
    assert isinstance(r, messages.Rejection) and r.code == code and words in r.reason, r


def test_the_simulator_sends_them_and_they_validate() -> None:
    kit = simulator.Kit(1, None, {"contact_sensor": ("CON1", "V"), "away_button": ("AWB1", "V")})
    day = simulator.day([kit], NOW - dt.timedelta(hours=30))
    events = {m["event"] for m in day}
    assert {"contact", "away", "home"} <= events
    for m in day:
        assert isinstance(messages.validate(m, now=NOW), messages.Reading), m
    rnd = random.Random(1)
    for dtype, serial in (("contact_sensor", "CON1"), ("away_button", "AWB1")):
        m = simulator._ordinary(kit, dtype, serial, NOW, rnd)
        assert isinstance(messages.validate(m, now=NOW), messages.Reading), m


def test_the_engine_takes_them_and_a_contact_is_a_sign_of_life() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    params, facts, state = rules.Params.layered_safely(), rules.Facts(1), rules.State()
    at = NOW.replace(minute=7)
    for dtype, kind, data in (
        (DeviceType.AWAY_BUTTON, EventKind.AWAY, {}),
        (DeviceType.AWAY_BUTTON, EventKind.HOME, {}),
        (DeviceType.CONTACT_SENSOR, EventKind.CONTACT, {"active": True}),
    ):
        ev = rules.Event(1, dtype, kind, at, data)
        assert engine.handle_event(state, ev, params, facts, tz) == []
        assert engine.activity_count(ev) is None
    assert state.activity_sensed and state.last_activity_at == at.replace(second=0)
