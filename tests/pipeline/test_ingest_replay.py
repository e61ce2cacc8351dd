"""HTTP ingest's replay nonce counts only once the request is stored (issue #15): a request
answered 503 ("not stored, retry") may be sent again as it was and is stored then; a replay of a
stored request, or of one still being stored, is refused with 409."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from yiyang.core import db
from yiyang.devices.models import Device, DeviceMessage, Vendor
from yiyang.pipeline.bus import BusClosed

from .conftest import message
from .test_transports import signed

pytestmark = pytest.mark.pipeline


def _vendor_of(serial: str) -> str:
    with db.unit_of_work() as session:
        return str(
            session.scalar(
                select(Vendor.code)
                .join(Device, Device.vendor_id == Vendor.id)
                .where(Device.serial == serial)
            )
        )


def _stored(msg_id: str) -> int:
    with db.unit_of_work() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(DeviceMessage)
                .where(DeviceMessage.msg_id == msg_id)
            )
            or 0
        )


def ours(batch: Any, msg_id: str) -> bool:
    """Whether a bus batch carries the device message ``msg_id``."""
    return any(msg_id in repr(m) for m in batch)


def _wait_stored(msg_id: str, seconds: float = 10.0) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not _stored(msg_id):
        time.sleep(0.1)
    return _stored(msg_id)


def test_a_retry_after_503_is_stored_and_a_replay_after_success_refused(
    kit, settings_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_env(mqtt_url="", sweep_seconds="3600")
    from yiyang.app import create_app

    k = kit()
    vendor = _vendor_of(k["sos_button"])
    sos = message(k["sos_button"], "sos_button", "sos")
    body = orjson.dumps([sos])
    headers = signed(body, vendor, f"demo-secret-{vendor}")
    with TestClient(create_app(pipeline=True)) as client:
        bus = client.app.state.pipeline.bus  # type: ignore[attr-defined]
        publish = bus.publish
        refusals = []

        async def refuse_once(batch: Any) -> None:
            if not refusals and ours(batch, sos["id"]):
                refusals.append(len(batch))
                raise BusClosed("the broker is away (test)")
            await publish(batch)

        monkeypatch.setattr(bus, "publish", refuse_once)
        first = client.post("/api/ingest", content=body, headers=headers)
        assert first.status_code == 503, first.text
        assert refusals == [1]

        retry = client.post("/api/ingest", content=body, headers=headers)
        assert retry.status_code == 200, retry.text
        assert retry.json()["accepted"] == 1
        assert _wait_stored(sos["id"]) == 1

        replay = client.post("/api/ingest", content=body, headers=headers)
        assert replay.status_code == 409 and replay.json()["detail"]["code"] == "replayed"
    assert _stored(sos["id"]) == 1


def test_the_same_request_while_the_first_is_being_stored_is_refused(
    kit, settings_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_env(mqtt_url="", sweep_seconds="3600")
    from yiyang.app import create_app

    k = kit()
    vendor = _vendor_of(k["sos_button"])
    sos = message(k["sos_button"], "sos_button", "sos")
    body = orjson.dumps([sos])
    headers = signed(body, vendor, f"demo-secret-{vendor}")
    entered, release = threading.Event(), threading.Event()
    with TestClient(create_app(pipeline=True)) as client:
        bus = client.app.state.pipeline.bus  # type: ignore[attr-defined]
        publish = bus.publish

        async def slow(batch: Any) -> None:
            if ours(batch, sos["id"]):  # not the pipeline's own timer ticks
                entered.set()
                await asyncio.to_thread(release.wait, 10)
            await publish(batch)

        monkeypatch.setattr(bus, "publish", slow)
        answers: dict[str, Any] = {}
        original = threading.Thread(
            target=lambda: answers.update(
                first=client.post("/api/ingest", content=body, headers=headers)
            )
        )
        original.start()
        try:
            assert entered.wait(10)
            racing = client.post("/api/ingest", content=body, headers=headers)
        finally:
            release.set()
            original.join(15)
        assert racing.status_code == 409 and racing.json()["detail"]["code"] == "replayed"
        assert answers["first"].status_code == 200, answers["first"].text
        assert _wait_stored(sos["id"]) == 1
        again = client.post("/api/ingest", content=body, headers=headers)
        assert again.status_code == 409
