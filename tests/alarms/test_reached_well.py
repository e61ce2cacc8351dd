"""A person who reached the elder and found them well (a check-in call) is a sign of life for
the silence rules: the quiet is judged again from that moment, so a silence a worker has already
checked does not become an operator alarm two hours later (issue #16, graded response)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from yiyang.alarms import rules
from yiyang.alarms.rules.dispatch import WELL_HOLDS, on_tick, reached_since

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=TZ).astimezone(dt.UTC)  # 15:00, waking hours


def _quiet_home(hours: float) -> rules.State:
    return rules.State(last_activity_at=NOW - dt.timedelta(hours=hours), activity_sensed=True)


def _silences(found: list[rules.Finding]) -> list[rules.Finding]:
    return [f for f in found if f.alert_type.value == "inactivity"]


def test_a_quiet_home_is_raised_without_a_call() -> None:
    state = _quiet_home(13)
    found = _silences(on_tick(state, NOW, rules.Params(), rules.Facts(1), TZ))
    assert found and found[0].severity.value == "warning"


def test_a_call_that_found_the_elder_well_starts_the_quiet_again() -> None:
    state = _quiet_home(13)
    last = state.last_activity_at
    called = rules.Facts(1, well_at=NOW - dt.timedelta(hours=2))
    assert _silences(on_tick(state, NOW, rules.Params(), called, TZ)) == []
    assert state.last_activity_at == last  # the sensors' time is kept for learning
    # still quiet 12 h after the call: raised, keyed on the call (a new silence)
    later = NOW + dt.timedelta(hours=10, minutes=5)
    found = _silences(on_tick(state, later, rules.Params(), called, TZ))
    assert found and called.well_at is not None
    assert found[0].key.endswith(called.well_at.isoformat())


def test_only_a_call_after_the_last_sign_of_life_and_within_a_day_counts() -> None:
    last = NOW - dt.timedelta(hours=3)
    assert reached_since(last, NOW - dt.timedelta(hours=1), NOW)
    assert not reached_since(last, NOW - dt.timedelta(hours=4), NOW)  # before the last sign
    assert not reached_since(None, NOW + dt.timedelta(minutes=1), NOW)  # not in the future
    assert not reached_since(None, NOW - WELL_HOLDS - dt.timedelta(minutes=1), NOW)
    assert not reached_since(last, None, NOW)
