"""Pure console logic: service-level figures, shifts across midnight, distances, and the live
hub's per-console filtering (scope and filters) of pushed alerts."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from yiyang.console import geo, sla
from yiyang.console.live import ConsoleHub, Subscriber
from yiyang.console.repository import QueueFilters, QueueRow
from yiyang.core.roles import Role
from yiyang.core.scoping import Actor

pytestmark = pytest.mark.unit

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def alarm(i: int, wait: float | None, **kw) -> sla.AlarmTimes:  # type: ignore[no-untyped-def]
    return sla.AlarmTimes(
        alert_id=i,
        created_at=kw.pop("created_at", T0),
        answered_at=None if wait is None else T0 + dt.timedelta(seconds=wait),
        resolved_at=kw.pop("resolved_at", None),
        answered_by=kw.pop("by", "A"),
        outcome=kw.pop("outcome", None),
        device_type=kw.pop("device", "sos_button"),
        severity="critical",
        **kw,
    )


def test_standard_met_only_when_both_shares_reach_their_targets() -> None:
    now = T0 + dt.timedelta(hours=1)
    fast = [alarm(i, 20) for i in range(199)]
    s = sla.summarise([*fast, alarm(999, 120)], now)  # 199/200 = 99.5 % within 60 s
    assert s.share_within_target == pytest.approx(0.995) and s.meets_standard
    s = sla.summarise([*fast[:190], *(alarm(900 + i, 120) for i in range(10))], now)
    assert s.share_within_target == pytest.approx(0.95) and not s.meets_standard
    s = sla.summarise([*fast, alarm(999, None)], now)  # still waiting after an hour
    assert s.unanswered_overdue == 1 and s.share_within_slow == pytest.approx(0.995)
    assert sla.summarise([], now).meets_standard is None
    # an alarm that arrived 10 s ago and waits has failed nothing yet
    fresh = alarm(998, None, created_at=now - dt.timedelta(seconds=10))
    s = sla.summarise([*fast, alarm(999, 20), fresh], now)
    assert s.alarms == 201 and s.share_within_target == 1.0 and s.meets_standard
    # past 60 s it counts against the 60 s share, past 180 s against both
    late = alarm(997, None, created_at=now - dt.timedelta(seconds=90))
    s = sla.summarise([*fast, late], now)
    assert s.share_within_target == pytest.approx(199 / 200) and s.share_within_slow == 1.0


def test_alerts_the_system_closed_do_not_count_and_exceptions_are_listed() -> None:
    now = T0 + dt.timedelta(hours=1)
    rep = sla.report(
        [
            alarm(1, 30, by="王"),
            alarm(2, 400, by="李"),
            alarm(3, None, system_closed=True),
            alarm(4, None),
        ],
        now,
        lambda t: t + dt.timedelta(hours=8),
    )
    assert rep.overall.alarms == 3
    assert [e.alert_id for e in rep.exceptions] == [4, 2]  # longest wait first
    assert rep.by_operator["王"].within_target == 1 and rep.by_operator["李"].within_slow == 0
    assert rep.by_shift["evening"].alarms == 3  # 09:00 UTC is 17:00 in Shanghai


def test_false_alarm_rate_by_device_type() -> None:
    end = T0 + dt.timedelta(minutes=5)
    rep = sla.report(
        [
            alarm(1, 10, outcome="false_alarm", resolved_at=end, device="fall_radar"),
            alarm(2, 10, outcome="real_emergency", resolved_at=end, device="fall_radar"),
            alarm(3, 10, outcome="false_alarm", resolved_at=end, device="smoke_alarm"),
            alarm(4, 10, device="smoke_alarm"),  # not resolved yet: not in the rate
        ],
        end,
        lambda t: t,
    )
    assert rep.false_by_device == {"fall_radar": (1, 2), "smoke_alarm": (1, 1)}
    assert rep.overall.false_alarm_rate == pytest.approx(2 / 3)
    assert rep.overall.resolve_median_s == 300


def test_percentile_and_shifts() -> None:
    assert sla.percentile([], 0.5) is None
    assert sla.percentile([5, 1, 3], 0.5) == 3
    assert sla.percentile(list(range(1, 11)), 0.9) == 9
    night = sla.Shift("night", dt.time(22), dt.time(6))
    assert night.contains(dt.time(23, 59)) and night.contains(dt.time(0, 5))
    assert not night.contains(dt.time(6)) and not night.contains(dt.time(12))
    assert sla.shift_of(dt.datetime(2026, 1, 1, 23, 30)) == "evening"
    assert sla.shift_of(dt.datetime(2026, 1, 1, 7, 59)) == "night"


def test_distances_and_nearest() -> None:
    # one degree of latitude is about 111.2 km anywhere
    assert geo.distance_m(31.0, 121.4, 32.0, 121.4) == pytest.approx(111_195, rel=1e-3)
    assert geo.distance_m(31.2, 121.4, 31.2, 121.4) == 0
    places = [("far", 31.30, 121.50), ("near", 31.171, 121.441), ("mid", 31.20, 121.45)]
    ranked = geo.nearest(31.17, 121.44, places, n=2)
    assert [p.item for p in ranked] == ["near", "mid"]
    assert ranked[0].metres < 200


def row(i: int, path: str, **kw) -> QueueRow:  # type: ignore[no-untyped-def]
    base = dict(
        id=i,
        elder_id=i,
        elder_name="x",
        address="y",
        region_path=path,
        alert_type="sos",
        severity="critical",
        state="new",
        detail={},
        count=1,
        created_at=T0,
        first_at=T0,
        next_escalation_at=None,
        escalation_step=0,
        claimed_by=None,
        claimed_by_name=None,
        version=1,
    )
    return QueueRow(**{**base, **kw})


def actor(role: Role, path: str) -> Actor:
    return Actor(1, "u", "U", role, 1, path)


def test_hub_pushes_each_console_only_what_its_operator_may_see() -> None:
    street_a, street_b = "/310104000000/310104003000/", "/310104000000/310104004000/"

    async def run() -> dict[str, list]:
        hub = ConsoleHub(lambda r: f"<tr id='alert-{r.id}'></tr>")
        subs = {
            "district": Subscriber(actor(Role.OPERATOR, "/310104000000/"), QueueFilters(), "zh_CN"),
            "street_a": Subscriber(actor(Role.STREET_OFFICER, street_a), QueueFilters(), "en"),
            "fires": Subscriber(
                actor(Role.OPERATOR, "/310104000000/"), QueueFilters(alert_type="smoke"), "en"
            ),
            "family": Subscriber(actor(Role.FAMILY, street_a), QueueFilters(), "en"),
        }
        hub._subscribers.update(subs.values())
        hub.deliver([row(1, street_a + "310104003001/"), row(2, street_b + "310104004001/")])
        hub.deliver([row(1, street_a + "310104003001/", state="resolved")])
        out = {}
        for name, s in subs.items():
            out[name] = []
            while not s.queue.empty():
                kind, data = s.queue.get_nowait()
                out[name].append((kind, data["id"]))
        return out

    got = asyncio.run(run())
    assert got["district"] == [("row", 1), ("row", 2), ("remove", 1)]
    assert got["street_a"] == [("row", 1), ("remove", 1)]  # never hears of street B's alert
    assert got["fires"] == [("remove", 1), ("remove", 2), ("remove", 1)]
    assert got["family"] == []  # person-scoped roles get no pushed rows
