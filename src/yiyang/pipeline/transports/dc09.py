"""The DC-09 alarm receiver: TCP and UDP, in front of the gateway.

Every block is answered only after its fate is settled: an event is acknowledged once the
gateway has it durable on the bus (or, if the registry refuses it, once it is a dead letter —
then the answer is DUH). If the bus or the database cannot take it, the block gets no answer
at all and the TCP connection is closed: the panel keeps the event and resends, as DC-09
intends. Blocks arriving together are handed to the gateway together (``Coalescer``), so a
burst costs a few transactions, not one per panel.

NULL blocks (link tests, every 10 s to a few minutes per panel) carry no event. They are
acknowledged at once and counted; one per account per ``min(300 s, supervision / 3)`` goes
through the pipeline as a heartbeat, which keeps the panel's "last seen" (line supervision)
and clears an "offline" alert, without storing tens of thousands of polls a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pysiaalarm import SIAAccount
from sqlalchemy import select

from yiyang.core import db
from yiyang.core.clock import now as clock_now
from yiyang.core.transient import is_transient
from yiyang.devices import messages
from yiyang.devices.enums import DeviceType, EventKind
from yiyang.devices.models import AlarmAccount, Device
from yiyang.devices.protocols import dc09
from yiyang.pipeline.batches import isolate
from yiyang.pipeline.bus import cancel_all
from yiyang.pipeline.gateway import Gateway, Outcome, RawMessage

log = logging.getLogger(__name__)
Item = tuple[RawMessage, messages.Reading | messages.Rejection]


@dataclass(frozen=True, slots=True)
class Panel:
    serial: str
    supervision_s: int


class AccountBook:
    """DC-09 accounts known to this receiver, from the registry; refreshed every ``ttl`` seconds
    and, when an unknown account calls, at most every ``miss_every`` seconds."""

    def __init__(
        self, window: tuple[int, int] = (40, 20), ttl: float = 30.0, miss_every: float = 5.0
    ) -> None:
        self.window, self.ttl, self.miss_every = window, ttl, miss_every
        self.accounts: dict[str, SIAAccount] = {}
        self.panels: dict[str, Panel] = {}
        self.loaded_at = 0.0

    def load(self) -> None:
        """Blocking: read every account from the database."""
        accounts: dict[str, SIAAccount] = {}
        panels: dict[str, Panel] = {}
        with db.unit_of_work() as session:
            rows = session.execute(
                select(
                    AlarmAccount.account,
                    AlarmAccount.aes_key,
                    Device.serial,
                    Device.report_interval_s,
                ).join(Device, Device.id == AlarmAccount.device_id)
            )
            for r in rows:
                accounts[r.account] = SIAAccount(
                    r.account, r.aes_key or None, allowed_timeband=self.window
                )
                panels[r.account] = Panel(r.serial, r.report_interval_s)
        self.accounts, self.panels = accounts, panels
        self.loaded_at = time.monotonic()

    def stale(self, missed: bool = False) -> bool:
        age = time.monotonic() - self.loaded_at
        return age > (self.miss_every if missed else self.ttl)


class Coalescer:
    """Items that arrive while a submission is under way go together in the next one (up to
    ``max_batch``), with at most ``in_flight`` submissions at once."""

    def __init__(
        self,
        submit: Callable[[Sequence[Item]], Awaitable[list[Outcome]]],
        *,
        max_batch: int = 500,
        in_flight: int = 4,
    ) -> None:
        self.submit, self.max_batch = submit, max_batch
        self._slots = asyncio.Semaphore(in_flight)
        self._queue: deque[tuple[Item, asyncio.Future[Outcome]]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dc09-coalescer")

    async def put(self, item: Item) -> Outcome:
        fut: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append((item, fut))
        self._wake.set()
        return await fut

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self._slots.acquire()
                n = min(len(self._queue), self.max_batch)
                batch = [self._queue.popleft() for _ in range(n)]
                task = asyncio.create_task(self._one(batch))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    async def _one(self, batch: list[tuple[Item, asyncio.Future[Outcome]]]) -> None:
        try:
            await self._submit(batch)
        finally:
            self._slots.release()

    async def _submit(self, batch: list[tuple[Item, asyncio.Future[Outcome]]]) -> None:
        """One block at fault must not hold back the panels coalesced with it (``isolate``);
        a block that fails alone, or blocks the bus or database could not take just now, are
        not stored: their senders get the error, no ACK."""
        await isolate(batch, self._submit_part, _fail)

    async def _submit_part(self, part: Sequence[tuple[Item, asyncio.Future[Outcome]]]) -> None:
        try:
            outcomes = await self.submit([item for item, _ in part])
        except Exception as exc:
            if not is_transient(exc):
                raise  # split further
            for entry in part:
                await _fail(entry, exc)
            return
        for (_, fut), outcome in zip(part, outcomes, strict=True):
            if not fut.done():
                fut.set_result(outcome)

    async def stop(self) -> None:
        await cancel_all([self._task, *self._running])
        while self._queue:
            _, fut = self._queue.popleft()
            if not fut.done():
                fut.set_exception(RuntimeError("receiver stopping"))


async def _fail(entry: tuple[Item, asyncio.Future[Outcome]], exc: Exception) -> None:
    fut = entry[1]
    if not fut.done():
        fut.set_exception(exc)


class Dc09Receiver:
    def __init__(
        self,
        gateway: Gateway,
        host: str = "0.0.0.0",
        port: int = 12000,
        *,
        udp: bool = True,
        book: AccountBook | None = None,
        clock: Callable[[], dt.datetime] = clock_now,
    ) -> None:
        self.gateway, self.host, self.port, self.udp = gateway, host, port, udp
        self.book = book or AccountBook()
        self.clock = clock
        self.coalescer = Coalescer(gateway.submit_readings)
        self._server: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._forwarded: dict[str, float] = {}
        self._reloading: asyncio.Lock | None = None
        self._refreshing = False
        self.stats: dict[str, Any] = {
            "connections": 0,
            "blocks": 0,
            "ack": 0,
            "nak": 0,
            "duh": 0,
            "unanswered": 0,
            "polls": 0,
            "last_block_at": None,
        }

    async def start(self) -> None:
        self._reloading = asyncio.Lock()
        await asyncio.to_thread(self.book.load)
        self.coalescer.start()
        self._server = await asyncio.start_server(self._tcp, self.host, self.port)
        if self.udp:
            loop = asyncio.get_running_loop()
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(self.host, self.port)
            )
        log.info(
            "DC-09 receiver on %s:%d (tcp%s), %d accounts",
            self.host,
            self.port,
            "+udp" if self.udp else "",
            len(self.book.accounts),
        )

    @property
    def bound_port(self) -> int:
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        if self._udp is not None:
            self._udp.close()
        await self.coalescer.stop()

    def health(self) -> dict[str, Any]:
        last = self.stats["last_block_at"]
        return {
            "listening": self._server is not None and self._server.is_serving(),
            "port": self.port,
            "udp": self.udp,
            "accounts": len(self.book.accounts),
            **self.stats,
            "last_block_at": last.isoformat() if last else None,
        }

    # -- transports -----------------------------------------------------------------------
    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats["connections"] += 1
        buffer = bytearray()
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                buffer += data
                for text in dc09.split_blocks(buffer):
                    reply = await self.answer(text)
                    if reply is None:
                        return  # not stored: close without an answer; the panel resends
                    writer.write(reply)
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    # -- one block ------------------------------------------------------------------------
    async def answer(self, text: str) -> bytes | None:
        """The reply to one block, after whatever it carries is durable; None: not stored."""
        received = self.clock()
        self.stats["blocks"] += 1
        self.stats["last_block_at"] = received
        if self.book.stale() and not self._refreshing:
            self._refreshing = True
            task = asyncio.create_task(self._refresh())
            task.add_done_callback(lambda _t: setattr(self, "_refreshing", False))
        block = dc09.read(text, self.book.accounts, now=received)
        if block.code == "unknown_account" and self.book.stale(missed=True):
            await self._reload()
            block = dc09.read(text, self.book.accounts, now=received)
        raw = RawMessage("dc09", f"dc09:{block.account or '?'}", text.encode(), None, received)
        try:
            if block.verdict in ("nak", "duh"):
                rejection = messages.Rejection(block.code, block.reason, None, None)
                await self.coalescer.put((raw, rejection))
                return self._count(
                    block.verdict,
                    dc09.nak(block, received) if block.verdict == "nak" else dc09.duh(block),
                )
            assert block.account is not None
            panel = self.book.panels[block.account]
            if block.verdict == "poll":
                self.stats["polls"] += 1
                if self._poll_due(block.account, panel):
                    reading = self._reading(block, panel, EventKind.HEARTBEAT, {}, received)
                    await self.coalescer.put((raw, reading))
                return self._count("ack", dc09.ack(block, received))
            assert block.mapped is not None
            reading = self._reading(block, panel, block.mapped.event, block.mapped.data, received)
            outcome = await self.coalescer.put((raw, reading))
        except Exception as exc:
            self.stats["unanswered"] += 1
            log.warning("DC-09 block not stored (%s); no answer, the panel will resend", exc)
            return None
        if outcome.accepted:
            return self._count("ack", dc09.ack(block, received))
        return self._count("duh", dc09.duh(block))  # refused by the registry: a dead letter

    def _count(self, kind: str, reply: bytes) -> bytes:
        self.stats[kind] += 1
        return reply

    def _poll_due(self, account: str, panel: Panel) -> bool:
        every = min(300.0, panel.supervision_s / 3)
        now = time.monotonic()
        if now - self._forwarded.get(account, -1e9) < every:
            return False
        self._forwarded[account] = now
        return True

    def _reading(
        self,
        block: dc09.Block,
        panel: Panel,
        event: EventKind,
        data: dict[str, Any],
        received: dt.datetime,
    ) -> messages.Reading:
        at = block.at.astimezone(dt.UTC) if block.at is not None else received
        msg_id = (
            block.msg_id(received)
            if event is not EventKind.HEARTBEAT
            else (f"dc09-null-{received:%Y%m%d%H%M%S}-{block.sequence}")
        )
        return messages.Reading(msg_id, panel.serial, DeviceType.ALARM_PANEL, event, at, data)

    async def _refresh(self) -> None:
        try:
            await self._reload(force=True)
        except Exception:
            log.exception("could not refresh the DC-09 accounts; keeping the ones loaded")

    async def _reload(self, *, force: bool = False) -> None:
        assert self._reloading is not None
        async with self._reloading:
            if force or self.book.stale(missed=True):
                await asyncio.to_thread(self.book.load)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, receiver: Dc09Receiver) -> None:
        self.receiver = receiver
        self.transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.create_task(self._handle(data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, data: bytes, addr: tuple[str, int]) -> None:
        buffer = bytearray(data if b"\r" in data else data + b"\r")
        for text in dc09.split_blocks(buffer):
            reply = await self.receiver.answer(text)
            if reply is not None and self.transport is not None:
                self.transport.sendto(reply, addr)
