"""MQTT transport for the gateway (paho-mqtt; see docs/adr/0006).

A persistent MQTT 5 session (clean start off, long session expiry) subscribed with QoS 1, and
*manual* acknowledgement: a PUBACK goes to the broker only after the gateway has the message
durable (stored as a dead letter or handled through the bus). If this process dies first, the
broker redelivers to the next gateway with the same client id; duplicates are dropped by
(device, message id). The receive maximum is raised so acknowledgement after storing does not
throttle throughput (the broker would otherwise keep only ~20 messages in flight).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from yiyang.devices.gateway import Gateway, RawMessage

log = logging.getLogger(__name__)
SUBSCRIPTION = "yiyang/v1/+/+/up"


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int


class MqttListener:
    def __init__(
        self,
        gateway: Gateway,
        url: str,
        client_id: str,
        *,
        max_batch: int = 500,
        in_flight: int = 4,
        session_expiry_s: int = 7 * 24 * 3600,
    ) -> None:
        self.gateway = gateway
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 1883
        self.username, self.password = parsed.username, parsed.password
        self.client_id = client_id
        self.max_batch = max_batch
        self.in_flight = in_flight
        self.session_expiry_s = session_expiry_s
        self._inbox: deque[Incoming] = deque()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = threading.Event()
        self.received = 0

    # paho's network thread -------------------------------------------------------------
    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self._inbox.append(Incoming(msg.topic, bytes(msg.payload), msg.mid, msg.qos))
        if self._loop is not None and not self._wake.is_set():
            self._loop.call_soon_threadsafe(self._wake.set)

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, reason: object, _p: object = None
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.error("MQTT connection refused: %s", reason)
            return
        client.subscribe(SUBSCRIPTION, qos=1)
        self.connected.set()
        log.info("MQTT connected to %s:%s, subscribed to %s", self.host, self.port, SUBSCRIPTION)

    def _on_disconnect(self, *_args: object) -> None:
        self.connected.clear()

    # asyncio side ----------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self.username:
            client.username_pw_set(self.username, self.password)
        client.on_message = self._on_message
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        props.ReceiveMaximum = 65535
        client.reconnect_delay_set(1, 30)
        client.connect_async(
            self.host, self.port, keepalive=30, clean_start=False, properties=props
        )
        client.loop_start()
        self._client = client
        self._task = asyncio.create_task(self._pump(), name="mqtt-pump")

    async def _pump(self) -> None:
        """Hand batches to the gateway, several in flight (the worker commits one while the
        gateway validates the next); each batch is acknowledged when it is stored."""
        in_flight = asyncio.Semaphore(self.in_flight)
        tasks: set[asyncio.Task[None]] = set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._inbox:
                batch = [
                    self._inbox.popleft() for _ in range(min(self.max_batch, len(self._inbox)))
                ]
                await in_flight.acquire()
                task = asyncio.create_task(self._store_and_ack(batch, in_flight))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    async def _store_and_ack(self, batch: list[Incoming], in_flight: asyncio.Semaphore) -> None:
        assert self._client is not None
        raws = [RawMessage("mqtt", m.topic, m.payload) for m in batch]
        try:
            while True:
                try:
                    await self.gateway.submit(raws)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Not stored, so not acknowledged: retry (the broker would redeliver after a
                    # reconnect anyway).
                    log.exception("gateway could not store an MQTT batch; retrying")
                    await asyncio.sleep(1)
            for m in batch:
                if m.qos > 0:
                    self._client.ack(m.mid, m.qos)
            self.received += len(batch)
        finally:
            in_flight.release()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
