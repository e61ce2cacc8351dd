"""Crash PostgreSQL in the middle of a stream of SOS presses (issue #14, item 2).

The old worker treated any exception in a one-message batch as a poison message: an SOS that
arrived while the database restarted became a ``processing_error`` dead letter and never an
alert. Here a cluster of the test's own is killed (``pg_ctl stop -m immediate``) while SOS
presses stream in through the real gateway → bus → worker path, kept down for 5 s and started
again. Every SOS must become exactly one alert, and nothing a dead letter.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator

import orjson
import pytest
from sqlalchemy import Engine, func, select

from yiyang.core import db
from yiyang.core.migrate import upgrade
from yiyang.pipeline.gateway import RawMessage

from ..conftest import require_or_skip
from .cluster import PrivateCluster, pg_bin, private_cluster

pytestmark = pytest.mark.security

ELDERS = 400
PRESSES = 5
BATCH = 4
PACE_S = 0.07  # ~8.6 s of presses: before, during and after the outage
DOWN_S = 5.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    if pg_bin() is None:
        require_or_skip("initdb and pg_ctl not installed", "A private PostgreSQL cluster")
    with private_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def crash_engine(cluster: PrivateCluster) -> Iterator[Engine]:
    from yiyang.demo.load import load

    engine = db.make_engine(cluster.url)
    previous = db._engine
    upgrade(engine)
    db.set_engine(engine)
    with db.unit_of_work() as session:
        load(session, ELDERS, seed=5)
    yield engine
    engine.dispose()
    if previous is not None:
        db.set_engine(previous)


def _sos_devices() -> list[tuple[int, str, str]]:
    """(elder, serial, type): one SOS-capable device per elder (button, else watch)."""
    from yiyang.devices.models import Device

    with db.unit_of_work() as session:
        rows = session.execute(
            select(Device.elder_id, Device.serial, Device.device_type)
            .where(
                Device.device_type.in_(["sos_button", "smart_watch"]),
                Device.elder_id.is_not(None),
            )
            .order_by(Device.elder_id, Device.device_type)
        ).all()
    seen: dict[int, tuple[int, str, str]] = {}
    for elder_id, serial, dtype in rows:
        seen.setdefault(elder_id, (elder_id, serial, dtype))
    return list(seen.values())


def _sos(serial: str, dtype: str, n: int) -> RawMessage:
    body = {
        "v": 1,
        "id": f"crash-{n}",
        "device": serial,
        "type": dtype,
        "event": "sos",
        "ts": dt.datetime.now(dt.UTC).isoformat(),
    }
    return RawMessage("mqtt", f"yiyang/v1/devices/{serial}/up", orjson.dumps(body))


def test_every_sos_becomes_exactly_one_alert_across_a_database_crash(
    cluster: PrivateCluster, crash_engine: Engine
) -> None:
    from yiyang.alarms.models import Alert
    from yiyang.devices.models import DeadLetter, DeviceMessage
    from yiyang.pipeline.runtime import Pipeline

    devices = _sos_devices()
    assert len(devices) >= 90
    # each elder presses PRESSES times, spread over the stream (so also while the database is
    # down): one alert each, counting every press once
    presses = [(n, d) for n, d in enumerate(devices * PRESSES)]
    started = dt.datetime.now(dt.UTC)
    timeline: dict[str, float] = {}

    async def main() -> None:
        pipeline = Pipeline(mqtt_url="", loops=False)
        await pipeline.start()
        try:
            t0 = time.monotonic()

            async def outage() -> None:
                await asyncio.sleep(2.0)
                await asyncio.to_thread(cluster.crash)
                timeline["crashed"] = time.monotonic() - t0
                await asyncio.sleep(DOWN_S)
                await asyncio.to_thread(cluster.start)
                timeline["back"] = time.monotonic() - t0

            crash = asyncio.create_task(outage())
            stores = []
            # as the MQTT listener hands them over: small batches, many in flight
            for i in range(0, len(presses), BATCH):
                raws = [_sos(serial, dtype, n) for n, (_, serial, dtype) in presses[i : i + BATCH]]
                stores.append(asyncio.create_task(pipeline.gateway.store(raws)))
                await asyncio.sleep(PACE_S)
            timeline["sent"] = time.monotonic() - t0
            await crash
            await asyncio.wait_for(asyncio.gather(*stores), 180)
            timeline["stored"] = time.monotonic() - t0
        finally:
            await pipeline.stop()

    asyncio.run(main())
    # the database was down while presses were still arriving, before and after
    assert timeline["crashed"] < timeline["sent"]
    assert timeline["back"] < timeline["sent"]
    with db.unit_of_work() as session:
        per_elder = {
            r.elder_id: (r.alerts, r.presses)
            for r in session.execute(
                select(
                    Alert.elder_id,
                    func.count().label("alerts"),
                    func.sum(Alert.count).label("presses"),
                )
                .where(Alert.alert_type == "sos", Alert.created_at >= started)
                .group_by(Alert.elder_id)
            )
        }
        stored = session.scalar(
            select(func.count())
            .select_from(DeviceMessage)
            .where(DeviceMessage.msg_id.like("crash-%"))
        )
        dead = session.scalar(
            select(func.count()).select_from(DeadLetter).where(DeadLetter.received_at >= started)
        )
    assert dead == 0
    assert stored == len(presses)
    assert per_elder == {elder: (1, PRESSES) for elder, _, _ in devices}
