"""What runs in the background of a Yiyang process: the device pipeline.

gateway (MQTT listener, DC-09 receiver, HTTP ingest) → bus → rule worker → alerts → notification
outbox, plus the loops that drive time: the sweeper (silence rules, device health, baselines,
retention), escalation timers and the outbox dispatcher.

On one machine ``yiyang serve`` runs all of it with the in-process bus. Scaled out (a JetStream
bus, docs/deploy.md) the parts run as separate processes: ``yiyang gateway`` listens
(``listen``), ``yiyang worker`` consumes (``consume``) and, in the one worker that holds the
leader lock, runs the timers (``loops="leader"``); ``yiyang serve`` then only publishes what
arrives over HTTP. Timers live in the database (escalation due times, last-seen stamps), so a
new leader carries on where a dead one stopped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from sqlalchemy import text

from yiyang.alarms import engine
from yiyang.alarms import service as alarm_service
from yiyang.alarms.repository import ParamsCache
from yiyang.checkins import service as checkins
from yiyang.core import db
from yiyang.core.clock import local_zone
from yiyang.core.clock import now as clock_now
from yiyang.core.config import get_settings
from yiyang.notifications import dispatcher
from yiyang.pipeline import sweeper, telemetry
from yiyang.pipeline.bus import Bus, InProcessBus, cancel_all
from yiyang.pipeline.gateway import Gateway
from yiyang.pipeline.transports import app
from yiyang.pipeline.transports.dc09 import AccountBook, Dc09Receiver
from yiyang.pipeline.transports.mqtt import MqttListener
from yiyang.pipeline.worker import RuleWorker

log = logging.getLogger(__name__)


LEADER_LOCK = 72_0105  # pg advisory lock id held by the worker that runs the timers


def default_partitions() -> int:
    configured = get_settings().bus_partitions
    if configured:
        return configured
    if get_settings().bus_url:
        return 16
    return 1 if db.get_engine().dialect.name == "sqlite" else 4


def tune_garbage_collector() -> None:
    """The pipeline makes and drops a few dicts per device message. With Python's default
    thresholds that meant ~80 collections a second — 13 % of the process's time — and now and
    then a full collection of every live object that stopped all threads for 150 ms, the
    longest wait an alarm saw. Collect the young generation every 50,000 allocations instead of
    700, and leave everything alive at start-up (modules, caches, the ORM) out of the scans."""
    gc.set_threshold(50_000, 20, 100)
    gc.freeze()


def make_bus() -> Bus:
    """The configured bus: JetStream when YIYANG_BUS_URL is set, else in-process."""
    s = get_settings()
    if s.bus_url:
        from yiyang.pipeline.jetstream import JetStreamBus

        return JetStreamBus(
            s.bus_url,
            stream=s.bus_stream,
            partitions=default_partitions(),
            ack_wait_s=s.bus_ack_wait_s,
            urgent_ack_wait_s=s.bus_urgent_ack_wait_s,
        )
    return InProcessBus(default_partitions())


class Leader:
    """Whether this process runs the timers. On PostgreSQL: whoever holds an advisory lock on a
    connection of its own (released by the server when the process dies); on SQLite (one
    machine, one process) always."""

    def __init__(self, recheck_s: float = 10.0) -> None:
        self.recheck_s = recheck_s
        self._conn: Any = None
        self._checked = 0.0

    def hold(self) -> bool:
        """Blocking; cheap while the lock is held and recently checked."""
        engine = db.get_engine()
        if engine.dialect.name != "postgresql":
            return True
        now = time.monotonic()
        if self._conn is not None and now - self._checked < self.recheck_s:
            return True
        self._checked = now
        try:
            if self._conn is not None:
                self._conn.execute(text("SELECT 1"))
                return True
            conn = engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK}).scalar()
            conn.commit()
            if got:
                self._conn = conn
                log.info("this process now runs the timers (leader lock held)")
                return True
            conn.close()
        except Exception:
            log.warning("leader lock check failed; not running the timers", exc_info=True)
            self.release()
        return False

    @property
    def held(self) -> bool:
        return self._conn is not None or db.get_engine().dialect.name != "postgresql"

    def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()
            except Exception:
                log.debug("closing the leader connection failed", exc_info=True)


class Pipeline:
    def __init__(
        self,
        bus: Bus | None = None,
        *,
        mqtt_url: str | None = None,
        mqtt_client_id: str | None = None,
        loops: bool | Literal["leader"] = True,
        consume: bool = True,
        listen: bool = True,
        dc09_port: int | None = None,
        clock: Callable[[], dt.datetime] = clock_now,
    ) -> None:
        settings = get_settings()
        self.clock = clock
        self.bus = bus or make_bus()
        self.consume, self.listen = consume, listen
        self.leader = Leader() if loops == "leader" else None
        self.dc09_port = settings.dc09_port if dc09_port is None else dc09_port
        self.receiver: Dc09Receiver | None = None
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
        self._swept = engine.SweepClock()  # the local hour and day of the last sweep
        self._series_hour: int | None = None

    async def start(self) -> None:
        tune_garbage_collector()
        if self.consume:
            self.bus.subscribe(self.worker.handle)
        await self.bus.start()
        if self.listen and self.dc09_port:
            s = get_settings()
            self.receiver = Dc09Receiver(
                self.gateway,
                s.dc09_host,
                self.dc09_port,
                book=AccountBook((s.dc09_window_past_s, s.dc09_window_future_s)),
                clock=self.clock,
            )
            await self.receiver.start()
        if self.listen and self.mqtt_url:
            s = get_settings()
            self.mqtt = MqttListener(
                self.gateway,
                self.mqtt_url,
                self.mqtt_client_id,
                session_expiry_s=s.mqtt_session_expiry_s,
                linger_s=s.mqtt_linger_ms / 1000,
                ca_file=s.mqtt_ca_file,
                cert_file=s.mqtt_cert_file,
                key_file=s.mqtt_key_file,
            )
            await self.mqtt.start()
        if self.loops:
            s = get_settings()
            self._every(s.sweep_seconds, self.sweep, "sweeper")
            self._every(s.escalation_seconds, self.escalate, "escalation")
            self._every(2.0, self.send_notifications, "notifications")
            self._every(60.0, self.services_tick, "services")

    def _every(self, seconds: float, job: Callable[[], Awaitable[object]], name: str) -> None:
        async def loop() -> None:
            while True:
                try:
                    if self.leader is None or await asyncio.to_thread(self.leader.hold):
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
        day_before = self._swept.day
        routine, baselines = engine.sweep_due(self._swept, now, local_zone())

        def collect() -> list:
            with db.unit_of_work() as session:
                out = sweeper.tick_messages(session, now, routine=routine)
                out += app.messages(session, now)  # away / back said in the app (presence)
                if baselines:
                    out += sweeper.baseline_messages(session, local.date())
                    telemetry.prune(session, now, get_settings().retention_days)
                return out

        try:
            batch = await asyncio.to_thread(collect)
        except BaseException:
            self._swept.day = day_before  # learn the baselines on the next sweep instead
            raise
        for i in range(0, len(batch), 2000):
            await self.bus.publish(batch[i : i + 2000])
        return len(batch)

    async def escalate(self, now: dt.datetime | None = None) -> int:
        moment = now or self.clock()

        def run() -> int:
            with db.unit_of_work() as session:
                done = alarm_service.escalate_due(session, self.params, moment)
            # check-in tasks unanswered by their due time become operator alarms (own
            # transaction: one failing does not hold the other back)
            with db.unit_of_work() as session:
                done += checkins.escalate_due(session, self.params, moment)
            return done

        return await asyncio.to_thread(run)

    async def services_tick(self, now: dt.datetime | None = None) -> dict[str, int]:
        """Home services' timers: unaccepted assignments, missing check-outs, recurring
        orders (hourly)."""
        from yiyang.services.timers import tick

        moment = now or self.clock()
        hour = moment.astimezone(local_zone()).hour
        series = self._series_hour != hour
        self._series_hour = hour

        def run() -> dict[str, int]:
            with db.unit_of_work() as session:
                return tick(session, moment, series=series)

        return await asyncio.to_thread(run)

    async def send_notifications(self) -> dict[str, int]:
        return await asyncio.to_thread(dispatcher.run_once)

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks = []
        if self.mqtt is not None:
            await self.mqtt.stop()
        if self.receiver is not None:
            await self.receiver.stop()
        await self.bus.stop()
        if self.leader is not None:
            self.leader.release()

    def unstored_age(self) -> float | None:
        """Seconds since the oldest message received here and not yet stored arrived."""
        stamps = [self.gateway.oldest_pending()]
        if self.mqtt is not None:
            stamps.append(self.mqtt.oldest_waiting())
        oldest = min((s for s in stamps if s is not None), default=None)
        return None if oldest is None else (clock_now() - oldest).total_seconds()

    def healthy(self) -> bool:
        """Listeners up and intake moving (what a load balancer should route by)."""
        health = self.health()
        return bool(
            health.get("mqtt_connected", True)
            and health.get("dc09", {}).get("listening", True)
            and not health["stalled"]
        )

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "bus": type(self.bus).__name__,
            "accepted": self.gateway.accepted_total,
            "rejected": self.gateway.rejected_total,
            "processed": self.worker.processed,
        }
        if self.mqtt is not None:
            out["mqtt_connected"] = self.mqtt.connected.is_set()
            out["broker_dropped"] = self.mqtt.broker_dropped
        age = self.unstored_age()
        out["oldest_unstored_s"] = None if age is None else round(age, 1)
        out["stalled"] = age is not None and age > get_settings().health_max_unstored_s
        if self.receiver is not None:
            out["dc09"] = self.receiver.health()
        if self.leader is not None:
            out["runs_timers"] = self.leader.held
        return out


async def serve_health(pipeline: Pipeline, port: int, host: str = "0.0.0.0") -> asyncio.Server:
    """A minimal HTTP responder for load balancers: ``GET /healthz`` → the pipeline's health
    as JSON, 200 while its listeners run, 503 when one is down."""
    import orjson

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            health = pipeline.health()
            up = pipeline.healthy()
            ok = request.startswith(b"GET /healthz")
            status = (
                "200 OK" if ok and up else ("503 Service Unavailable" if ok else "404 Not Found")
            )
            body = orjson.dumps({"ok": bool(ok and up), "pipeline": health})
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
        ):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(respond, host, port)
