"""The message bus between the gateway and the rule workers.

Messages are partitioned by a key (the elder's id), so one elder's messages are handled in order
by one consumer at a time and per-elder rule state needs no locks. ``publish`` returns only when
the bus guarantees the messages will be handled — the gateway acknowledges a device after that
and never before. The gateway, the rules and the store see only this interface; the embedded
``InProcessBus`` is the default (``make run``), a broker-backed bus can replace it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from yiyang.core.transient import BusClosed
from yiyang.pipeline.messages import DeviceEvent, Message, decode, encode

__all__ = ["Bus", "BusClosed", "BusMessage", "Handler", "InProcessBus", "cancel_all"]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BusMessage:
    key: int  # partition key: the elder's id
    body: bytes  # the message serialised (``messages.encode``), so any bus can carry it
    # An alarm (SOS, fall, smoke, gas): it travels in its own lane, so it never waits behind a
    # partition's backlog of ordinary telemetry. Alarms change no rule state, so handling them
    # beside the elder's partition keeps the one-writer-per-elder rule for that state.
    urgent: bool = False
    # The message itself, when the sender has it: the in-process bus hands it over as is; a
    # broker bus serialises it (``payload``).
    item: Message | None = None

    @classmethod
    def of(cls, message: Message) -> BusMessage:
        """``message`` for the bus, keyed by its elder (an urgent device event: urgent lane)."""
        return cls(message.elder, b"", isinstance(message, DeviceEvent) and message.urgent, message)

    def payload(self) -> bytes:
        return self.body if self.item is None else encode(self.item)

    def decoded(self) -> Message:
        """The message; raises ``messages.UndecodableMessage`` for bytes of another format."""
        return self.item if self.item is not None else decode(self.body)


Handler = Callable[[list[BusMessage]], Awaitable[None]]


async def cancel_all(tasks: Sequence[asyncio.Task[Any] | None]) -> None:
    """Cancel background tasks and wait until each has finished."""
    running = [t for t in tasks if t is not None]
    for task in running:
        task.cancel()
    for task in running:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def handle_until_done(handler: Handler, batch: list[BusMessage], retry_max_s: float) -> None:
    """Offer ``batch`` to the consumer until it succeeds, backing off 0.1 s doubling to
    ``retry_max_s`` (a database outage must not lose or skip the batch)."""
    delay = 0.1
    while True:
        try:
            await handler(batch)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("bus consumer failed on a batch of %d; retrying", len(batch))
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry_max_s)


class Bus(ABC):
    partitions: int

    def partition_of(self, key: int) -> int:
        return key % self.partitions

    def lane_of(self, message: BusMessage) -> int:
        """The message's partition, or lane number ``partitions`` (the urgent lane)."""
        return self.partitions if message.urgent else message.key % self.partitions

    @abstractmethod
    def subscribe(self, handler: Handler, *, max_batch: int = 500) -> None:
        """Register the consumer (before ``start``). It gets batches from one partition at a
        time; if it raises, the same batch is offered again after a pause."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def publish(self, messages: Sequence[BusMessage]) -> None:
        """Returns once the messages can no longer be lost."""

    @abstractmethod
    async def stop(self) -> None: ...


class InProcessBus(Bus):
    """Partitioned queues inside this process. A message counts as durable when the consumer
    has committed it, so ``publish`` waits for that: the device (or the MQTT broker, for a
    persistent session) keeps the message until then, and a crash loses nothing that was
    acknowledged."""

    def __init__(self, partitions: int = 4, *, retry_max_s: float = 5.0) -> None:
        self.partitions = partitions
        # one entry per publish call and partition: its messages and the future to settle
        self._queues: list[asyncio.Queue[tuple[list[BusMessage], asyncio.Future[None]]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._handler: Handler | None = None
        self._max_batch = 500
        self._retry_max_s = retry_max_s
        self._closed = False

    def subscribe(self, handler: Handler, *, max_batch: int = 500) -> None:
        self._handler, self._max_batch = handler, max_batch

    async def start(self) -> None:
        if self._handler is None:
            raise RuntimeError("subscribe a handler before starting the bus")
        self._queues = [asyncio.Queue() for _ in range(self.partitions + 1)]  # + urgent lane
        self._tasks = [
            asyncio.create_task(self._consume(q), name=f"bus-partition-{i}")
            for i, q in enumerate(self._queues)
        ]

    async def publish(self, messages: Sequence[BusMessage]) -> None:
        if self._closed or not self._queues:
            raise BusClosed("bus is not running")
        loop = asyncio.get_running_loop()
        parts: dict[int, list[BusMessage]] = {}
        for message in messages:
            parts.setdefault(self.lane_of(message), []).append(message)
        futures = []
        for partition, group in parts.items():
            fut: asyncio.Future[None] = loop.create_future()
            self._queues[partition].put_nowait((group, fut))
            futures.append(fut)
        if futures:
            await asyncio.gather(*futures)

    async def _consume(
        self, queue: asyncio.Queue[tuple[list[BusMessage], asyncio.Future[None]]]
    ) -> None:
        assert self._handler is not None
        while True:
            entries = [await queue.get()]
            size = len(entries[0][0])
            while size < self._max_batch and not queue.empty():
                entries.append(queue.get_nowait())
                size += len(entries[-1][0])
            batch = [m for group, _ in entries for m in group]
            try:
                await handle_until_done(self._handler, batch, self._retry_max_s)
            except asyncio.CancelledError:
                for _, fut in entries:
                    if not fut.done():
                        fut.set_exception(BusClosed("bus stopped while handling the message"))
                raise
            for _, fut in entries:
                if not fut.done():
                    fut.set_result(None)

    async def stop(self) -> None:
        self._closed = True
        await cancel_all(self._tasks)
        for queue in self._queues:
            while not queue.empty():
                _, fut = queue.get_nowait()
                if not fut.done():
                    fut.set_exception(BusClosed("bus stopped before the message was handled"))
        self._tasks = []
