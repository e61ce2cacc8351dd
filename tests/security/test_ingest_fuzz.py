"""Fuzz the device intake all the way to storage (issue #14, item 1), on SQLite and PostgreSQL.

Whatever a device sends — any bytes, any topic, JSON with NUL bytes in keys and values, huge
numbers, timestamps that overflow on conversion to UTC, deep nesting — ``Gateway.submit`` must
answer for every payload (accepted or rejected with a reason) and must never raise, and every
rejection must be in the dead-letter store. Derandomised, so CI sees the same cases each run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from yiyang.core import db
from yiyang.core.migrate import upgrade
from yiyang.devices.models import DeadLetter, Device
from yiyang.pipeline.gateway import RawMessage

from ..conftest import temporary_pg_database

pytestmark = pytest.mark.security

SERIALS: list[str] = []


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def fuzz_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    from yiyang.demo.load import load

    def prepare(engine: Engine) -> Engine:
        upgrade(engine)
        db.set_engine(engine)
        with db.unit_of_work() as session:
            load(session, 60, seed=3)
            SERIALS[:] = session.scalars(
                select(Device.serial).where(Device.elder_id.is_not(None)).limit(20)
            ).all()
        return engine

    previous = db._engine
    if request.param == "sqlite":
        engine = db.make_engine(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'f.db'}")
        yield prepare(engine)
        engine.dispose()
    else:
        with temporary_pg_database("yiyang_fuzz") as url:
            engine = db.make_engine(url)
            yield prepare(engine)
            engine.dispose()
    if previous is not None:
        db.set_engine(previous)


@pytest.fixture(scope="module")
def gateway(fuzz_engine: Engine) -> Iterator[Any]:
    """A running pipeline on a loop of its own thread; the test submits to its gateway."""
    from yiyang.pipeline.runtime import Pipeline

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    pipeline = Pipeline(mqtt_url="", loops=False)
    asyncio.run_coroutine_threadsafe(pipeline.start(), loop).result(30)
    yield lambda raws: asyncio.run_coroutine_threadsafe(pipeline.gateway.submit(raws), loop).result(
        30
    )
    asyncio.run_coroutine_threadsafe(pipeline.stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


nasty_text = st.text(
    alphabet=st.characters(codec="utf-8", categories=None, exclude_categories=("Cs",)),
    max_size=80,
) | st.sampled_from(["\x00", "FUZZ\x00SOS", "a" * 300, "", " ", "\u202e", "😀" * 20])
timestamps = st.sampled_from(
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59+00:00",
        "2026-13-45T99:99:99Z",
        "2026-12-01T08:00:00",
        "1" * 400,
    ]
) | st.datetimes(
    min_value=dt.datetime(1, 1, 2),
    max_value=dt.datetime(9999, 12, 30),
    timezones=st.timezones(),
).map(lambda d: d.isoformat())
numbers = st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
scalars = st.none() | st.booleans() | numbers | nasty_text
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty_text, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def device_messages(draw: Any) -> Any:
    serial = draw(st.sampled_from(SERIALS) if SERIALS else nasty_text)
    obj: dict[str, Any] = {
        "v": draw(st.sampled_from([1, 1, 1, 2, "1", None])),
        "id": draw(st.text(min_size=1, max_size=10) | nasty_text),
        "device": draw(st.sampled_from([serial, serial, "FUZZ\x00SOS"]) | nasty_text),
        "type": draw(st.sampled_from(["sos_button", "smart_watch", "alarm_panel", "x"])),
        "event": draw(st.sampled_from(["sos", "vitals", "gps", "cid", "heartbeat", "\x00"])),
        "ts": draw(timestamps),
        "data": draw(st.dictionaries(nasty_text, values, max_size=4) | values),
    }
    if draw(st.booleans()):
        obj[draw(nasty_text)] = draw(values)
    if draw(st.booleans()):
        obj["battery"] = draw(numbers)
    return obj


def _json(value: Any) -> bytes:
    """As a device might write it: big integers and all (orjson refuses those)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def payloads(draw: Any) -> RawMessage:
    serial = draw(st.sampled_from(SERIALS)) if SERIALS else "x"
    topic = draw(
        st.sampled_from([f"yiyang/v1/devices/{serial}/up", "yiyang/v1/vendors/anxin/up"])
        | nasty_text.map(lambda t: f"yiyang/v1/devices/{t}/up")
    )
    kind = draw(st.sampled_from(["object", "batch", "bytes", "wrapped"]))
    if kind == "object":
        body = _json(draw(device_messages()))
    elif kind == "batch":
        body = _json(draw(st.lists(device_messages(), max_size=5)))
    elif kind == "wrapped":
        body = _json({"messages": draw(st.lists(device_messages(), max_size=3))})
    else:
        body = draw(st.binary(max_size=300))
    return RawMessage(draw(st.sampled_from(["mqtt", "http"])), topic, body)


def _dead_letters() -> int:
    with db.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(DeadLetter)) or 0)


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(batch=st.lists(payloads(), min_size=1, max_size=6))
def test_every_payload_is_answered_and_every_rejection_stored(
    gateway: Any, batch: list[RawMessage]
) -> None:
    before = _dead_letters()
    outcomes = gateway(batch)  # raising here is the bug
    assert len(outcomes) == len(batch)
    for raw, outcome in zip(batch, outcomes, strict=True):
        # every payload gets an answer (an empty array holds nothing to answer for)
        assert outcome.accepted or outcome.rejected or orjson.loads(raw.payload) == []
    rejected = sum(len(o.rejected) for o in outcomes)
    assert _dead_letters() - before == rejected
