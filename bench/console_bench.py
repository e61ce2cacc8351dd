"""Operator console benchmarks on PostgreSQL and the real Mosquitto broker (issue #4 targets).

    .venv/bin/python bench/console_bench.py [--elders 5000] [--open 500] [--consoles 20]
                                            [--sos 100] [--cards 300]

1. Push latency: the bench seeds ``--open`` open alerts, starts a real ``yiyang serve``
   (device pipeline listening on its own Mosquitto, port 18830, production settings) and opens
   ``--consoles`` logged-in console event streams (/console/stream, server-sent events). It then
   publishes ``--sos`` SOS presses over MQTT, four a second; latency = publish → the alert's row
   arriving on a console, for every console (p50/p95/p99 over all consoles × presses).
2. Emergency card: ``--cards`` loads of /console/alerts/{id} (the full card page) for open
   alerts, one after another, while the consoles stay connected: p50/p95/p99.

Creates and drops its own database (yiyang_console_bench) on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import orjson
from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).parent))
from alarm_bench import PORT, pct, recreate_database, start_broker

ADMIN_URL = os.environ.get(
    "YIYANG_BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DB = "yiyang_console_bench"
URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB
PASSWORD = "Yiyang@2026"


def fresh_database(elders: int, open_alerts: int) -> list[tuple[str, int]]:
    """Demo district with ``open_alerts`` open alerts; returns (SOS serial, elder) pairs of
    elders without one, for the presses."""
    from yiyang.alarms.models import Alert
    from yiyang.core import db
    from yiyang.demo.load import load
    from yiyang.devices.models import Device
    from yiyang.registry.models import Elder

    engine = recreate_database(DB, ADMIN_URL)
    with db.unit_of_work() as session:
        load(session, elders, seed=3)
    rnd = random.Random(4)
    now = dt.datetime.now(dt.UTC)
    with db.unit_of_work() as session:
        sos = session.execute(
            select(Device.serial, Device.elder_id).where(
                Device.device_type == "sos_button", Device.elder_id.is_not(None)
            )
        ).all()
        sos_elders = {e for _s, e in sos}
        others = session.execute(
            select(Elder.id, Elder.region_path)
            .where(Elder.id.not_in(sos_elders))
            .limit(open_alerts)
        ).all()
        kinds = [("fall", "critical"), ("inactivity", "warning"), ("low_battery", "info")]
        rows = []
        for elder_id, path in others:
            kind, severity = rnd.choice(kinds)
            at = now - dt.timedelta(seconds=rnd.randrange(10, 3600))
            rows.append(
                {
                    "elder_id": elder_id,
                    "region_path": path,
                    "alert_type": kind,
                    "severity": severity,
                    "state": "new",
                    "dedupe_key": kind,
                    "detail": {},
                    "count": 1,
                    "first_at": at,
                    "last_at": at,
                    "created_at": at,
                    "updated_at": at,
                    "escalation_step": 0,
                    "version": 1,
                }
            )
        session.execute(insert(Alert), rows)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    print(f"  {elders:,} elders, {len(rows)} open alerts, {len(sos)} SOS buttons")
    return [(s, e) for s, e in sos]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve() -> tuple[subprocess.Popen, str]:  # type: ignore[type-arg]
    port = free_port()
    env = {
        **os.environ,
        "YIYANG_DATABASE_URL": URL,
        "YIYANG_MQTT_URL": f"mqtt://127.0.0.1:{PORT}",
        "YIYANG_MQTT_CLIENT_ID": f"console-bench-{uuid.uuid4().hex[:6]}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "yiyang", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                time.sleep(1.0)  # MQTT subscription
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def login(base: str, username: str = "operator") -> httpx.Cookies:
    c = httpx.Client(base_url=base)
    page = c.get("/login").text  # the form's CSRF token (and its cookie)
    marker = 'name="csrf_token" value="'
    csrf = page[page.index(marker) + len(marker) :].split('"', 1)[0]
    form = {"username": username, "password": PASSWORD, "next": "/console", "csrf_token": csrf}
    r = c.post("/login", data=form)
    assert r.status_code == 303, r.text
    return c.cookies


async def console(
    base: str, cookies: httpx.Cookies, got: dict[int, float], ready: asyncio.Event
) -> None:
    async with (
        httpx.AsyncClient(base_url=base, cookies=cookies, timeout=None) as c,
        c.stream("GET", "/console/stream") as r,
    ):
        event = ""
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
                if event == "hello":
                    ready.set()
            elif line.startswith("data: ") and event == "row":
                data = orjson.loads(line[6:])
                got.setdefault(data["elder_id"], time.perf_counter())


async def push_latency(base: str, serials: list[tuple[str, int]], consoles: int, n: int) -> None:
    import paho.mqtt.client as mqtt

    cookies = [login(base) for _ in range(consoles)]
    received: list[dict[int, float]] = [{} for _ in range(consoles)]
    ready = [asyncio.Event() for _ in range(consoles)]
    tasks = [
        asyncio.create_task(console(base, cookies[i], received[i], ready[i]))
        for i in range(consoles)
    ]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 30)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="console-bench-pub")
    pub.connect("127.0.0.1", PORT)
    pub.loop_start()
    published: dict[int, float] = {}
    for serial, elder in serials[:n]:
        body = orjson.dumps(
            {
                "v": 1,
                "id": uuid.uuid4().hex[:16],
                "device": serial,
                "type": "sos_button",
                "event": "sos",
                "ts": dt.datetime.now(dt.UTC).isoformat(),
            }
        )
        published[elder] = time.perf_counter()
        pub.publish(f"yiyang/v1/devices/{serial}/up", body, qos=1)
        await asyncio.sleep(0.25)
    await asyncio.sleep(3)
    pub.loop_stop()
    for t in tasks:
        t.cancel()
    lat = [(got[e] - t0) * 1000 for got in received for e, t0 in published.items() if e in got]
    missing = consoles * len(published) - len(lat)
    print(
        f"  push: {len(published)} SOS × {consoles} consoles = {len(lat)} deliveries"
        f" ({missing} missing); publish → console row p50 {pct(lat, 50):.0f} ms,"
        f" p95 {pct(lat, 95):.0f} ms, p99 {pct(lat, 99):.0f} ms, max {max(lat):.0f} ms"
    )


def card_latency(base: str, n: int) -> None:
    c = httpx.Client(base_url=base, cookies=login(base, "operator2"))
    ids = [a["id"] for a in c.get("/api/console/queue").json()]
    times = []
    for i in range(n):
        t = time.perf_counter()
        r = c.get(f"/console/alerts/{ids[i % len(ids)]}")
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.status_code
    print(
        f"  emergency card page ({len(ids)} open alerts): p50 {pct(times, 50):.1f} ms,"
        f" p95 {pct(times, 95):.1f} ms, p99 {pct(times, 99):.1f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--elders", type=int, default=5000)
    ap.add_argument("--open", type=int, default=500)
    ap.add_argument("--consoles", type=int, default=20)
    ap.add_argument("--sos", type=int, default=100)
    ap.add_argument("--cards", type=int, default=300)
    args = ap.parse_args()
    print("console bench: seeding PostgreSQL")
    serials = fresh_database(args.elders, args.open)
    broker = start_broker()
    proc, base = serve()
    try:
        asyncio.run(push_latency(base, serials, args.consoles, args.sos))
        card_latency(base, args.cards)
    finally:
        proc.terminate()
        proc.wait(10)
        broker.terminate()


if __name__ == "__main__":
    main()
