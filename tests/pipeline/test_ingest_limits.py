"""HTTP ingest refuses bad input with a 4xx and keeps it (issue #14, item 8): the body is read
as a stream with a limit, the headers are checked before anything is looked up, and whatever
the body holds is stored or dead-lettered, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from yiyang.core import db
from yiyang.devices.models import DeadLetter, Device, Vendor

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


def _dead_since(last_id: int) -> list[tuple[str, str, int]]:
    with db.unit_of_work() as session:
        rows = session.execute(
            select(DeadLetter.code, DeadLetter.transport, DeadLetter.size)
            .where(DeadLetter.id > last_id)
            .order_by(DeadLetter.id)
        ).all()
    return [(r.code, r.transport, r.size) for r in rows]


def _last_dead_id() -> int:
    with db.unit_of_work() as session:
        return int(session.scalar(select(DeadLetter.id).order_by(DeadLetter.id.desc())) or 0)


def test_oversize_and_malformed_requests_get_4xx_and_are_kept(kit, settings_env) -> None:
    settings_env(mqtt_url="", sweep_seconds="3600")
    from yiyang.app import create_app

    k = kit()
    vendor = _vendor_of(k["sos_button"])
    secret = f"demo-secret-{vendor}"
    start = _last_dead_id()
    big = b"[" + b" " * (2 * 1024 * 1024) + b"]"

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while streaming
        for _ in range(64):
            yield b" " * 65536

    with TestClient(create_app(pipeline=True)) as client:
        declared = client.post("/api/ingest", content=big, headers=signed(big, vendor, secret))
        assert declared.status_code == 413, declared.text
        assert declared.json()["detail"]["code"] == "too_large"
        streamed = client.post("/api/ingest", content=chunks(), headers=signed(b"", vendor, secret))
        assert streamed.status_code == 413, streamed.text
        huge_stamp = dict(signed(b"[]", vendor, secret), **{"X-Yiyang-Timestamp": "9" * 400})
        r = client.post("/api/ingest", content=b"[]", headers=huge_stamp)
        assert r.status_code == 401 and "Unix seconds" in r.json()["detail"]["message"]
        odd_vendor = dict(signed(b"[]", vendor, secret), **{"X-Yiyang-Vendor": "a b/../c"})
        assert client.post("/api/ingest", content=b"[]", headers=odd_vendor).status_code == 401
        unsigned = client.post("/api/ingest", content=b"[]")
        assert unsigned.status_code == 401

        sos = message(k["sos_button"], "sos_button", "sos")
        body = orjson.dumps(
            [
                sos,
                {**sos, "id": "late", "ts": "9999-12-31T23:59:59-23:59"},
                {"v": 1, "id": "x", "device": "FUZZ\u0000SOS"},
            ]
        )
        ok = client.post("/api/ingest", content=body, headers=signed(body, vendor, secret))
        assert ok.status_code == 200, ok.text
        assert ok.json()["accepted"] == 1
        assert sorted(x["code"] for x in ok.json()["rejected"]) == ["bad_time", "schema"]
        nul = b"\x00\x00[" + k["sos_button"].encode()
        junk = client.post("/api/ingest", content=nul, headers=signed(nul, vendor, secret))
        assert junk.status_code == 200 and junk.json()["rejected"][0]["code"] == "bad_json"

    kept = _dead_since(start)
    assert [c for c, _, _ in kept] == [
        "too_large",
        "too_large",
        "not_authenticated",
        "not_authenticated",
        "not_authenticated",
        "bad_time",
        "schema",
        "bad_json",
    ]
    assert {t for _, t, _ in kept} == {"http"}
    assert kept[0][2] == len(big)  # the declared size, though the body was never read
