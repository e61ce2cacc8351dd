"""MQTT transport for the gateway: an asyncio MQTT 5 subscriber (see docs/adr/0010).

A persistent session (clean start off, long session expiry) subscribed with QoS 1, and
acknowledgement *after storing*: a batch's PUBACKs go to the broker only once the gateway has
it durable (stored as dead letters or handled through the bus). If this process dies first, the
broker redelivers to the next gateway with the same client id; duplicates are dropped by
(device, message id). Receive Maximum is 65,535 so acknowledging after storing does not throttle
throughput (brokers otherwise keep only ~20 messages in flight).

Why not paho: it costs ~80 µs of CPU per QoS-1 message on this 2-core machine (its network
thread builds an object per packet and wakes itself for every acknowledgement), more than the
whole validation path. This subscriber parses the few packets a subscriber sees (CONNACK,
SUBACK, PUBLISH, PINGRESP, DISCONNECT) straight off the socket and writes a batch's PUBACKs in
one call: ~6 µs per message. The framing rules are pure functions below, unit-tested.

TLS: ``mqtts://host:8883`` wraps the same connection in asyncio's ssl (``create_connection(...,
ssl=context)``): the broker's certificate must chain to the CA file (or, without one, to the
system's trust store) and name the host in the URL. A client certificate and key are sent when
the broker asks for them (``require_certificate true``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import ssl
import threading
from collections import deque
from typing import cast
from urllib.parse import unquote, urlparse

from yiyang.core.clock import now as clock_now
from yiyang.pipeline.gateway import Gateway, RawMessage

log = logging.getLogger(__name__)
SUBSCRIPTION = "yiyang/v1/+/+/up"
# Mosquitto's count of messages it dropped (queues full, or bigger than a client's maximum
# packet size): shown in /healthz, since those messages leave no other trace.
SYS_DROPPED = "$SYS/broker/publish/messages/dropped"

CONNECT, CONNACK, PUBLISH, PUBACK = 0x10, 0x20, 0x30, 0x40
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 0x82, 0x90, 0xC0, 0xD0, 0xE0
MAX_PACKET = 1 << 20  # we announce it in CONNECT; the broker drops bigger messages for us


class ProtocolError(Exception):
    pass


# -- framing (pure) ---------------------------------------------------------------------------


def varint(n: int) -> bytes:
    """MQTT's variable byte integer."""
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(buf: bytes, pos: int) -> tuple[int, int] | None:
    """(value, position after it), or None if ``buf`` ends first."""
    value, shift = 0, 0
    while True:
        if pos >= len(buf):
            return None
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise ProtocolError("malformed remaining length")


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def connect_packet(
    client_id: str,
    *,
    keepalive: int,
    session_expiry_s: int,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    flags = 0x00  # clean start off: resume the session and its queued messages
    payload = _utf8(client_id)
    if username is not None:
        flags |= 0x80
        payload += _utf8(username)
    if password is not None:
        flags |= 0x40
        payload += _utf8(password)
    props = (
        b"\x11"
        + session_expiry_s.to_bytes(4, "big")  # session expiry interval
        + b"\x21"
        + (65535).to_bytes(2, "big")  # receive maximum
        + b"\x27"
        + MAX_PACKET.to_bytes(4, "big")  # maximum packet size
    )
    body = (
        _utf8("MQTT")
        + bytes([5, flags])
        + keepalive.to_bytes(2, "big")
        + varint(len(props))
        + props
        + payload
    )
    return bytes([CONNECT]) + varint(len(body)) + body


def subscribe_packet(packet_id: int, topic: str, qos: int = 1) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"\x00" + _utf8(topic) + bytes([qos])
    return bytes([SUBSCRIBE]) + varint(len(body)) + body


def pubacks(packet_ids: list[int]) -> bytes:
    """PUBACKs (success, no properties: the two-byte form) for many messages at once."""
    return b"".join(b"\x40\x02" + pid.to_bytes(2, "big") for pid in packet_ids)


def split_packets(buf: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Complete packets in ``buf`` as (first byte, body), and the incomplete rest."""
    out = []
    pos, size = 0, len(buf)
    while pos + 2 <= size:
        got = read_varint(buf, pos + 1)
        if got is None:
            break
        length, start = got
        end = start + length
        if end > size:
            break
        out.append((buf[pos], buf[start:end]))
        pos = end
    return out, buf[pos:]


def parse_publish(first: int, body: bytes) -> tuple[str, bytes, int, int]:
    """(topic, payload, packet id or 0, qos) of an MQTT 5 PUBLISH body."""
    qos = (first >> 1) & 3
    tlen = int.from_bytes(body[0:2], "big")
    topic = body[2 : 2 + tlen].decode("utf-8", errors="replace")
    pos = 2 + tlen
    pid = 0
    if qos:
        pid = int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
    got = read_varint(body, pos)
    if got is None:
        raise ProtocolError("PUBLISH without properties length")
    plen, pos = got
    return topic, body[pos + plen :], pid, qos


def tls_context(
    ca_file: str | None = None, cert_file: str | None = None, key_file: str | None = None
) -> ssl.SSLContext:
    """A client context that verifies the broker: its chain (to ``ca_file``, or the system's
    trust store) and its name (``check_hostname``). Unreadable files raise here, at start-up."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file or None)
    if cert_file:
        context.load_cert_chain(cert_file, key_file or None)
    elif key_file:
        raise ValueError("an MQTT client key needs its certificate (YIYANG_MQTT_CERT_FILE)")
    return context


# -- the connection ---------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    def __init__(self, listener: MqttListener) -> None:
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # not an isinstance check: uvloop's transports (under uvicorn) do not subclass asyncio's
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.listener.connect_bytes())

    def data_received(self, data: bytes) -> None:
        self.listener.last_heard = asyncio.get_running_loop().time()
        try:
            packets, self.buf = split_packets(self.buf + data if self.buf else data)
            if len(self.buf) > MAX_PACKET + 8:
                raise ProtocolError("packet larger than the announced maximum")
            self.listener.on_packets(self, packets)
        except ProtocolError as exc:
            log.error("MQTT protocol error from the broker: %s; reconnecting", exc)
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:  # e.g. a TLS alert: the broker refused our client certificate
            log.warning("MQTT connection closed: %s", exc)
        if not self.closed.done():
            self.closed.set_result(None)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


class MqttListener:
    def __init__(
        self,
        gateway: Gateway,
        url: str,
        client_id: str,
        *,
        max_batch: int = 500,
        in_flight: int = 256,
        session_expiry_s: int = 7 * 24 * 3600,
        keepalive: int = 30,
        linger_s: float = 0.005,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
    ) -> None:
        self.gateway = gateway
        parsed = urlparse(url)
        if parsed.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, not {url!r}")
        self.tls: ssl.SSLContext | None = None
        if parsed.scheme == "mqtts":
            self.tls = tls_context(ca_file, cert_file, key_file)
        elif ca_file or cert_file or key_file:
            # a CA or client certificate asks for TLS: never fall back to plain TCP silently
            raise ValueError("MQTT TLS files are set but the URL is mqtt://; use mqtts://")
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or (8883 if self.tls else 1883)
        self.username = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.client_id = client_id
        self.max_batch = max_batch
        self.in_flight = in_flight
        self.session_expiry_s = session_expiry_s
        self.keepalive = keepalive
        self.linger_s = linger_s
        # (connection, raw message, packet id, qos) waiting for the gateway
        self._inbox: deque[tuple[_Connection, RawMessage, int, int]] = deque()
        self._wake = asyncio.Event()
        self._conn: _Connection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = threading.Event()  # read by tests and benchmarks from other threads
        self.last_heard = 0.0
        self.received = 0
        self.broker_dropped: int | None = None  # Mosquitto's $SYS count, when it tells us

    def connect_bytes(self) -> bytes:
        return connect_packet(
            self.client_id,
            keepalive=self.keepalive,
            session_expiry_s=self.session_expiry_s,
            username=self.username,
            password=self.password,
        )

    # packets from the broker ---------------------------------------------------------------
    def on_packets(self, conn: _Connection, packets: list[tuple[int, bytes]]) -> None:
        at = None
        for first, body in packets:
            kind = first & 0xF0
            if kind == PUBLISH:
                topic, payload, pid, qos = parse_publish(first, body)
                if topic.startswith("$SYS/"):
                    self._on_sys(conn, topic, payload, pid, qos)
                    continue
                if at is None:
                    at = clock_now()
                self._inbox.append((conn, RawMessage("mqtt", topic, payload, None, at), pid, qos))
            elif kind == CONNACK:
                self._on_connack(conn, body)
            elif kind == SUBACK:
                topic = SUBSCRIPTION if body[:2] == b"\x00\x01" else SYS_DROPPED
                codes = body[2:]
                got = read_varint(codes, 0)
                granted = codes[got[1] + got[0] :] if got else b""
                if any(c >= 0x80 for c in granted):
                    level = logging.ERROR if topic == SUBSCRIPTION else logging.INFO
                    log.log(level, "MQTT subscription to %s refused: %s", topic, granted.hex())
                else:
                    log.info("MQTT subscribed to %s", topic)
            elif kind == DISCONNECT:
                reason = body[0] if body else 0
                log.warning("MQTT broker disconnected us (reason 0x%02x)", reason)
            elif kind == PINGRESP:
                pass
            else:
                log.debug("MQTT packet 0x%02x ignored", first)
        if self._inbox and not self._wake.is_set():
            self._wake.set()

    def _on_connack(self, conn: _Connection, body: bytes) -> None:
        reason = body[1] if len(body) > 1 else 0
        if reason >= 0x80:
            log.error(
                "MQTT connection refused by %s:%s (reason 0x%02x)", self.host, self.port, reason
            )
            if conn.transport is not None:
                conn.transport.close()
            return
        conn.write(subscribe_packet(1, SUBSCRIPTION, qos=1))
        conn.write(subscribe_packet(2, SYS_DROPPED, qos=0))
        self._conn = conn
        self.connected.set()
        log.info(
            "MQTT connected to %s:%s%s (session present: %s)",
            self.host,
            self.port,
            " over TLS" if self.tls else "",
            body[0] & 1,
        )

    def _on_sys(self, conn: _Connection, topic: str, payload: bytes, pid: int, qos: int) -> None:
        if topic == SYS_DROPPED:
            with contextlib.suppress(ValueError):
                self.broker_dropped = int(payload.strip() or b"0")
        if qos:
            conn.write(pubacks([pid]))

    # asyncio side ----------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="mqtt-connection"),
            asyncio.create_task(self._pump(), name="mqtt-pump"),
        ]

    async def _run(self) -> None:
        """Connect, keep alive, reconnect with back-off (1 s doubling to 30 s)."""
        loop = asyncio.get_running_loop()
        delay = 1.0
        while True:
            try:
                _, conn = await loop.create_connection(
                    lambda: _Connection(self),
                    self.host,
                    self.port,
                    ssl=self.tls,
                    server_hostname=self.host if self.tls else None,
                    ssl_handshake_timeout=self.keepalive if self.tls else None,
                )
            except ssl.SSLError as exc:
                # the broker answers but its certificate is not trusted or does not name this
                # host (or no common protocol): configuration, not an outage, so an error
                log.error("MQTT TLS with %s:%s failed (%s)", self.host, self.port, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            except (OSError, TimeoutError) as exc:
                log.warning("MQTT broker %s:%s unreachable (%s)", self.host, self.port, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            self.last_heard = loop.time()
            try:
                while not conn.closed.done():
                    await asyncio.wait([conn.closed], timeout=self.keepalive / 2)
                    if conn.closed.done():
                        break
                    if loop.time() - self.last_heard > self.keepalive * 1.5:
                        log.warning("MQTT broker silent for %.0f s; reconnecting", self.keepalive)
                        if conn.transport is not None:
                            conn.transport.close()
                        break
                    conn.write(bytes([PINGREQ, 0]))
                if self.connected.is_set():
                    delay = 1.0
            finally:
                self.connected.clear()
                if self._conn is conn:
                    self._conn = None
                if conn.transport is not None:
                    conn.transport.close()
            log.warning("MQTT connection to %s:%s lost; reconnecting", self.host, self.port)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _pump(self) -> None:
        """Hand batches to the gateway, several in flight (the worker commits one while the
        gateway validates the next, and the bus merges what waits into bigger transactions);
        each batch is acknowledged when it is stored. Enough are in flight that an alarm
        arriving behind a backlog is validated at once and overtakes it in the urgent lane."""
        in_flight = asyncio.Semaphore(self.in_flight)
        tasks: set[asyncio.Task[None]] = set()
        while True:
            await self._wake.wait()
            if len(self._inbox) < self.max_batch and self.linger_s:
                # let a trickle gather for a few milliseconds: one gateway pass, one bus entry
                # and one write of PUBACKs per batch instead of per handful of messages
                await asyncio.sleep(self.linger_s)
            self._wake.clear()
            while self._inbox:
                await in_flight.acquire()  # before taking: what waits stays in the inbox
                batch = [
                    self._inbox.popleft() for _ in range(min(self.max_batch, len(self._inbox)))
                ]
                task = asyncio.create_task(self._store_and_ack(batch, in_flight))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    async def _store_and_ack(
        self, batch: list[tuple[_Connection, RawMessage, int, int]], in_flight: asyncio.Semaphore
    ) -> None:
        raws = [raw for _, raw, _, _ in batch]
        try:
            # Every message stored or dead-lettered (a poison message is isolated; an outage is
            # waited out): never acknowledged before, never dropped to get past it.
            await self.gateway.store(raws)
            # Acknowledge on the connection each message came on. After a reconnect the broker
            # resends what was not acknowledged (same packet id) and the duplicate is dropped
            # downstream; an acknowledgement on the new connection could name another message.
            by_conn: dict[_Connection, list[int]] = {}
            for conn, _, pid, qos in batch:
                if qos > 0:
                    by_conn.setdefault(conn, []).append(pid)
            for conn, pids in by_conn.items():
                conn.write(pubacks(pids))
            self.received += len(batch)
        finally:
            in_flight.release()

    def oldest_waiting(self) -> dt.datetime | None:
        """When the oldest message received and not yet handed to the gateway arrived."""
        return self._inbox[0][1].received_at if self._inbox else None

    async def stop(self) -> None:
        conn = self._conn
        if conn is not None:
            conn.write(bytes([DISCONNECT, 0]))  # a normal disconnect keeps the session
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.connected.clear()
