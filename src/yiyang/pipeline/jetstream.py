"""The bus on NATS JetStream: partitions by elder, shared by any number of worker processes.

- One stream (work-queue retention, file storage) with one subject per partition,
  ``<prefix>.p.<n>``. ``publish`` puts each partition's share of a batch in one JetStream message
  and returns when JetStream has stored it: from then on it survives the gateway, the workers
  and a broker restart.
- Each partition has one durable pull consumer that every worker pulls from, with
  ``max_ack_pending = 1``: the server hands a partition's next message to whichever worker asks,
  but only once the previous one is acknowledged. So a partition is processed by one worker at a
  time, in order, with no lease protocol; N workers share the partitions by asking.
- A worker acknowledges after its transaction commits. While it works it tells the server so
  (``in_progress``) every third of ``ack_wait``; if it dies (SIGKILL), the message is redelivered
  to a survivor after ``ack_wait``. Redelivery is safe: the store drops (device, message id)
  duplicates, so nothing becomes two alerts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import nats
import orjson
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from yiyang.pipeline.bus import Bus, BusClosed, BusMessage, Handler, cancel_all, handle_until_done

log = logging.getLogger(__name__)


def encode(messages: Sequence[BusMessage]) -> bytes:
    return orjson.dumps([[m.key, orjson.Fragment(m.payload())] for m in messages])


def decode(payload: bytes) -> list[BusMessage]:
    return [BusMessage(int(k), orjson.dumps(body)) for k, body in orjson.loads(payload)]


class JetStreamBus(Bus):
    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        *,
        stream: str = "YIYANG",
        partitions: int = 16,
        ack_wait_s: float = 30.0,
        urgent_ack_wait_s: float = 3.0,
        retry_max_s: float = 5.0,
        publish_timeout_s: float = 10.0,
    ) -> None:
        self.url, self.stream, self.partitions = url, stream, partitions
        self.prefix = stream.lower()
        self.ack_wait_s, self.retry_max_s = ack_wait_s, retry_max_s
        self.urgent_ack_wait_s = min(urgent_ack_wait_s, ack_wait_s)
        self.publish_timeout_s = publish_timeout_s
        self._handler: Handler | None = None
        self._nc: Any = None
        self._js: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        # messages fetched from the partitions, waiting to be handled together
        self._ready: asyncio.Queue[tuple[int, Any, asyncio.Future[None]]] = asyncio.Queue()
        self.processed = 0

    def subject(self, partition: int) -> str:
        """Partition ``n``'s subject; number ``partitions`` is the urgent lane."""
        if partition == self.partitions:
            return f"{self.prefix}.p.urgent"
        return f"{self.prefix}.p.{partition}"

    def ack_wait_of(self, partition: int) -> float:
        """How long a fetched message waits for a worker that died before it goes to another.
        Short on the urgent lane: an alarm must not wait 30 s for a dead worker (the live ones
        report progress every third of it, so a slow transaction is not taken away)."""
        return self.urgent_ack_wait_s if partition == self.partitions else self.ack_wait_s

    def subscribe(self, handler: Handler, *, max_batch: int = 500) -> None:
        self._handler = handler  # a partition's batch is one JetStream message

    async def start(self) -> None:
        self._nc = await nats.connect(
            self.url,
            name=f"yiyang-{self.stream}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
        )
        self._js = self._nc.jetstream()
        await self.ensure_stream()
        if self._handler is not None:
            for p in range(self.partitions + 1):  # + the urgent lane
                name = "urgent" if p == self.partitions else f"p{p}"
                durable = f"{self.prefix}-worker-{name}"
                config = ConsumerConfig(
                    name=durable,
                    durable_name=durable,
                    filter_subject=self.subject(p),
                    ack_policy=AckPolicy.EXPLICIT,
                    max_ack_pending=1,
                    ack_wait=self.ack_wait_of(p),
                    max_deliver=-1,
                )
                try:  # create, or update one made with other settings (e.g. an older ack wait)
                    await self._js.add_consumer(self.stream, config=config)
                except nats.js.errors.Error as exc:
                    log.warning("consumer %s kept as it is (%r)", durable, exc)
                sub = await self._js.pull_subscribe_bind(durable=durable, stream=self.stream)
                self._tasks.append(asyncio.create_task(self._consume(p, sub), name=f"js-p{p}"))
            self._tasks.append(asyncio.create_task(self._merge(), name="js-merge"))

    async def ensure_stream(self) -> None:
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.prefix}.p.*"],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            max_age=7 * 24 * 3600,
        )
        try:
            await self._js.stream_info(self.stream)
        except NotFoundError:
            await self._js.add_stream(config)

    async def publish(self, messages: Sequence[BusMessage]) -> None:
        if self._js is None or self._nc.is_closed:
            raise BusClosed("bus is not running")
        parts: dict[int, list[BusMessage]] = defaultdict(list)
        for m in messages:
            parts[self.lane_of(m)].append(m)
        try:
            await asyncio.gather(
                *(
                    self._js.publish(self.subject(p), encode(batch), timeout=self.publish_timeout_s)
                    for p, batch in parts.items()
                )
            )
        except (NatsTimeout, nats.errors.Error) as exc:
            raise BusClosed(f"JetStream did not store the messages: {exc!r}") from exc

    async def _consume(self, partition: int, sub: Any) -> None:
        assert self._handler is not None
        while True:
            try:
                msgs = await sub.fetch(1, timeout=2)
            except NatsTimeout:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection trouble: nats-py reconnects; ask again
                log.warning("partition %d: fetch failed (%r); retrying", partition, exc)
                await asyncio.sleep(1)
                continue
            for msg in msgs:
                if partition == self.partitions:  # the urgent lane: at once, on its own
                    await self._handle([(partition, msg)])
                    continue
                done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                await self._ready.put((partition, msg, done))
                await done  # the server holds the partition's next message until this is acked

    async def _merge(self) -> None:
        """Handle what the partitions fetched at about the same time in one batch: with many
        partitions and a trickle, each JetStream message holds a message or two, and one
        transaction per message would cost the worker most of its time. Each partition has
        at most one message outstanding, so merging never reorders an elder's messages."""
        while True:
            taken = [await self._ready.get()]
            while not self._ready.empty():
                taken.append(self._ready.get_nowait())
            try:
                await self._handle([(p, m) for p, m, _ in taken])
            finally:
                for *_, done in taken:
                    if not done.done():
                        done.set_result(None)

    async def _handle(self, fetched: list[tuple[int, Any]]) -> None:
        assert self._handler is not None
        batch = [m for _, msg in fetched for m in decode(msg.data)]
        keepalive = [
            asyncio.create_task(self._keep_alive(msg, self.ack_wait_of(p))) for p, msg in fetched
        ]
        try:
            await handle_until_done(self._handler, batch, self.retry_max_s)
        except asyncio.CancelledError:
            for _, msg in fetched:
                with contextlib.suppress(Exception):
                    await msg.nak()  # stopping: let another worker have it now
            raise
        finally:
            for task in keepalive:
                task.cancel()
        await asyncio.gather(*(self._ack(partition, msg) for partition, msg in fetched))
        self.processed += len(batch)

    async def _ack(self, partition: int, msg: Any) -> None:
        for attempt in range(5):
            try:
                await msg.ack_sync(timeout=5)
                return
            except Exception as exc:  # committed but not acknowledged: redelivery is a duplicate
                log.warning(
                    "partition %d: ack failed (%r), attempt %d", partition, exc, attempt + 1
                )
                await asyncio.sleep(0.5)

    async def _keep_alive(self, msg: Any, ack_wait_s: float) -> None:
        while True:
            await asyncio.sleep(ack_wait_s / 3)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def pending(self) -> int:
        """Messages stored and not yet acknowledged (for benchmarks and health)."""
        info = await self._js.stream_info(self.stream)
        return int(info.state.messages)

    async def drained(self, timeout: float = 30.0) -> None:
        """Wait until every stored message has been handled and acknowledged."""
        deadline = asyncio.get_running_loop().time() + timeout
        while await self.pending():
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{await self.pending()} bus messages still unhandled")
            await asyncio.sleep(0.02)

    async def delete_stream(self) -> None:
        with contextlib.suppress(NotFoundError):
            await self._js.delete_stream(self.stream)

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks = []
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), 5)
