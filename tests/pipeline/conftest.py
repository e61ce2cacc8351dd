"""Pipeline tests run the real gateway → bus → worker → store path against their own database
(SQLite file, and PostgreSQL when reachable), committed for real: the worker uses its own
sessions from threads, so the per-test rollback of the API tests does not apply. Each test uses
its own elders, so tests do not see each other's alerts."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import socket
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import orjson
import pytest
from sqlalchemy import Engine, select

from yiyang.core import db
from yiyang.core.migrate import upgrade
from yiyang.pipeline.gateway import RawMessage
from yiyang.pipeline.runtime import Pipeline

from ..conftest import require_or_skip, temporary_pg_database

ELDERS = 900  # enough unused elders for every test that claims a kit, on both buses


def _seed(engine: Engine) -> None:
    from yiyang.demo.load import load

    upgrade(engine)
    db.set_engine(engine)
    with db.unit_of_work() as session:
        load(session, ELDERS, seed=11)


@pytest.fixture(scope="session")
def pipe_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = db.make_engine(f"sqlite:///{tmp_path_factory.mktemp('pipe') / 'p.db'}")
    _seed(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pipe_pg() -> Iterator[Engine]:
    with temporary_pg_database("yiyang_pipe") as url:
        engine = db.make_engine(url)
        _seed(engine)
        yield engine
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def pipe_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    engine: Engine = request.getfixturevalue(
        {"sqlite": "pipe_sqlite", "postgres": "pipe_pg"}[request.param]
    )
    previous = db._engine
    db.set_engine(engine)
    yield engine
    if previous is not None:
        db.set_engine(previous)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Set YIYANG_* settings for one test."""
    from yiyang.core.config import get_settings

    def apply(**values: str) -> None:
        for k, v in values.items():
            monkeypatch.setenv(f"YIYANG_{k.upper()}", v)
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


_taken: set[int] = set()


@pytest.fixture
def kit(pipe_engine: Engine) -> Any:
    """Claim an unused elder with a full device kit: returns {type: serial, 'elder_id': id}."""
    from yiyang.devices.models import Device
    from yiyang.registry.models import Elder

    def claim(
        *,
        dementia: bool | None = None,
        need: tuple[str, ...] = ("sos_button",),
        contacts: bool = False,
    ) -> dict[str, Any]:
        """An elder no test has used: not claimed before, and without alerts (tests that pick
        their own elders, like the chaos test, leave alerts behind). ``contacts``: one with an
        emergency contact who receives alerts (SMS)."""
        from yiyang.alarms.models import Alert
        from yiyang.registry.models import EmergencyContact

        with db.unit_of_work() as session:
            reachable = set(
                session.scalars(
                    select(EmergencyContact.elder_id).where(EmergencyContact.receives_alerts)
                )
            )
            used = set(session.scalars(select(Alert.elder_id).distinct()))
            rows = session.execute(
                select(Device.elder_id, Device.device_type, Device.serial, Elder.dementia)
                .join(Elder, Elder.id == Device.elder_id)
                .order_by(Device.elder_id)
            ).all()
        by_elder: dict[int, dict[str, Any]] = {}
        for r in rows:
            by_elder.setdefault(r.elder_id, {"elder_id": r.elder_id, "dementia": r.dementia})[
                r.device_type
            ] = r.serial
        key = (str(pipe_engine.url),)
        for elder_id, devices in by_elder.items():
            tag = hash((key, elder_id))
            if tag in _taken or elder_id in used or not all(n in devices for n in need):
                continue
            if dementia is not None and devices["dementia"] != dementia:
                continue
            if contacts and elder_id not in reachable:
                continue
            _taken.add(tag)
            return devices
        pytest.skip(f"no unused demo elder with {need}")

    return claim


_ids = itertools.count(1)


def message(
    serial: str,
    dtype: str,
    event: str,
    *,
    at: dt.datetime | None = None,
    data: dict | None = None,
    battery: int | None = None,
    msg_id: str | None = None,
) -> dict[str, Any]:  # type: ignore[type-arg]
    out: dict[str, Any] = {
        "v": 1,
        "id": msg_id or f"t{next(_ids)}-{serial}",
        "device": serial,
        "type": dtype,
        "event": event,
        "ts": (at or dt.datetime.now(dt.UTC)).isoformat(),
        "data": data or {},
    }
    if battery is not None:
        out["battery"] = battery
    return out


def mqtt_raw(obj: Any, serial: str | None = None) -> RawMessage:
    body = obj if isinstance(obj, bytes) else orjson.dumps(obj)
    serial = serial or (obj["device"] if isinstance(obj, dict) else "x")
    return RawMessage("mqtt", f"yiyang/v1/devices/{serial}/up", body)


NATS_URL = os.environ.get("YIYANG_TEST_NATS_URL", "nats://127.0.0.1:4222")
BUS_KIND = ["inprocess"]  # set per test by the ``bus_kind`` fixture


def nats_reachable() -> str | None:
    parsed = urlparse(NATS_URL)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 4222), timeout=2):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(params=["inprocess", pytest.param("jetstream", marks=pytest.mark.nats)])
def bus_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test on the in-process bus and on NATS JetStream (a stream of its own)."""
    if request.param == "jetstream" and (reason := nats_reachable()):
        require_or_skip(reason, f"NATS JetStream at {NATS_URL}")
    BUS_KIND[0] = request.param
    yield request.param
    BUS_KIND[0] = "inprocess"


def jetstream_bus(**kw: Any) -> Any:
    from yiyang.pipeline.jetstream import JetStreamBus

    return JetStreamBus(
        NATS_URL, stream=f"T{uuid.uuid4().hex[:12].upper()}", partitions=4, ack_wait_s=5, **kw
    )


def run_pipeline(coro_fn: Any, **kw: Any) -> Any:
    """Start a pipeline (no MQTT, no timers), run ``coro_fn(pipeline)``, stop it. On JetStream a
    publish returns once stored, not processed; the tests read results right after, so there
    each publish also waits until the workers have acknowledged everything."""

    async def main() -> Any:
        js = jetstream_bus() if BUS_KIND[0] == "jetstream" else None
        pipeline = Pipeline(js, mqtt_url="", loops=False, **kw)
        await pipeline.start()
        if js is not None:
            publish = js.publish

            async def publish_and_settle(messages: Any) -> None:
                await publish(messages)
                await js.drained()

            js.publish = publish_and_settle  # type: ignore[method-assign]
        try:
            return await coro_fn(pipeline)
        finally:
            if js is not None:
                await js.delete_stream()
            await pipeline.stop()

    return asyncio.run(main())


async def eventually(check: Any, seconds: float = 5.0) -> bool:
    """Poll ``check()`` every 0.1 s until it is true or ``seconds`` pass; its last value."""
    for _ in range(int(seconds * 10)):
        if check():
            return True
        await asyncio.sleep(0.1)
    return bool(check())


def publish_as_device(port: int, serial: str, *bodies: bytes) -> None:
    """Publish to the device's uplink topic on a real broker, as the device would (QoS 1)."""
    import paho.mqtt.client as paho

    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:8]}")
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    for body in bodies:
        pub.publish(f"yiyang/v1/devices/{serial}/up", body, qos=1).wait_for_publish(5)
    pub.loop_stop()
    pub.disconnect()
