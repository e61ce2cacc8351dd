"""Crash safety of the scaled-out pipeline (bounded in time, loopback only): two `yiyang worker`
processes share a JetStream stream; the one running the timers is killed with SIGKILL while
messages stream in. Its partitions move to the survivor, no alarm is lost, none becomes two
alerts, and the escalation timers (kept in the database) are carried on by the survivor."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from yiyang.alarms.models import Alert
from yiyang.core import db
from yiyang.devices.models import Device, DeviceMessage
from yiyang.pipeline.runtime import Pipeline

from ..conftest import require_or_skip
from .conftest import NATS_URL, message, mqtt_raw, nats_reachable

pytestmark = [pytest.mark.pipeline, pytest.mark.postgres, pytest.mark.nats]


def _wait_for(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError(f"'{text}' not in {path.name} after {timeout} s:\n{path.read_text()}")


def test_sigkill_a_worker_mid_stream_loses_nothing_and_doubles_nothing(
    pipe_pg: Engine, tmp_path: Path
) -> None:
    if reason := nats_reachable():
        require_or_skip(reason, f"NATS JetStream at {NATS_URL}")
    db.set_engine(pipe_pg)
    stream = f"CHAOS{uuid.uuid4().hex[:8].upper()}"
    env = {
        **os.environ,
        "YIYANG_DATABASE_URL": pipe_pg.url.render_as_string(hide_password=False),
        "YIYANG_BUS_URL": NATS_URL,
        "YIYANG_BUS_STREAM": stream,
        "YIYANG_BUS_PARTITIONS": "8",
        "YIYANG_BUS_ACK_WAIT_S": "3",
        "YIYANG_MQTT_URL": "",
        "YIYANG_SWEEP_SECONDS": "3600",
        "YIYANG_ESCALATION_SECONDS": "0.5",
    }
    with db.unit_of_work() as session:  # elders with an SOS button and no alert yet
        rows = session.execute(
            select(Device.elder_id, Device.serial)
            .where(
                Device.device_type == "sos_button",
                Device.elder_id.not_in(select(Alert.elder_id)),
            )
            .order_by(Device.elder_id.desc())
            .limit(40)
        ).all()
    assert len(rows) >= 20, "not enough fresh elders in the pipeline test district"
    logs = [tmp_path / f"worker{i}.log" for i in (1, 2)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "yiyang", "worker"],
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    try:
        for log in logs:
            _wait_for(log, "worker: consuming", 30)
        deadline = time.monotonic() + 20
        while not any("runs the timers" in log.read_text() for log in logs):
            assert time.monotonic() < deadline, "no worker took the leader lock"
            time.sleep(0.1)
        leader = 0 if "runs the timers" in logs[0].read_text() else 1

        sos_ids: list[str] = []

        async def stream_in() -> None:
            from yiyang.pipeline.jetstream import JetStreamBus

            bus = JetStreamBus(NATS_URL, stream=stream, partitions=8, ack_wait_s=3)
            gateway = Pipeline(bus, consume=False, listen=False, loops=False)
            await gateway.start()
            try:
                for round_ in range(20):
                    raws = []
                    for _, serial in rows:
                        raws.append(
                            mqtt_raw(message(serial, "sos_button", "heartbeat", battery=90))
                        )
                    if round_ % 5 == 0:  # an SOS from a quarter of the elders every 5 rounds
                        for _, serial in rows[round_ // 5 :: 4]:
                            sos = message(serial, "sos_button", "sos")
                            sos_ids.append(sos["id"])
                            raws.append(mqtt_raw(sos))
                    outcomes = await gateway.gateway.submit(raws)
                    assert all(not o.rejected for o in outcomes)
                    if round_ == 7:
                        workers[leader].send_signal(signal.SIGKILL)  # mid-stream, no goodbye
                    await asyncio.sleep(0.05)
                deadline = time.monotonic() + 60
                while await bus.pending():
                    assert time.monotonic() < deadline, "stream not drained by the survivor"
                    await asyncio.sleep(0.2)
            finally:
                await bus.delete_stream()
                await gateway.stop()

        asyncio.run(stream_in())
        assert workers[leader].wait(5) == -signal.SIGKILL
        survivor = 1 - leader
        assert workers[survivor].poll() is None, logs[survivor].read_text()

        elder_ids = [r.elder_id for r in rows]
        with db.unit_of_work() as session:
            stored = dict(
                session.execute(
                    select(DeviceMessage.msg_id, func.count())
                    .where(DeviceMessage.msg_id.in_(sos_ids))
                    .group_by(DeviceMessage.msg_id)
                ).all()
            )
            sos_alerts = session.execute(
                select(Alert.elder_id, func.count(), func.sum(Alert.count))
                .where(Alert.elder_id.in_(elder_ids), Alert.alert_type == "sos")
                .group_by(Alert.elder_id)
            ).all()
        assert len(sos_ids) == 40
        assert stored == {i: 1 for i in sos_ids}  # every alarm stored, exactly once
        pressed = {r.elder_id: 0 for r in rows}
        for round_ in range(0, 20, 5):
            for r in rows[round_ // 5 :: 4]:
                pressed[r.elder_id] += 1
        # one open alert per elder that pressed, its count = the presses (merged, not doubled)
        assert {e: (n, c) for e, n, c in sos_alerts} == {e: (1, n) for e, n in pressed.items() if n}

        # Escalation timers live in the database: make them due now; the survivor, which has
        # taken over the leader lock, escalates them.
        _wait_for(logs[survivor], "runs the timers", 20)
        with db.unit_of_work() as session:
            session.execute(
                update(Alert)
                .where(Alert.elder_id.in_(elder_ids), Alert.alert_type == "sos")
                .values(next_escalation_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            )
        deadline = time.monotonic() + 20
        while True:
            with db.unit_of_work() as session:
                steps = session.scalars(
                    select(Alert.escalation_step).where(
                        Alert.elder_id.in_(elder_ids), Alert.alert_type == "sos"
                    )
                ).all()
            if steps and all(s >= 1 for s in steps):
                break
            assert time.monotonic() < deadline, f"not escalated by the survivor: {steps}"
            time.sleep(0.3)
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()
                try:
                    w.wait(10)
                except subprocess.TimeoutExpired:
                    w.kill()
