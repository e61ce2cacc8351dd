"""The alarm pipeline end to end on SQLite and PostgreSQL, over the in-process bus and over NATS
JetStream: message → stored → rules → alert. The same tests, whichever bus carries them."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from sqlalchemy import func, select

from yiyang.alarms.enums import AlertState
from yiyang.alarms.models import Alert, AlertEvent
from yiyang.core import db
from yiyang.devices.models import DeadLetter, DeviceMessage, VitalReading

from .conftest import message, mqtt_raw, run_pipeline

pytestmark = [pytest.mark.pipeline, pytest.mark.usefixtures("bus_kind")]


def alerts_for(elder_id: int) -> list[Alert]:
    with db.unit_of_work() as session:
        return list(
            session.scalars(select(Alert).where(Alert.elder_id == elder_id).order_by(Alert.id))
        )


def test_sos_becomes_one_critical_alert_and_a_redelivery_is_processed_once(kit) -> None:
    k = kit()
    sos = message(k["sos_button"], "sos_button", "sos")

    async def go(p):
        first = await p.gateway.submit([mqtt_raw(sos)])
        again = await p.gateway.submit([mqtt_raw(sos)])  # QoS-1 redelivery: same id
        return first, again

    first, again = run_pipeline(go)
    assert first[0].accepted == [sos["id"]] and again[0].accepted == [sos["id"]]
    alerts = alerts_for(k["elder_id"])
    assert [(a.alert_type, a.severity, a.state, a.count) for a in alerts] == [
        ("sos", "critical", AlertState.NEW, 1)
    ]
    assert alerts[0].next_escalation_at is not None  # escalation-ready
    with db.unit_of_work() as session:
        stored = session.scalar(
            select(func.count()).select_from(DeviceMessage).where(DeviceMessage.msg_id == sos["id"])
        )
        trail = session.scalars(
            select(AlertEvent.action).where(AlertEvent.alert_id == alerts[0].id)
        ).all()
    assert stored == 1
    assert trail == ["created"]


def test_bad_messages_are_dead_lettered_and_the_good_ones_beside_them_kept(kit) -> None:
    k = kit()
    good = message(k["sos_button"], "sos_button", "sos")
    wrong_type = message(k["sos_button"], "smoke_alarm", "smoke")
    future = message(
        k["sos_button"], "sos_button", "sos", at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    )
    unknown = message("NO-SUCH-DEVICE", "sos_button", "sos")
    batch = orjson.dumps([good, wrong_type, future, unknown, {"v": 1}])

    async def go(p):
        return await p.gateway.submit(
            [
                mqtt_raw(batch, k["sos_button"]),
                mqtt_raw(b"{not json", k["sos_button"]),
            ]
        )

    out = run_pipeline(go)
    assert out[0].accepted == [good["id"]]
    codes = sorted(r["code"] for r in out[0].rejected + out[1].rejected)
    assert codes == ["bad_json", "clock_skew", "schema", "unknown_device", "wrong_type"]
    with db.unit_of_work() as session:
        dead = session.scalars(
            select(DeadLetter).where(DeadLetter.source.contains(k["sos_button"]))
        ).all()
    reasons = {d.code: d.reason for d in dead}
    assert "registered as sos_button" in reasons["wrong_type"]
    assert "ahead of the platform" in reasons["clock_skew"]
    assert reasons["bad_json"].startswith("not valid JSON")
    assert [a.alert_type for a in alerts_for(k["elder_id"])] == ["sos"]


def test_vitals_alert_only_when_sustained(kit) -> None:
    k = kit(need=("smart_watch",))
    watch = k["smart_watch"]
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)

    def hr(v: int, i: int) -> dict:  # type: ignore[type-arg]
        return message(
            watch, "smart_watch", "vitals", at=t0 + dt.timedelta(minutes=i), data={"heart_rate": v}
        )

    async def go(p):
        await p.gateway.submit([mqtt_raw(hr(150, 0)), mqtt_raw(hr(80, 1)), mqtt_raw(hr(142, 2))])
        before = [a.alert_type for a in alerts_for(k["elder_id"])]
        await p.gateway.submit([mqtt_raw(hr(145, 3)), mqtt_raw(hr(160, 4))])
        return before

    before = run_pipeline(go)
    assert before == []
    alerts = alerts_for(k["elder_id"])
    assert [(a.alert_type, a.severity, a.detail["values"]) for a in alerts] == [
        ("vitals", "warning", [142, 145, 160])
    ]
    with db.unit_of_work() as session:
        n = session.scalar(
            select(func.count())
            .select_from(VitalReading)
            .where(VitalReading.elder_id == k["elder_id"])
        )
    assert n == 5


def test_repeated_presses_merge_into_the_open_alert(kit) -> None:
    k = kit()

    async def go(p):
        for _ in range(3):
            await p.gateway.submit([mqtt_raw(message(k["sos_button"], "sos_button", "sos"))])

    run_pipeline(go)
    (alert,) = alerts_for(k["elder_id"])
    assert alert.count == 3
    with db.unit_of_work() as session:
        actions = session.scalars(
            select(AlertEvent.action).where(AlertEvent.alert_id == alert.id)
        ).all()
    assert actions == ["created", "repeated", "repeated"]


def test_inactivity_asks_the_elder_first_then_raises_the_alert(kit) -> None:
    from zoneinfo import ZoneInfo

    from sqlalchemy import update

    from yiyang.alarms.models import RuleSettings
    from yiyang.notifications.models import Notification
    from yiyang.pipeline.bus import BusMessage
    from yiyang.pipeline.messages import Tick
    from yiyang.registry.models import Elder

    k = kit(need=("pir_motion",))
    elder = k["elder_id"]
    with db.unit_of_work() as session:
        session.add(RuleSettings(elder_id=elder, params={"prewarn_minutes": 30}))
        # the elder is asked by SMS: give the (randomly generated) demo elder a mobile phone
        session.execute(update(Elder).where(Elder.id == elder).values(mobile_phone="13912345678"))
    tz = ZoneInfo("Asia/Shanghai")
    today = dt.datetime.now(tz).replace(hour=10, minute=0, second=0, microsecond=0)
    if today > dt.datetime.now(tz):
        today -= dt.timedelta(days=1)
    moved = today - dt.timedelta(hours=13)

    def tick(at: dt.datetime) -> BusMessage:
        return BusMessage.of(Tick(elder, at.timestamp()))

    async def go(p):
        motion = message(k["pir_motion"], "pir_motion", "motion", at=moved, data={"count": 2})
        await p.gateway.submit([mqtt_raw(motion)])
        await p.bus.publish([tick(today)])
        first = [a.alert_type for a in alerts_for(elder)]
        await p.bus.publish([tick(today + dt.timedelta(minutes=31))])
        return first

    first = run_pipeline(go)
    assert first == []  # asked the elder, no alert yet
    with db.unit_of_work() as session:
        prompts = session.scalars(
            select(Notification).where(
                Notification.elder_id == elder,
                Notification.payload["event"].as_string() == "elder.prompt",
            )
        ).all()
    assert len(prompts) == 1 and prompts[0].channel == "sms"
    (alert,) = alerts_for(elder)
    assert alert.alert_type == "inactivity" and alert.detail["hours"] >= 13
