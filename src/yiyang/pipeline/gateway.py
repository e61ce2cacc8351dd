"""The gateway: raw payloads (MQTT, HTTP, replay) in, validated readings onto the bus.

It checks each message against the format and the device registry, writes every rejection to
the dead-letter store with its reason, and returns only when the good messages are durable on
the bus — so a transport may acknowledge the device exactly then. One bad message never holds
up or loses the good ones beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import insert, select

from yiyang.core import db
from yiyang.core.clock import now as clock_now
from yiyang.core.transient import is_transient
from yiyang.devices import messages
from yiyang.devices.enums import URGENT, DeviceStatus, DeviceType
from yiyang.devices.models import DeadLetter, Device, Vendor
from yiyang.pipeline.batches import isolate
from yiyang.pipeline.bus import Bus, BusMessage
from yiyang.pipeline.messages import DeviceEvent

log = logging.getLogger(__name__)
TOPIC_PREFIX = "yiyang/v1/"
DEAD_LETTER_KEEP = 64 * 1024


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    id: int
    serial: str
    device_type: DeviceType
    vendor_id: int | None
    elder_id: int | None
    status: DeviceStatus


@dataclass(slots=True)
class RawMessage:
    transport: str  # mqtt | http | replay
    source: str  # MQTT topic, or the vendor's code
    payload: bytes
    vendor_id: int | None = None  # authenticated vendor (HTTP signature, vendor topic)
    received_at: dt.datetime = field(default_factory=clock_now)


@dataclass(slots=True)
class Outcome:
    """What happened to one raw payload (it may hold a vendor's batch)."""

    accepted: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


class Directory:
    """serial → device, cached; misses and stale entries are read from the database in one
    query per batch. Bindings changed elsewhere are picked up within ``ttl`` seconds."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._cache: dict[str, tuple[float, DeviceInfo | None]] = {}
        self._vendors: dict[str, int] = {}
        self._vendors_at = 0.0

    def invalidate(self, serial: str | None = None) -> None:
        if serial is None:
            self._cache.clear()
        else:
            self._cache.pop(serial, None)

    def missing(self, serials: set[str]) -> list[str]:
        cutoff = time.monotonic() - self.ttl
        return [s for s in serials if (hit := self._cache.get(s)) is None or hit[0] < cutoff]

    def load(self, serials: Sequence[str]) -> None:
        """Blocking: read devices (and the vendor table) from the database."""
        stamp = time.monotonic()
        found: dict[str, DeviceInfo] = {}
        with db.unit_of_work() as session:
            for chunk in range(0, len(serials), 1000):
                rows = session.execute(
                    select(
                        Device.id,
                        Device.serial,
                        Device.device_type,
                        Device.vendor_id,
                        Device.elder_id,
                        Device.status,
                    ).where(Device.serial.in_(serials[chunk : chunk + 1000]))
                )
                for r in rows:
                    found[r.serial] = DeviceInfo(
                        r.id,
                        r.serial,
                        DeviceType(r.device_type),
                        r.vendor_id,
                        r.elder_id,
                        DeviceStatus(r.status),
                    )
            if stamp - self._vendors_at > self.ttl:
                self._vendors = dict(session.execute(select(Vendor.code, Vendor.id)).all())
                self._vendors_at = stamp
        for serial in serials:
            self._cache[serial] = (stamp, found.get(serial))

    def get(self, serial: str) -> DeviceInfo | None:
        hit = self._cache.get(serial)
        return hit[1] if hit else None

    def vendor_id(self, code: str) -> int | None:
        return self._vendors.get(code)


def device_event(
    info: DeviceInfo, reading: messages.Reading, received_at: dt.datetime, urgent: bool = False
) -> DeviceEvent:
    """The bus message for an accepted reading."""
    assert info.elder_id is not None
    return DeviceEvent(
        info.elder_id,
        info.id,
        reading.device_type.value,
        reading.event.value,
        reading.msg_id,
        reading.at.timestamp(),
        received_at.timestamp(),
        reading.data,
        reading.battery,
        urgent,
    )


def _text(payload: bytes) -> str:
    return storable(payload[:DEAD_LETTER_KEEP].decode("utf-8", errors="backslashreplace")) or ""


def storable(text: str | None, limit: int | None = None) -> str | None:
    """Text any database column can hold: NUL (which PostgreSQL's text cannot store) written as
    the visible escape ``\\x00``, cut to the column's length."""
    if text is None:
        return None
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    return text[:limit] if limit is not None else text


class Gateway:
    def __init__(
        self,
        bus: Bus,
        directory: Directory | None = None,
        *,
        clock: Callable[[], dt.datetime] = clock_now,
        max_future: dt.timedelta = messages.MAX_FUTURE,
        max_past: dt.timedelta = messages.MAX_PAST,
        publish_timeout: float = 30.0,
    ) -> None:
        self.bus = bus
        self.directory = directory or Directory()
        self.clock = clock
        self.max_future, self.max_past = max_future, max_past
        self.publish_timeout = publish_timeout
        self.accepted_total = 0
        self.rejected_total = 0
        self._pending: dict[int, dt.datetime] = {}  # submission → its oldest message

    def _topic_device(self, topic: str) -> tuple[str | None, str | None, str | None]:
        """(serial, vendor code, error) from an MQTT topic."""
        parts = topic.split("/")
        if len(parts) == 5 and topic.startswith(TOPIC_PREFIX) and parts[4] == "up":
            if parts[2] == "devices":
                return parts[3], None, None
            if parts[2] == "vendors":
                return None, parts[3], None
        return (
            None,
            None,
            f"topic '{topic[:120]}' is not yiyang/v1/devices/<serial>/up"
            " or yiyang/v1/vendors/<code>/up",
        )

    async def submit(self, raws: Sequence[RawMessage], *, report: bool = True) -> list[Outcome]:
        """Validate, dead-letter the bad, publish the good; returns when all is durable, with
        what happened to each payload (``report=False``: nothing, for MQTT, which only acks)."""
        now = self.clock()
        batch = _Batch(len(raws))
        with self._tracking(batch, raws):
            for i, raw in enumerate(raws):
                self._validate(batch, i, raw, now)
            await self._accept(batch)
        return batch.outcomes() if report else []

    @contextlib.contextmanager
    def _tracking(self, key: object, raws: Sequence[RawMessage]) -> Iterator[None]:
        """Count the submission's oldest message as not yet stored until it returns."""
        if raws:
            self._pending[id(key)] = min(r.received_at for r in raws)
        try:
            yield
        finally:
            self._pending.pop(id(key), None)

    async def store(self, raws: Sequence[RawMessage], *, retry_max_s: float = 5.0) -> None:
        """Submit until every payload is stored: accepted onto the bus or kept as a dead letter.

        A transient failure (database or bus away) is retried with back-off for as long as it
        lasts. Any other failure of a batch splits it in halves, so the payload at fault is
        found and dead-lettered on its own (and logged) while the rest go through; nothing is
        dropped to get past it. Returns only when all of ``raws`` is durable, so a transport
        may acknowledge them all then."""
        if not raws:
            return
        with self._tracking(object(), raws):
            await isolate(
                list(raws),
                self._submit_quietly,
                self._store_poison,
                retry_max_s=retry_max_s,
                what="messages",
            )

    async def _store_poison(self, raw: RawMessage, exc: Exception) -> None:
        log.error(
            "a %s payload from %r cannot be stored; kept as a dead letter",
            raw.transport,
            raw.source[:120],
            exc_info=exc,
        )
        await asyncio.to_thread(_store_poison, raw, exc)
        self.rejected_total += 1

    async def _submit_quietly(self, raws: Sequence[RawMessage]) -> None:
        await self.submit(raws, report=False)

    def _validate(self, batch: _Batch, i: int, raw: RawMessage, now: dt.datetime) -> None:
        """One payload's messages into ``batch``: candidates, or rejections. Validation is pure
        and should never raise; if it does anyway (a bug), that payload alone is dead-lettered
        with the error's name, and the others go on."""
        try:
            decoded = messages.decode(raw.payload)
            if isinstance(decoded, messages.Rejection):
                batch.reject(i, raw, decoded, raw.payload)
                return
            for obj in decoded:
                reading = messages.validate(
                    obj, now=now, max_future=self.max_future, max_past=self.max_past
                )
                if isinstance(reading, messages.Rejection):
                    batch.reject(i, raw, reading, _dump(obj, raw.payload))
                    continue
                batch.candidates.append((i, raw, reading))
        except Exception as exc:
            log.exception("validating a %s payload from %r failed", raw.transport, raw.source)
            batch.drop(i)
            batch.reject(i, raw, processing_error(exc), raw.payload)

    def oldest_pending(self) -> dt.datetime | None:
        """When the oldest message this gateway is handling right now was received."""
        return min(self._pending.values(), default=None)

    async def submit_readings(
        self, items: Sequence[tuple[RawMessage, messages.Reading | messages.Rejection]]
    ) -> list[Outcome]:
        """For transports that decode their own protocol (DC-09): readings already built, or
        the protocol's rejection; the registry checks, dead letters and durability as above."""
        batch = _Batch(len(items))
        with self._tracking(batch, [raw for raw, _ in items]):
            for i, (raw, reading) in enumerate(items):
                if isinstance(reading, messages.Rejection):
                    batch.reject(i, raw, reading, raw.payload)
                else:
                    batch.candidates.append((i, raw, reading))
            await self._accept(batch)
        return batch.outcomes()

    async def _accept(self, batch: _Batch) -> None:
        serials = {reading.serial for _, _, reading in batch.candidates}
        missing = self.directory.missing(serials)
        if missing:
            await asyncio.to_thread(self.directory.load, missing)

        published: list[BusMessage] = []
        accepted = batch.accepted
        for i, raw, reading in batch.candidates:
            rej = self._check(raw, reading)
            if rej is not None:
                batch.reject(i, raw, rej, orjson.dumps(_wire(reading)))
                continue
            info = self.directory.get(reading.serial)
            assert info is not None and info.elder_id is not None
            urgent = reading.event in URGENT
            published.append(BusMessage.of(device_event(info, reading, raw.received_at, urgent)))
            accepted.append((i, reading.msg_id))

        if batch.dead:
            await asyncio.to_thread(store_dead_letters, [row for _, row in batch.dead])
            self.rejected_total += len(batch.dead)
        if published:
            await asyncio.wait_for(self.bus.publish(published), self.publish_timeout)
            self.accepted_total += len(published)

    def _check(self, raw: RawMessage, r: messages.Reading) -> messages.Rejection | None:
        info = self.directory.get(r.serial)
        if info is None:
            return messages.Rejection(
                "unknown_device", f"device '{r.serial}' is not registered", r.serial, r.msg_id
            )
        if raw.transport == "mqtt":
            serial, vendor_code, error = self._topic_device(raw.source)
            if error:
                return messages.Rejection("bad_topic", error, r.serial, r.msg_id)
            if serial is not None and serial != r.serial:
                return messages.Rejection(
                    "not_authorised",
                    f"topic belongs to device '{serial}', the message names '{r.serial}'",
                    r.serial,
                    r.msg_id,
                )
            if vendor_code is not None:
                vendor_id = self.directory.vendor_id(vendor_code)
                if vendor_id is None or vendor_id != info.vendor_id:
                    return messages.Rejection(
                        "not_authorised",
                        f"device '{r.serial}' does not belong to vendor '{vendor_code}'",
                        r.serial,
                        r.msg_id,
                    )
        elif raw.vendor_id is not None and info.vendor_id != raw.vendor_id:
            return messages.Rejection(
                "not_authorised",
                f"device '{r.serial}' does not belong to this vendor",
                r.serial,
                r.msg_id,
            )
        if info.status is DeviceStatus.RETIRED:
            return messages.Rejection(
                "device_retired", f"device '{r.serial}' is retired", r.serial, r.msg_id
            )
        if info.elder_id is None:
            return messages.Rejection(
                "not_bound", f"device '{r.serial}' is not bound to an elder", r.serial, r.msg_id
            )
        if info.device_type is not r.device_type:
            return messages.Rejection(
                "wrong_type",
                f"device '{r.serial}' is registered as {info.device_type}, "
                f"the message says {r.device_type}",
                r.serial,
                r.msg_id,
            )
        return None


class _Batch:
    """One submission: its outcomes, the dead letters so far, the readings still to check."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.accepted: list[tuple[int, str]] = []
        self.rejected: list[tuple[int, dict[str, Any]]] = []
        self.dead: list[tuple[int, dict[str, Any]]] = []  # (payload index, dead-letter row)
        self.candidates: list[tuple[int, RawMessage, messages.Reading]] = []

    def outcomes(self) -> list[Outcome]:
        out = [Outcome() for _ in range(self.n)]
        for i, msg_id in self.accepted:
            out[i].accepted.append(msg_id)
        for i, why in self.rejected:
            out[i].rejected.append(why)
        return out

    def reject(self, i: int, raw: RawMessage, rej: messages.Rejection, payload: bytes) -> None:
        self.rejected.append((i, {"id": rej.msg_id, "code": rej.code, "reason": rej.reason}))
        self.dead.append((i, dead_letter_row(raw, rej, payload)))

    def drop(self, i: int) -> None:
        """Forget what payload ``i`` produced so far (it is rejected as a whole instead)."""
        self.candidates = [c for c in self.candidates if c[0] != i]
        self.rejected = [r for r in self.rejected if r[0] != i]
        self.dead = [d for d in self.dead if d[0] != i]


def dead_letter_row(raw: RawMessage, rej: messages.Rejection, payload: bytes) -> dict[str, Any]:
    """A dead-letter row that any database stores, whatever the payload holds."""
    return {
        "received_at": raw.received_at,
        "transport": raw.transport[:8],
        "source": storable(raw.source, 255),
        "code": rej.code[:32],
        "reason": storable(rej.reason, 4000),
        "serial": storable(rej.serial, 64),
        "msg_id": storable(rej.msg_id, 64),
        "size": len(payload),
        "payload": _text(payload),
    }


def processing_error(exc: BaseException) -> messages.Rejection:
    return messages.Rejection(
        "processing_error",
        f"the platform could not process this message ({type(exc).__name__}); see the server log",
    )


def _dump(obj: Any, fallback: bytes) -> bytes:
    try:
        return orjson.dumps(obj)
    except (TypeError, orjson.JSONEncodeError):
        return fallback


def _wire(r: messages.Reading) -> dict[str, Any]:
    return {
        "v": 1,
        "id": r.msg_id,
        "device": r.serial,
        "type": r.device_type.value,
        "event": r.event.value,
        "ts": r.at.isoformat(),
        "battery": r.battery,
        "data": r.data,
    }


def _store_poison(raw: RawMessage, exc: BaseException) -> None:
    """Keep a payload that made storing fail; if even its text cannot be stored, its bytes in
    hex (plain ASCII, which any column holds)."""
    row = dead_letter_row(raw, processing_error(exc), raw.payload)
    try:
        store_dead_letters([row])
    except Exception as again:
        if is_transient(again):
            raise
        row["payload"] = raw.payload[: DEAD_LETTER_KEEP // 2].hex()
        row["source"] = row["source"].encode("ascii", "backslashreplace").decode()
        row["serial"] = row["msg_id"] = None
        store_dead_letters([row])


def store_dead_letters(rows: list[dict[str, Any]]) -> None:
    with db.unit_of_work() as session:
        session.execute(insert(DeadLetter), rows)
