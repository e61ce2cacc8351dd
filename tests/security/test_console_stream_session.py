"""Console streams end with their session (issue #14, item 10): an open event stream carrying
alert rows (names, addresses) closes when its user signs out, the session is revoked or expires,
or the user is deactivated — and sends no row after that.

The end-to-end tests run a real `yiyang serve` (SQLite, demo data, HTTP ingest) and read the
stream with a real HTTP client; the hub tests drive the stream generator directly."""

from __future__ import annotations

import asyncio
import datetime as dt
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support.browser import running_server
from yiyang.console.live import ConsoleHub
from yiyang.console.repository import QueueFilters
from yiyang.core.roles import Role
from yiyang.core.scoping import Actor
from yiyang.pipeline.transports.http import signature

from ..conftest import PASSWORD

pytestmark = pytest.mark.security

WAIT_S = 30.0  # a safety net for a broken build, never a speed assertion


# -- end to end ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("stream")
    env = {"YIYANG_MQTT_URL": "", "YIYANG_PIPELINE": "true"}
    with running_server(folder, 60, 3, env) as base:
        yield base, folder / "yiyang.db"


def sign_in(base: str, username: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=10)
    page = c.get("/login").text
    marker = 'name="csrf_token" value="'
    csrf = page[page.index(marker) + len(marker) :].split('"', 1)[0]
    r = c.post(
        "/login",
        data={"username": username, "password": PASSWORD, "next": "/console", "csrf_token": csrf},
    )
    assert r.status_code == 303 and r.headers["location"] == "/console", r.text[:300]
    return c


class Stream:
    """Reads a console's event stream on a thread: every event, then None when it closes."""

    def __init__(self, client: httpx.Client) -> None:
        self.events: queue.Queue[tuple[str, dict] | None] = queue.Queue()
        self._client = httpx.Client(
            base_url=client.base_url, cookies=client.cookies, timeout=httpx.Timeout(10, read=None)
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            with self._client.stream("GET", "/console/stream") as r:
                event = ""
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        self.events.put((event, orjson.loads(line[6:])))
        except httpx.HTTPError:
            pass
        finally:
            self.events.put(None)

    def next(self) -> tuple[str, dict] | None:
        try:
            return self.events.get(timeout=WAIT_S)
        except queue.Empty:
            pytest.fail(f"the stream neither sent nor closed within {WAIT_S} s")

    def until(self, kind: str) -> list[tuple[str, dict] | None]:
        """Events up to and including the first of ``kind`` (or the close)."""
        seen: list[tuple[str, dict] | None] = []
        while True:
            item = self.next()
            seen.append(item)
            if item is None or item[0] == kind:
                return seen

    def close(self) -> None:
        self._client.close()


def csrf_of(c: httpx.Client) -> str:
    page = c.get("/console").text
    marker = 'name="csrf-token" content="'
    return page[page.index(marker) + len(marker) :].split('"', 1)[0]


_pressed: set[int] = set()


def press_sos(base: str, db: Path) -> int:
    """An SOS press from the button of a demo elder not pressed before, through the signed HTTP
    ingest; the elder's id."""
    with sqlite3.connect(db, timeout=10) as conn:
        rows = conn.execute(
            "SELECT d.elder_id, d.serial, v.code, v.hmac_secret FROM device d JOIN vendor v"
            " ON v.id = d.vendor_id WHERE d.device_type = 'sos_button'"
            " AND d.elder_id IS NOT NULL AND d.status != 'retired' ORDER BY d.elder_id DESC"
        ).fetchall()
    elder_id, serial, vendor, secret = next(r for r in rows if r[0] not in _pressed)
    _pressed.add(elder_id)
    body = orjson.dumps(
        {
            "v": 1,
            "id": uuid.uuid4().hex[:16],
            "device": serial,
            "type": "sos_button",
            "event": "sos",
            "ts": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )
    stamp = str(int(time.time()))
    r = httpx.post(
        base + "/api/ingest",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Yiyang-Vendor": vendor,
            "X-Yiyang-Timestamp": stamp,
            "X-Yiyang-Signature": signature(secret, stamp, body),
        },
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    return int(elder_id)


def rows_for(events: list[tuple[str, dict] | None], elder_id: int) -> list[dict]:
    return [e[1] for e in events if e and e[0] == "row" and e[1]["elder_id"] == elder_id]


def test_signing_out_ends_the_open_stream_and_no_rows_follow(server) -> None:
    base, db = server
    leaving, staying = sign_in(base, "operator"), sign_in(base, "operator2")
    a, b = Stream(leaving), Stream(staying)
    assert a.next() is not None and b.next() is not None  # both streams said hello
    r = leaving.post("/logout", data={"csrf_token": csrf_of(leaving)}, follow_redirects=False)
    assert r.status_code == 303
    after_logout = a.until("end")
    assert after_logout[-1] is not None and after_logout[-1][0] == "end"
    assert a.next() is None  # and then the server closed it
    elder = press_sos(base, db)
    seen: list[tuple[str, dict] | None] = []
    while not rows_for(seen, elder):  # the alert went out to the console still signed in …
        seen.append(b.next())
        assert seen[-1] is not None, seen
    assert not rows_for(after_logout, elder)  # … never to the signed-out one
    a.close()
    b.close()


def test_a_deactivated_user_or_expired_session_gets_no_further_rows(server) -> None:
    """No sign-out event here: the database says the session is over, and the stream checks it
    before it sends the next row."""
    base, db = server
    for username, change in [
        ("operator2", "UPDATE app_user SET active = 0 WHERE username = 'operator2'"),
        (
            "operator",
            "UPDATE auth_session SET expires_at = '2000-01-01 00:00:00.000000'"
            " WHERE user_id = (SELECT id FROM app_user WHERE username = 'operator')",
        ),
    ]:
        c = sign_in(base, username)
        s = Stream(c)
        assert s.next() is not None
        with sqlite3.connect(db, timeout=10) as conn:
            conn.execute(change)
        elder = press_sos(base, db)
        rest = s.until("end")
        assert not rows_for(rest, elder), rest
        assert rest[-1] is not None and rest[-1][0] == "end"
        assert s.next() is None
        s.close()
        c.close()


# -- the hub ---------------------------------------------------------------------------------


def _actor() -> Actor:
    return Actor(
        user_id=1,
        username="operator",
        display_name="坐席",
        role=Role.OPERATOR,
        region_id=1,
        region_path="/310000000000/",
    )


class _Row:
    id = 7
    region_path = "/310000000000/310104000000/"
    severity = "critical"
    state = "new"
    elder_id = 3


@pytest.mark.parametrize("ending", ["session over", "database away"])
def test_the_hub_checks_the_session_before_each_batch_of_rows(ending: str) -> None:
    async def run() -> list[str]:
        hub = ConsoleHub(lambda r: "<tr>王阿婆, 天平路 1 号</tr>")
        valid = True

        async def alive() -> bool:
            if not valid and ending == "database away":
                raise ConnectionError("server closed the connection unexpectedly")
            return valid

        stream = hub.stream(_actor(), QueueFilters(), "zh_CN", session_id=9, alive=alive)
        got = [await anext(stream)]
        hub.deliver([_Row()])  # type: ignore[list-item]
        got.append(await anext(stream))
        valid = False  # e.g. the user was deactivated in another process
        hub.deliver([_Row()])  # type: ignore[list-item]
        got += [chunk async for chunk in stream]
        return [c.decode().split("\n", 1)[0] for c in got]

    assert asyncio.run(run()) == ["event: hello", "event: row", "event: end"]


def test_the_hub_ends_a_signed_out_sessions_streams_at_once() -> None:
    async def run() -> tuple[list[str], int]:
        hub = ConsoleHub(lambda r: "<tr></tr>")
        checks = 0

        async def alive() -> bool:
            nonlocal checks
            checks += 1
            return True

        mine = hub.stream(_actor(), QueueFilters(), "en", session_id=9, alive=alive)
        other = hub.stream(_actor(), QueueFilters(), "en", session_id=10, alive=alive)
        await anext(mine), await anext(other)
        hub.end_session(9)
        hub.deliver([_Row()])  # type: ignore[list-item]
        rest = [chunk async for chunk in mine]
        other_row = await anext(other)
        await other.aclose()
        return [c.decode().split("\n", 1)[0] for c in [*rest, other_row]], hub.consoles

    events, consoles = asyncio.run(run())
    assert events == ["event: end", "event: row"] and consoles == 0
