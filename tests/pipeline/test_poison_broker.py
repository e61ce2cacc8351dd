"""The outside audit's MQTT case end to end, through the real broker (issue #14, item 1)."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from sqlalchemy import func, select

from yiyang.core import db
from yiyang.devices.models import DeadLetter

from .conftest import message
from .test_poison import _alerts

pytestmark = pytest.mark.pipeline


@pytest.mark.mqtt
def test_poison_over_a_real_broker_is_acknowledged_and_the_sos_after_it_raised(
    kit, settings_env
) -> None:
    """The audit's case: hundreds of poison messages from one device's own credentials took
    every in-flight slot, were never acknowledged and came back after a restart, and a valid
    SOS behind them never became an alert."""
    import uuid

    from yiyang.pipeline.runtime import Pipeline

    from .conftest import eventually, publish_as_device
    from .test_transports import mqtt_reason

    if reason := mqtt_reason():
        from ..conftest import require_or_skip

        require_or_skip(reason, "MQTT broker at 127.0.0.1:1883")
    settings_env(mqtt_session_expiry_s="60")
    k = kit()
    serial = k["sos_button"]
    poison = [
        b'{"v":1,"id":"p%d","device":"FUZZ\\u0000SOS","ts":"9999-12-31T23:59:59-23:59"}' % i
        for i in range(300)
    ]
    sos = message(serial, "sos_button", "sos")
    client_id = f"yiyang-poison-{uuid.uuid4().hex[:8]}"

    def dead_count() -> int:
        with db.unit_of_work() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(DeadLetter)
                    .where(DeadLetter.source == f"yiyang/v1/devices/{serial}/up")
                )
                or 0
            )

    async def run(publish: bool) -> None:
        p = Pipeline(mqtt_url="mqtt://127.0.0.1:1883", mqtt_client_id=client_id, loops=False)
        await p.start()
        assert p.mqtt is not None
        try:
            assert await eventually(p.mqtt.connected.is_set)
            if publish:
                await asyncio.to_thread(publish_as_device, 1883, serial, *poison, orjson.dumps(sos))
                assert await eventually(lambda: _alerts(k["elder_id"]), 15)
                assert await eventually(lambda: dead_count() == 300, 15)
            else:
                await asyncio.sleep(2)  # the broker would redeliver anything unacknowledged now
            assert p.healthy()
        finally:
            await p.stop()

    asyncio.run(run(publish=True))
    asyncio.run(run(publish=False))  # same session: nothing comes back
    assert _alerts(k["elder_id"]) == [("sos", "critical")]
    assert dead_count() == 300


@pytest.mark.mqtt
def test_messages_the_broker_drops_show_in_health(kit, tmp_path) -> None:
    """What a broker discards leaves no trace with us, so /healthz shows Mosquitto's own count
    ($SYS/broker/publish/messages/dropped). Here its queue for our session holds 2 messages
    while the platform is away, and 10 are published: the count says 8."""
    import shutil

    from yiyang.pipeline.runtime import Pipeline

    from ..conftest import require_or_skip
    from .conftest import eventually, publish_as_device
    from .test_fast_paths import _private_broker

    if shutil.which("mosquitto") is None:
        require_or_skip("no `mosquitto` binary", "Mosquitto")
    k = kit()
    port = _free()
    broker = _private_broker(
        port, tmp_path, extra="sys_interval 1\nmax_queued_messages 2\nmax_packet_size 1048576\n"
    )
    url = f"mqtt://127.0.0.1:{port}"
    beats = [
        orjson.dumps(message(k["sos_button"], "sos_button", "heartbeat", battery=80))
        for _ in range(10)
    ]

    async def session() -> None:  # the first run leaves a persistent session at the broker
        p = Pipeline(mqtt_url=url, mqtt_client_id="drops", loops=False)
        await p.start()
        assert p.mqtt is not None
        try:
            assert await eventually(p.mqtt.connected.is_set)
            await asyncio.sleep(0.3)  # subscribed
        finally:
            await p.stop()

    async def back() -> tuple[int | None, int]:
        p = Pipeline(mqtt_url=url, mqtt_client_id="drops", loops=False)
        await p.start()
        assert p.mqtt is not None
        try:
            assert await eventually(p.mqtt.connected.is_set)
            await eventually(lambda: (p.health()["broker_dropped"] or 0) >= 8, 5)
            await eventually(lambda: p.mqtt is not None and p.mqtt.received >= 2, 5)
            return p.health()["broker_dropped"], p.mqtt.received
        finally:
            await p.stop()

    try:
        asyncio.run(session())
        publish_as_device(port, k["sos_button"], *beats)  # while the platform is away
        dropped, received = asyncio.run(back())
    finally:
        broker.terminate()
        broker.wait(5)
    assert (dropped, received) == (8, 2)


def _free() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
