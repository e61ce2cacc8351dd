"""Poison messages and outages (issue #14, items 1 and 2): whatever a device sends is stored or
dead-lettered and never blocks the alarms beside it; an outage is waited out and never turns an
alarm into a dead letter; a message our own code cannot process is kept, logged and, from a
safety device, raised as an alert of its own."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from yiyang.alarms.models import Alert
from yiyang.core import db
from yiyang.devices.models import DeadLetter
from yiyang.pipeline.bus import BusClosed
from yiyang.pipeline.gateway import RawMessage

from .conftest import message, mqtt_raw, run_pipeline

pytestmark = [pytest.mark.pipeline, pytest.mark.usefixtures("bus_kind")]


def _alerts(elder_id: int) -> list[tuple[str, str]]:
    with db.unit_of_work() as session:
        rows = session.execute(
            select(Alert.alert_type, Alert.severity).where(Alert.elder_id == elder_id)
        ).all()
    return sorted((r.alert_type, r.severity) for r in rows)


def _dead(*, contains: str) -> list[DeadLetter]:
    with db.unit_of_work() as session:
        return list(
            session.scalars(
                select(DeadLetter)
                .where(DeadLetter.source.contains(contains) | DeadLetter.payload.contains(contains))
                .order_by(DeadLetter.id)
            )
        )


def _poison_payloads(serial: str) -> list[RawMessage]:
    """What the outside audit sent: each made ``Gateway.submit`` raise on the old code."""
    base = message(serial, "sos_button", "sos")
    topic = f"yiyang/v1/devices/{serial}/up"
    bodies: list[tuple[str, bytes]] = [
        (topic, b'{"v":1,"id":"x","device":"FUZZ\\u0000SOS","m":"' + serial.encode() + b'"}'),
        (topic, orjson.dumps({**base, "id": "late", "ts": "9999-12-31T23:59:59-23:59"})),
        (topic, orjson.dumps({**base, "id": "early", "ts": "0001-01-01T00:00:00+23:59"})),
        (topic, orjson.dumps({**base, "id": "nulkey", "data": {"a\u0000b": 1}})),
        (topic, b"\x00\x00{" + serial.encode() + b"\x00"),
        (f"yiyang/v1/devices/{serial}\u0000/up", orjson.dumps({**base, "id": "nultopic"})),
    ]
    return [RawMessage("mqtt", t, b) for t, b in bodies]


def test_poison_payloads_are_dead_lettered_and_the_sos_beside_them_raised(kit) -> None:
    k = kit()
    sos = message(k["sos_button"], "sos_button", "sos")

    async def go(p: Any) -> Any:
        raws = [*_poison_payloads(k["sos_button"]), mqtt_raw(sos)]
        out = await asyncio.wait_for(p.gateway.submit(raws), 20)
        return out, p.health()

    out, health = run_pipeline(go)
    assert out[-1].accepted == [sos["id"]]
    assert [len(o.rejected) for o in out[:-1]] == [1] * 6
    assert sorted(r["code"] for o in out[:-1] for r in o.rejected) == [
        "bad_json",
        "bad_time",
        "bad_time",
        "not_authorised",
        "schema",
        "schema",
    ]
    assert _alerts(k["elder_id"]) == [("sos", "critical")]
    dead = _dead(contains=k["sos_button"])
    assert len(dead) == 6
    nul = next(d for d in dead if d.serial and d.serial.startswith("FUZZ"))
    assert nul.serial == "FUZZ\\x00SOS"  # kept, NUL shown as an escape
    assert any("\\x00\\x00{" in d.payload for d in dead)  # the raw bytes, NUL-safe
    assert health["stalled"] is False


def test_a_failure_nobody_foresaw_is_isolated_and_the_batch_beside_it_stored(
    kit, monkeypatch
) -> None:
    """A payload that makes storing itself fail (here the dead-letter insert, as a NUL did on
    PostgreSQL) is found by splitting the batch; it alone is kept (as hex) and the SOS in the
    same batch becomes its alert. The listener can then acknowledge everything."""
    from yiyang.pipeline import gateway as gw

    k1, k2 = kit(), kit()
    real = gw.store_dead_letters

    def fussy(rows: list[dict[str, Any]]) -> None:
        if any("POISON" in (r["payload"] or "") for r in rows):
            raise ValueError("the database refused this row")
        real(rows)

    monkeypatch.setattr(gw, "store_dead_letters", fussy)
    sos1 = message(k1["sos_button"], "sos_button", "sos")
    sos2 = message(k2["sos_button"], "sos_button", "sos")
    poison = RawMessage("mqtt", f"yiyang/v1/devices/{k1['sos_button']}/up", b"POISON{")

    async def go(p: Any) -> None:
        await asyncio.wait_for(p.gateway.store([mqtt_raw(sos1), poison, mqtt_raw(sos2)]), 20)

    run_pipeline(go)
    assert _alerts(k1["elder_id"]) == [("sos", "critical")]
    assert _alerts(k2["elder_id"]) == [("sos", "critical")]
    kept = [d for d in _dead(contains=k1["sos_button"]) if d.code == "processing_error"]
    assert [bytes.fromhex(d.payload) for d in kept] == [b"POISON{"]
    assert "ValueError" in kept[0].reason


def test_the_gateway_waits_out_a_bus_outage_and_dead_letters_nothing(kit, monkeypatch) -> None:
    k = kit()
    sos = message(k["sos_button"], "sos_button", "sos")

    async def go(p: Any) -> int:
        real, failures = p.bus.publish, [0]

        async def flaky(messages: Any) -> None:
            if failures[0] < 3:
                failures[0] += 1
                raise BusClosed("broker restarting")
            await real(messages)

        p.bus.publish = flaky
        await asyncio.wait_for(p.gateway.store([mqtt_raw(sos)]), 20)
        return failures[0]

    assert run_pipeline(go) == 3
    assert _alerts(k["elder_id"]) == [("sos", "critical")]
    assert _dead(contains=k["sos_button"]) == []


def _lost_connection() -> OperationalError:
    return OperationalError(
        "INSERT INTO device_message …", {}, Exception("server closed the connection unexpectedly")
    )


def test_the_worker_retries_a_database_outage_and_never_dead_letters_an_sos(
    kit, monkeypatch
) -> None:
    """The old worker dead-lettered a one-message batch on any exception: an SOS arriving
    while PostgreSQL restarted never became an alert."""
    from yiyang.pipeline import worker

    k = kit()
    sos = message(k["sos_button"], "sos_button", "sos")
    real, failures = worker.telemetry.store_messages, [0]

    def down_for_a_while(session: Any, msgs: Any) -> Any:
        if any(m.id == sos["id"] for m in msgs) and failures[0] < 3:
            failures[0] += 1
            raise _lost_connection()
        return real(session, msgs)

    monkeypatch.setattr(worker.telemetry, "store_messages", down_for_a_while)

    async def go(p: Any) -> None:
        await asyncio.wait_for(p.gateway.store([mqtt_raw(sos)]), 20)

    run_pipeline(go)
    assert failures[0] == 3
    assert _alerts(k["elder_id"]) == [("sos", "critical")]
    with db.unit_of_work() as session:
        dead = session.scalar(
            select(func.count())
            .select_from(DeadLetter)
            .where(DeadLetter.code == "processing_error", DeadLetter.msg_id == sos["id"])
        )
    assert dead == 0


def test_a_message_the_worker_fails_on_is_kept_logged_and_raised_as_its_own_alert(
    kit, monkeypatch, caplog
) -> None:
    from yiyang.pipeline import worker

    k1, k2 = kit(), kit()
    poisoned = message(
        k1["sos_button"], "sos_button", "sos", at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    )
    fine = message(k2["sos_button"], "sos_button", "sos")
    real = worker.rules.on_event

    def broken_for_one(state: Any, ev: Any, *args: Any) -> Any:
        if ev.at == dt.datetime.fromisoformat(poisoned["ts"]):
            raise KeyError("a bug that only this message hits")
        return real(state, ev, *args)

    monkeypatch.setattr(worker.rules, "on_event", broken_for_one)

    async def go(p: Any) -> None:
        # one submission: both alarms travel in one urgent batch, which must be split
        await asyncio.wait_for(p.gateway.store([mqtt_raw(poisoned), mqtt_raw(fine)]), 20)

    with caplog.at_level(logging.ERROR, logger="yiyang.pipeline.worker"):
        run_pipeline(go)
    assert _alerts(k2["elder_id"]) == [("sos", "critical")]
    assert _alerts(k1["elder_id"]) == [("unprocessed", "critical")]
    with db.unit_of_work() as session:
        kept = session.scalars(select(DeadLetter).where(DeadLetter.msg_id == poisoned["id"])).all()
    assert [(d.code, d.transport) for d in kept] == [("processing_error", "bus")]
    assert "KeyError" in kept[0].reason
    assert any(
        r.levelno == logging.ERROR and "dead letter" in r.getMessage() for r in caplog.records
    )


def test_healthz_answers_503_while_a_received_message_waits_too_long(kit, settings_env) -> None:
    from fastapi.testclient import TestClient

    from yiyang.app import create_app

    settings_env(health_max_unstored_s="5")
    k = kit()
    sos = message(k["sos_button"], "sos_button", "sos")
    app = create_app(pipeline=False)

    async def go(p: Any) -> tuple[int, int, float]:
        gate = asyncio.Event()
        real = p.bus.publish

        async def stuck(messages: Any) -> None:
            await gate.wait()  # e.g. the database is away and the worker cannot commit
            await real(messages)

        p.bus.publish = stuck
        old = RawMessage(
            "mqtt",
            f"yiyang/v1/devices/{k['sos_button']}/up",
            orjson.dumps(sos),
            received_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=8),
        )
        task = asyncio.create_task(p.gateway.store([old]))
        await asyncio.sleep(0.2)
        client = TestClient(app)  # its own thread and loop: called from a thread of ours
        await asyncio.to_thread(client.__enter__)
        try:
            app.state.pipeline = p
            stalled = await asyncio.to_thread(client.get, "/healthz")
            age = stalled.json()["pipeline"]["oldest_unstored_s"]
            gate.set()
            await asyncio.wait_for(task, 20)
            recovered = await asyncio.to_thread(client.get, "/healthz")
        finally:
            app.state.pipeline = None  # the test's pipeline: not the app's to stop
            await asyncio.to_thread(client.__exit__, None, None, None)
        return stalled.status_code, recovered.status_code, age

    stalled, recovered, age = run_pipeline(go)
    assert (stalled, recovered) == (503, 200)
    assert age >= 8


def test_a_bus_message_in_the_old_format_is_still_evaluated_and_a_broken_one_kept(kit) -> None:
    """During a rolling upgrade an older gateway's one-letter dict may still be on the stream:
    an SOS in that format still raises its alert (``pipeline.messages.decode`` reads version
    0); one the worker cannot read is kept as a dead letter, logged, and the messages beside
    it go on."""
    from yiyang.devices.models import Device
    from yiyang.pipeline.bus import BusMessage

    k1, k2, k3 = kit(), kit(), kit()
    with db.unit_of_work() as session:
        device_id = session.scalar(select(Device.id).where(Device.serial == k1["sos_button"]))
    now = time.time()
    mark = f"old-format-{k2['elder_id']}-{time.time_ns()}"
    old_sos = orjson.dumps(
        {"u": True, "k": "msg", "e": k1["elder_id"], "d": device_id, "t": "sos_button",
         "ev": "sos", "id": f"old-sos-{time.time_ns()}", "at": now, "rx": now, "data": {},
         "b": None}
    )  # fmt: skip
    unreadable = orjson.dumps({"u": False, "k": "alarm", "e": k2["elder_id"], "id": mark})
    sos = message(k3["sos_button"], "sos_button", "sos")

    async def go(p: Any) -> None:
        await p.bus.publish([BusMessage(k1["elder_id"], old_sos)])
        await p.bus.publish([BusMessage(k2["elder_id"], unreadable)])
        await asyncio.wait_for(p.gateway.store([mqtt_raw(sos)]), 20)

    run_pipeline(go)
    assert _alerts(k1["elder_id"]) == [("sos", "critical")]
    kept = _dead(contains=mark)
    assert [(d.code, d.transport, d.source) for d in kept] == [
        ("processing_error", "bus", f"elder:{k2['elder_id']}")
    ]
    assert "old one-letter format with unknown kind 'alarm'" in (kept[0].reason or "")
    assert _alerts(k3["elder_id"]) == [("sos", "critical")]
