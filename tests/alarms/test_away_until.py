"""The away rule with a return time (``alarms/rules/away.py``): an away that says until when
(the app's "at my daughter's until Sunday") holds the silence rules until then; not back
``away_grace_minutes`` after it is a check-in, "not back as planned"; back clears it; without
a return time, as before (nothing until back)."""

from __future__ import annotations

import datetime as dt

import pytest

from yiyang.alarms import rules
from yiyang.alarms.enums import AlertType
from yiyang.alarms.rules import away, silence
from yiyang.devices.enums import EventKind

from .test_silence_model import TZ, at, ev, learned_home

pytestmark = pytest.mark.unit

GRACE = dt.timedelta(minutes=rules.DEFAULTS.away_grace_minutes)


def test_an_away_until_sunday_holds_until_then_plus_the_grace() -> None:
    home = learned_home(10, (7, 0), (22, 0))
    home.day(10, (7, 0), (9, 50))
    back_by = at(12, 18, 0)
    home.send(EventKind.AWAY, at(10, 10, 0), {"until": back_by.isoformat()})
    assert home.state.learned[away.UNTIL] == int(back_by.timestamp())
    home.until(back_by + GRACE - dt.timedelta(minutes=10))
    assert home.silence_findings(at(10, 0)) == []  # two days quiet at home: nothing


def test_not_back_as_planned_is_a_check_in() -> None:
    home = learned_home(10, (7, 0), (22, 0))
    home.day(10, (7, 0), (9, 50))
    back_by = at(12, 18, 0)
    home.send(EventKind.AWAY, at(10, 10, 0), {"until": back_by.isoformat()})
    home.until(back_by + GRACE + dt.timedelta(hours=3))
    (f,) = home.silence_findings(at(10, 0))
    assert f.alert_type is AlertType.OUT_TOO_LONG and f.check_in
    assert f.response is rules.Response.CHECK_IN
    assert back_by + GRACE <= f.at < back_by + GRACE + dt.timedelta(minutes=10)
    assert f.reason.startswith("not back as planned: expected back 18:00")
    assert f.detail["until"] == back_by.isoformat()


def test_back_clears_the_return_time() -> None:
    home = learned_home(10, (7, 0), (22, 0))
    home.day(10, (7, 0), (9, 50))
    back_by = at(12, 18, 0)
    home.send(EventKind.AWAY, at(10, 10, 0), {"until": back_by.isoformat()})
    home.send(EventKind.HOME, at(12, 16, 0))
    assert away.UNTIL not in home.state.learned and not silence.away(home.state.learned)
    home.day(12, (16, 5), (22, 0))
    home.until(back_by + GRACE + dt.timedelta(hours=3))
    assert [f for f in home.silence_findings(at(10, 0)) if "away" in f.key] == []


def test_back_by_the_door_then_inside_clears_it_too() -> None:
    home = learned_home(10, (7, 0), (22, 0))
    home.day(10, (7, 0), (9, 50))
    home.send(EventKind.AWAY, at(10, 10, 0), {"until": at(11, 12, 0).isoformat()})
    home.send(EventKind.DOOR, at(11, 11, 0), {"open": True})
    home.send(EventKind.MOTION, at(11, 11, 20))
    assert not silence.away(home.state.learned)
    home.day(11, (11, 30), (22, 0))
    home.until(at(11, 23, 0))
    assert [f for f in home.silence_findings(at(10, 0)) if "away" in f.key] == []


def test_an_away_without_until_is_as_before_and_a_new_away_forgets_an_old_until() -> None:
    s = rules.State()
    _apply(s, _ev(EventKind.AWAY, at(0, 9), {"until": at(1, 9).isoformat()}))
    assert away.UNTIL in s.learned
    _apply(s, _ev(EventKind.AWAY, at(0, 10), {}))
    assert away.UNTIL not in s.learned  # the later away said no return time
    far = at(30, 0)
    assert rules.on_tick(s, far, rules.DEFAULTS, rules.Facts(1), TZ) == []
    # a return time before the away itself, or not a time, counts as none
    for bad in (at(0, 8).isoformat(), "Sunday", "2026-03-01T10:00:00", True):
        s = rules.State()
        _apply(s, _ev(EventKind.AWAY, at(0, 10), {"until": bad}))
        assert away.UNTIL not in s.learned, bad


def test_the_return_time_may_be_unix_seconds() -> None:
    assert away.until_of({"until": at(1, 9).timestamp()}) == at(1, 9)
    assert away.until_of({}) is None


def _ev(kind: EventKind, when: dt.datetime, data: dict) -> rules.Event:  # type: ignore[type-arg]
    return ev(kind, when, data)


def _apply(state: rules.State, event: rules.Event) -> None:
    rules.on_event(state, event, rules.DEFAULTS, rules.Facts(1), TZ)


def test_the_consent_gate_treats_the_apps_away_as_the_buttons() -> None:
    """An away said in the app is the away button's message (``away_button``, ``away``): with
    the monitoring consent the away rule runs; without it the engine's gate drops it with every
    passive message, as it drops the button's — no silence rule runs then, so there is nothing
    to hold and no "not back as planned" to raise. Recording the absence itself needs no
    consent (presence)."""
    from yiyang.alarms import engine
    from yiyang.devices.enums import DeviceType

    said = rules.Event(
        0,
        DeviceType.AWAY_BUTTON,
        EventKind.AWAY,
        at(0, 9),
        {"source": "app", "by": 1, "as": "family", "until": at(1, 18).isoformat()},
    )
    on, off = rules.Facts(1), rules.Facts(1, monitoring=False)
    s = rules.State()
    assert engine.handle_event(s, said, rules.DEFAULTS, on, TZ) == []
    assert "away" in s.learned and away.UNTIL in s.learned
    assert engine.handle_event(s, said, rules.DEFAULTS, off, TZ) == []
    assert s == rules.State()  # forgotten, as for the button
    assert engine.withhold(said, off).data == {} and engine.withhold(said, on) is said
    assert (
        engine.handle_tick(
            rules.State(learned={"away": 1, away.UNTIL: 2}), at(3, 9), rules.DEFAULTS, off, TZ
        )
        == []
    )
