"""The pipeline's fast paths keep their promises: the urgent lane overtakes a backlog, a batch
mixing a redelivery with new messages keeps the new ones, a worker's state cache notices
another writer, and an unacknowledged MQTT message comes back after a crash."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from sqlalchemy import func, select

from yiyang.alarms.models import Alert
from yiyang.alarms.worker import RuleWorker
from yiyang.core import db
from yiyang.core.bus import BusMessage, InProcessBus
from yiyang.devices.models import DeviceMessage

from .conftest import message, mqtt_raw, run_pipeline


def test_urgent_lane_is_handled_while_a_partition_is_busy() -> None:
    order: list[str] = []
    release = asyncio.Event()

    async def handler(batch: list[BusMessage]) -> None:
        if batch[0].urgent:
            order.append("urgent")
            release.set()  # the ordinary batch may finish only after the alarm was handled
            return
        await release.wait()
        order.append(f"ordinary x{len(batch)}")

    async def main() -> None:
        bus = InProcessBus(partitions=2)
        bus.subscribe(handler)
        await bus.start()

        async def alarm_later() -> None:
            await asyncio.sleep(0.05)  # the partition is stuck on its batch by now
            await bus.publish([BusMessage(2, b"{}", urgent=True)])

        try:
            telemetry = bus.publish([BusMessage(2, b"{}") for _ in range(5)])
            await asyncio.wait_for(asyncio.gather(telemetry, alarm_later()), 3)
        finally:
            await bus.stop()

    asyncio.run(main())
    assert order == ["urgent", "ordinary x5"]


def test_gateway_sends_alarms_in_the_urgent_lane_and_telemetry_by_elder(kit) -> None:
    from yiyang.devices.gateway import Gateway

    k = kit(need=("sos_button", "pir_motion"))
    seen: list[BusMessage] = []

    class Recorder(InProcessBus):
        async def publish(self, messages):  # type: ignore[no-untyped-def]
            seen.extend(messages)

    gateway = Gateway(Recorder())
    sos = message(k["sos_button"], "sos_button", "sos")
    motion = message(k["pir_motion"], "pir_motion", "motion", data={"count": 2})
    asyncio.run(gateway.submit([mqtt_raw(sos), mqtt_raw(motion)]))
    assert [(m.key, m.urgent) for m in seen] == [(k["elder_id"], True), (k["elder_id"], False)]


def test_a_redelivery_inside_a_large_batch_keeps_the_new_messages(kit) -> None:
    k = kit(need=("pir_motion",))
    serial = k["pir_motion"]
    old = message(serial, "pir_motion", "motion", data={"count": 1})
    new = [message(serial, "pir_motion", "motion", data={"count": 1}) for _ in range(40)]

    async def go(p):  # type: ignore[no-untyped-def]
        await p.gateway.submit([mqtt_raw(old)])
        await p.gateway.submit([mqtt_raw(m) for m in [*new[:20], old, *new[20:]]])

    run_pipeline(go)
    with db.unit_of_work() as session:
        stored = session.scalars(
            select(DeviceMessage.msg_id).where(DeviceMessage.device_id.in_(_device_ids([serial])))
        ).all()
    assert sorted(stored) == sorted([old["id"]] + [m["id"] for m in new])


def _device_ids(serials: list[str]) -> list[int]:
    from yiyang.devices.models import Device

    with db.unit_of_work() as session:
        return list(session.scalars(select(Device.id).where(Device.serial.in_(serials))))


def test_state_cache_sees_a_change_made_by_another_worker(kit) -> None:
    """Three high heart rates in a row raise a vitals alert; the middle one goes through a
    second worker (as after a partition moved), so the first must not trust its cache."""
    k = kit(need=("smart_watch",))
    serial = k["smart_watch"]
    from yiyang.devices.gateway import Gateway

    items: list[dict] = []  # type: ignore[type-arg]

    class Capture(InProcessBus):
        async def publish(self, messages):  # type: ignore[no-untyped-def]
            items.extend(m.decoded() for m in messages)

    readings = [
        message(serial, "smart_watch", "vitals", data={"heart_rate": 150}) for _ in range(3)
    ]
    asyncio.run(Gateway(Capture()).submit([mqtt_raw(r) for r in readings]))
    first, second = RuleWorker(), RuleWorker()
    assert first.process([items[0]]) == 0
    assert second.process([items[1]]) == 0
    assert first.process([items[2]]) == 1  # saw the second worker's reading
    with db.unit_of_work() as session:
        alerts = session.scalars(select(Alert).where(Alert.elder_id == k["elder_id"])).all()
    assert [(a.alert_type, a.detail["values"]) for a in alerts] == [("vitals", [150, 150, 150])]


@pytest.mark.mqtt
def test_an_unacknowledged_mqtt_message_comes_back_after_a_crash(kit, settings_env) -> None:
    from .test_transports import mqtt_reason

    if reason := mqtt_reason():
        from ..conftest import require_or_skip

        require_or_skip(reason, "MQTT broker at 127.0.0.1:1883")
    import paho.mqtt.client as paho

    from yiyang.runtime import Pipeline

    settings_env(mqtt_session_expiry_s="60")
    k = kit()
    sos = message(k["sos_button"], "sos_button", "sos")
    client_id = f"yiyang-crash-{uuid.uuid4().hex[:8]}"

    async def crashing_gateway() -> None:
        p = Pipeline(mqtt_url="mqtt://127.0.0.1:1883", mqtt_client_id=client_id, loops=False)
        calls: list[int] = []

        async def broken(raws, **_kw):  # type: ignore[no-untyped-def]
            calls.append(len(raws))
            raise RuntimeError("database unreachable")

        p.gateway.submit = broken  # type: ignore[method-assign]
        await p.start()
        listener = p.mqtt
        assert listener is not None
        try:
            for _ in range(50):
                if listener.connected.is_set():
                    break
                await asyncio.sleep(0.1)
            pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"d-{uuid.uuid4().hex}")
            pub.connect("127.0.0.1", 1883)
            pub.loop_start()
            topic = f"yiyang/v1/devices/{k['sos_button']}/up"
            pub.publish(topic, orjson.dumps(sos), qos=1).wait_for_publish(5)
            pub.loop_stop()
            pub.disconnect()
            for _ in range(50):
                if calls:
                    break
                await asyncio.sleep(0.1)
            assert calls, "the message never reached the gateway"
        finally:
            await p.stop()  # "crash": stored nothing, acknowledged nothing

    async def restarted() -> None:
        p = Pipeline(mqtt_url="mqtt://127.0.0.1:1883", mqtt_client_id=client_id, loops=False)
        await p.start()
        try:
            for _ in range(100):
                if _count_alerts(k["elder_id"]):
                    break
                await asyncio.sleep(0.1)
        finally:
            await p.stop()

    asyncio.run(crashing_gateway())
    assert _count_alerts(k["elder_id"]) == 0
    asyncio.run(restarted())
    assert _count_alerts(k["elder_id"]) == 1


def _count_alerts(elder_id: int) -> int:
    with db.unit_of_work() as session:
        query = select(func.count()).select_from(Alert).where(Alert.elder_id == elder_id)
        return int(session.scalar(query) or 0)
