"""Sign-in throttle rules, pure (accounts/throttle.py): counting, windows, locks, address keys."""

from __future__ import annotations

import datetime as dt

import pytest

from yiyang.accounts import throttle

pytestmark = pytest.mark.unit


def test_throttle_counter_rules() -> None:
    limits = throttle.Limits(3, dt.timedelta(minutes=15), dt.timedelta(minutes=15))
    t0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    c = None
    for n in range(3):
        c = throttle.after_failure(c, t0 + dt.timedelta(minutes=n), limits)
    assert c is not None and c.failures == 3 and c.locked_until == t0 + dt.timedelta(minutes=17)
    assert throttle.locked_until(c, t0 + dt.timedelta(minutes=16)) == c.locked_until
    assert throttle.locked_until(c, t0 + dt.timedelta(minutes=17)) is None
    after = throttle.after_failure(c, t0 + dt.timedelta(minutes=17), limits)
    assert after.failures == 1 and after.locked_until is None  # a served lock starts afresh
    assert throttle.minutes_left(t0 + dt.timedelta(seconds=61), t0) == 2
    assert throttle.address_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert throttle.address_key("::ffff:203.0.113.9") == "203.0.113.9"
