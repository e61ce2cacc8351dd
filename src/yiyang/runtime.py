"""What runs in the background of a Yiyang process: the device pipeline.

gateway (MQTT listener, HTTP ingest) → bus → rule worker → alerts → notification outbox, plus
the loops that drive time: the sweeper (silence rules, device health, baselines, retention),
escalation timers and the outbox dispatcher. ``yiyang serve`` starts one ``Pipeline`` with the
web app; tests and benchmarks build their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from yiyang.alarms import service as alarm_service
from yiyang.alarms import sweeper
from yiyang.alarms.repository import ParamsCache
from yiyang.alarms.worker import RuleWorker
from yiyang.core import db
from yiyang.core.bus import Bus, InProcessBus
from yiyang.core.clock import local_zone
from yiyang.core.clock import now as clock_now
from yiyang.core.config import get_settings
from yiyang.devices import telemetry
from yiyang.devices.gateway import Gateway
from yiyang.devices.mqtt import MqttListener
from yiyang.notifications import dispatcher

log = logging.getLogger(__name__)


def default_partitions() -> int:
    configured = get_settings().bus_partitions
    if configured:
        return configured
    return 1 if db.get_engine().dialect.name == "sqlite" else 4


class Pipeline:
    def __init__(
        self,
        bus: Bus | None = None,
        *,
        mqtt_url: str | None = None,
        mqtt_client_id: str | None = None,
        loops: bool = True,
        clock: Callable[[], dt.datetime] = clock_now,
    ) -> None:
        settings = get_settings()
        self.clock = clock
        self.bus = bus or InProcessBus(default_partitions())
        self.worker = RuleWorker(clock=clock)
        self.gateway = Gateway(
            self.bus,
            clock=clock,
            max_future=dt.timedelta(minutes=settings.ingest_max_future_minutes),
            max_past=dt.timedelta(hours=settings.ingest_max_past_hours),
        )
        self.mqtt_url = settings.mqtt_url if mqtt_url is None else mqtt_url
        self.mqtt_client_id = mqtt_client_id or settings.mqtt_client_id
        self.mqtt: MqttListener | None = None
        self.loops = loops
        self.params = ParamsCache()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_hour: int | None = None
        self._last_day: dt.date | None = None

    async def start(self) -> None:
        self.bus.subscribe(self.worker.handle)
        await self.bus.start()
        if self.mqtt_url:
            self.mqtt = MqttListener(
                self.gateway,
                self.mqtt_url,
                self.mqtt_client_id,
                session_expiry_s=get_settings().mqtt_session_expiry_s,
            )
            await self.mqtt.start()
        if self.loops:
            s = get_settings()
            self._every(s.sweep_seconds, self.sweep, "sweeper")
            self._every(s.escalation_seconds, self.escalate, "escalation")
            self._every(2.0, self.send_notifications, "notifications")

    def _every(self, seconds: float, job: Callable[[], Awaitable[object]], name: str) -> None:
        async def loop() -> None:
            while True:
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s failed; next run in %.0f s", name, seconds)
                await asyncio.sleep(seconds)

        self._tasks.append(asyncio.create_task(loop(), name=name))

    async def sweep(self, now: dt.datetime | None = None) -> int:
        """Publish ticks and device-silence notices; once a day, baselines and retention."""
        now = now or self.clock()
        local = now.astimezone(local_zone())
        routine = self._last_hour != local.hour
        self._last_hour = local.hour

        def collect() -> list:
            with db.unit_of_work() as session:
                out = sweeper.tick_messages(session, now, routine=routine)
                if self._last_day != local.date():
                    out += sweeper.baseline_messages(session, local.date())
                    telemetry.prune(session, now, get_settings().retention_days)
                return out

        batch = await asyncio.to_thread(collect)
        self._last_day = local.date()
        for i in range(0, len(batch), 2000):
            await self.bus.publish(batch[i : i + 2000])
        return len(batch)

    async def escalate(self, now: dt.datetime | None = None) -> int:
        moment = now or self.clock()

        def run() -> int:
            with db.unit_of_work() as session:
                return alarm_service.escalate_due(session, self.params, moment)

        return await asyncio.to_thread(run)

    async def send_notifications(self) -> dict[str, int]:
        return await asyncio.to_thread(dispatcher.run_once)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.mqtt is not None:
            await self.mqtt.stop()
        await self.bus.stop()
