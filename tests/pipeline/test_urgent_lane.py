"""The urgent lane does not wait for a dead worker (issue #14, item 9): on JetStream its
consumer's ack wait is short (3 s), so an alarm fetched by a worker that was killed goes to a
live one within seconds, not after the 30 s the ordinary partitions allow."""

from __future__ import annotations

import asyncio
import time

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from yiyang.pipeline.bus import BusMessage

from ..conftest import require_or_skip
from .conftest import NATS_URL, jetstream_bus, nats_reachable

pytestmark = [pytest.mark.pipeline, pytest.mark.nats]


@pytest.fixture(autouse=True)
def _nats() -> None:
    if reason := nats_reachable():
        require_or_skip(reason, f"NATS JetStream at {NATS_URL}")


def test_an_alarm_held_by_a_dead_worker_reaches_a_live_one_within_seconds() -> None:
    async def main() -> tuple[float, float, float]:
        bus = jetstream_bus(urgent_ack_wait_s=3.0)
        bus.ack_wait_s = 30.0
        got: list[float] = []

        async def handler(batch: list[BusMessage]) -> None:
            got.extend(time.monotonic() for m in batch if m.urgent or m.key == 7)

        # A consumer made by an older version, with the 30 s ack wait everywhere: the new
        # start must update it, not keep it.
        nc = await nats.connect(NATS_URL)
        js = nc.jetstream()
        probe = jetstream_bus()
        probe.stream = bus.stream
        probe.prefix = bus.prefix
        probe._js = js
        await probe.ensure_stream()
        durable = f"{bus.prefix}-worker-urgent"
        await js.add_consumer(
            bus.stream,
            config=ConsumerConfig(
                name=durable,
                durable_name=durable,
                filter_subject=bus.subject(bus.partitions),
                ack_policy=AckPolicy.EXPLICIT,
                max_ack_pending=1,
                ack_wait=30.0,
                max_deliver=-1,
            ),
        )
        await js.publish(
            bus.subject(bus.partitions),
            b'[[7, {"u": true, "k": "msg", "e": 7, "id": "sos-1"}]]',
        )
        # the "worker" that dies: it fetched the alarm and will never acknowledge it
        dead = await js.pull_subscribe_bind(durable=durable, stream=bus.stream)
        (held,) = await dead.fetch(1, timeout=5)
        assert held.data
        killed = time.monotonic()
        await nc.close()  # gone, like a kill -9

        bus.subscribe(handler)
        await bus.start()
        try:
            info = await bus._js.consumer_info(bus.stream, durable)
            urgent_wait = float(info.config.ack_wait)
            ordinary = await bus._js.consumer_info(bus.stream, f"{bus.prefix}-worker-p0")
            for _ in range(150):
                if got:
                    break
                await asyncio.sleep(0.1)
            assert got, "the alarm never reached the live worker"
            return urgent_wait, float(ordinary.config.ack_wait), got[0] - killed
        finally:
            await bus.delete_stream()
            await bus.stop()

    urgent_wait, ordinary_wait, delay = asyncio.run(main())
    assert (urgent_wait, ordinary_wait) == (3.0, 30.0)
    assert delay < 10  # redelivered after the urgent lane's 3 s, not the old 30 s
