"""The pipeline's fast paths keep their promises: the urgent lane overtakes a backlog, a batch
mixing a redelivery with new messages keeps the new ones, a worker's state cache notices
another writer, and an unacknowledged MQTT message comes back after a crash."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid

import orjson
import pytest
from sqlalchemy import func, select

from yiyang.alarms.models import Alert
from yiyang.core import db
from yiyang.devices.models import DeviceMessage
from yiyang.pipeline.bus import BusMessage, InProcessBus
from yiyang.pipeline.worker import RuleWorker

from .conftest import eventually, message, mqtt_raw, publish_as_device, run_pipeline

pytestmark = pytest.mark.pipeline


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
    from yiyang.pipeline.gateway import Gateway

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
    from yiyang.pipeline.gateway import Gateway

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
    from yiyang.pipeline.runtime import Pipeline

    settings_env(mqtt_session_expiry_s="60")
    k = kit()
    sos = message(k["sos_button"], "sos_button", "sos")
    client_id = f"yiyang-crash-{uuid.uuid4().hex[:8]}"

    async def crashing_gateway() -> None:
        p = Pipeline(mqtt_url="mqtt://127.0.0.1:1883", mqtt_client_id=client_id, loops=False)
        calls: list[int] = []

        async def broken(raws, **_kw):  # type: ignore[no-untyped-def]
            calls.append(len(raws))
            raise ConnectionRefusedError("database unreachable")  # transient: retried, never acked

        p.gateway.submit = broken  # type: ignore[method-assign]
        await p.start()
        listener = p.mqtt
        assert listener is not None
        try:
            await eventually(listener.connected.is_set)
            publish_as_device(1883, k["sos_button"], orjson.dumps(sos))
            assert await eventually(lambda: calls), "the message never reached the gateway"
        finally:
            await p.stop()  # "crash": stored nothing, acknowledged nothing

    async def restarted() -> None:
        p = Pipeline(mqtt_url="mqtt://127.0.0.1:1883", mqtt_client_id=client_id, loops=False)
        await p.start()
        try:
            await eventually(lambda: _count_alerts(k["elder_id"]), 10)
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


def _private_broker(port: int, tmp_path, extra: str = "") -> subprocess.Popen:  # type: ignore[no-untyped-def,type-arg]
    conf = tmp_path / f"mosquitto-{port}.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\n" + extra
    )
    broker = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return broker
        except OSError:
            time.sleep(0.1)
    raise AssertionError("mosquitto did not start")


@pytest.mark.mqtt
def test_the_listener_reconnects_after_the_broker_restarts(kit, tmp_path) -> None:
    """Kill the broker under a connected listener, start it again: the listener reconnects,
    subscribes again, and an SOS published afterwards becomes an alert."""
    import shutil

    from yiyang.pipeline.runtime import Pipeline

    from ..conftest import require_or_skip

    if shutil.which("mosquitto") is None:
        require_or_skip("no `mosquitto` binary", "Mosquitto")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    k = kit()
    sos = message(k["sos_button"], "sos_button", "sos")
    broker = _private_broker(port, tmp_path)

    async def main() -> None:
        p = Pipeline(mqtt_url=f"mqtt://127.0.0.1:{port}", mqtt_client_id="reconnect", loops=False)
        await p.start()
        listener = p.mqtt
        assert listener is not None
        nonlocal broker
        try:
            assert await eventually(listener.connected.is_set)
            broker.kill()
            broker.wait(5)
            assert await eventually(lambda: not listener.connected.is_set())
            broker = _private_broker(port, tmp_path)  # a fresh broker: no session kept
            assert await eventually(listener.connected.is_set, 10)  # back-off starts at 1 s
            await asyncio.sleep(0.3)  # the SUBSCRIBE goes right after CONNACK
            publish_as_device(port, k["sos_button"], orjson.dumps(sos))
            await eventually(lambda: _count_alerts(k["elder_id"]), 10)
        finally:
            await p.stop()

    try:
        asyncio.run(main())
    finally:
        broker.terminate()
        broker.wait(5)
    assert _count_alerts(k["elder_id"]) == 1


@pytest.mark.nats
def test_jetstream_worker_merges_partitions_and_keeps_each_in_order() -> None:
    """What the partitions fetched together is handled as one batch; a partition's messages
    still arrive one JetStream message after another, in order."""
    from .conftest import jetstream_bus, nats_reachable

    if reason := nats_reachable():
        from ..conftest import require_or_skip

        require_or_skip(reason, "NATS JetStream")
    calls: list[list[tuple[int, int]]] = []

    async def handler(batch: list[BusMessage]) -> None:
        calls.append([(m.key, orjson.loads(m.body)["n"]) for m in batch])
        await asyncio.sleep(0.05)  # a transaction's worth of time: the others pile up

    async def main() -> None:
        bus = jetstream_bus()
        bus.subscribe(handler)
        await bus.start()
        try:
            for n in range(6):  # six rounds, one message for each of the 4 partitions
                await bus.publish([BusMessage(k, orjson.dumps({"n": n})) for k in range(4)])
            await bus.drained(20)
        finally:
            await bus.delete_stream()
            await bus.stop()

    asyncio.run(main())
    seen = [item for call in calls for item in call]
    assert sorted(seen) == sorted((k, n) for k in range(4) for n in range(6))
    for key in range(4):
        assert [n for k, n in seen if k == key] == list(range(6))  # each partition in order
    assert len(calls) < 24 and max(len({k for k, _ in c}) for c in calls) > 1  # merged
