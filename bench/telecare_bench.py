"""Alarm receiving centre benchmarks (issue #5): the DC-09 receiver and the JetStream pipeline.

    .venv/bin/python bench/telecare_bench.py [--panels 2000] [--seconds 15] [--connections 200]
                                             [--messages 40000]

Everything runs on this machine against PostgreSQL (127.0.0.1:5432, its own database
yiyang_telecare_bench) and NATS JetStream (127.0.0.1:4222, streams of its own).

1. DC-09 receiver: ``yiyang gateway`` (DC-09 on TCP, JetStream bus) and two ``yiyang worker``
   processes run as in production. ``--connections`` simulated panels (asyncio TCP clients in
   this process) send blocks back to back for ``--seconds``: 90 % NULL link tests, 10 % Contact
   ID events (602 periodic test reports and some 101 pendant alarms), each waiting for its ACK.
   Reported: ACKed blocks per second, ACK latency p50/p95/p99 (send → ACK received) for polls
   and for events. An event's ACK means "stored in JetStream".
2. JetStream pipeline: ``--messages`` device messages (the simulator's mix) are put on a fresh
   stream first; then 1 worker process, and in a second fresh stream 2 worker processes, drain
   it into PostgreSQL (rules, alerts). Rate = messages / time to drain; the ratio 2 : 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).parent))
from alarm_bench import pct, recreate_database

ADMIN_URL = os.environ.get(
    "YIYANG_BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DB = "yiyang_telecare_bench"
URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB
NATS = os.environ.get("YIYANG_BENCH_NATS", "nats://127.0.0.1:4222")
DC09_PORT = 12099


def fresh_database(elders: int, panels: int) -> list[str]:
    """Demo district plus ``panels`` alarm panels with DC-09 accounts; returns the accounts."""
    from yiyang.core import db
    from yiyang.demo.load import load
    from yiyang.devices.models import AlarmAccount, Device
    from yiyang.registry.models import Elder

    engine = recreate_database(DB, ADMIN_URL)
    with db.unit_of_work() as session:
        load(session, elders, seed=3)
        homes = session.execute(select(Elder.id, Elder.region_path).limit(panels)).all()
        accounts = [f"{i + 1:06d}" for i in range(len(homes))]
        devices = [
            Device(
                serial=f"PANEL-{a}",
                device_type="alarm_panel",
                elder_id=h.id,
                region_path=h.region_path,
                report_interval_s=3600,
                status="active",
            )
            for a, h in zip(accounts, homes, strict=True)
        ]
        session.add_all(devices)
        session.flush()
        session.add_all(
            AlarmAccount(device_id=d.id, account=a) for d, a in zip(devices, accounts, strict=True)
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    print(f"  {elders:,} elders, {len(accounts):,} alarm panels with DC-09 accounts")
    return accounts


def env(stream: str) -> dict[str, str]:
    return {
        **os.environ,
        "YIYANG_DATABASE_URL": URL,
        "YIYANG_BUS_URL": NATS,
        "YIYANG_BUS_STREAM": stream,
        "YIYANG_MQTT_URL": "",
        "YIYANG_SWEEP_SECONDS": "3600",
    }


def spawn(args: list[str], stream: str, log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    return subprocess.Popen(
        [sys.executable, "-m", "yiyang", *args],
        env=env(stream),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def stop_all(procs: list[subprocess.Popen]) -> None:  # type: ignore[type-arg]
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()


def wait_for(log: Path, marker: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while marker not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise SystemExit(f"'{marker}' not in {log}:\n{log.read_text()}")
        time.sleep(0.1)


# -- 1. DC-09 receiver --------------------------------------------------------------------------
@functools.cache
def block(account: str, seq: int, code: str | None) -> bytes:
    """One DC-09 block, built once: an unencrypted block carries no timestamp, so the same
    bytes stay valid for the whole run, and the load generator spends its time sending and
    timing, not computing CRCs in Python (dc09_spt is pure Python)."""
    from dc09_spt.msg.dc05_msg import dc05_msg
    from dc09_spt.msg.dc09_msg import dc09_msg

    msg = dc09_msg(account, None, 1, 1)
    if code is None:
        return msg.dc09block(seq, "NULL").encode()
    return msg.dc09block(seq, "ADM-CID", dc05_msg.dc05event(account, {"code": code})).encode()


async def panel_client(
    account: str,
    until: float,
    lat: dict[str, list[float]],
    rng: random.Random,
    every: float = 0.0,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", DC09_PORT)
    seq = 0
    due = time.perf_counter() + rng.random() * every
    try:
        while time.perf_counter() < until:
            if every:  # paced: one block every ``every`` seconds
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                due += every
            seq = seq % 9 + 1  # dc09_spt writes the sequence in hex: keep it to one digit
            if rng.random() < 0.10:
                code: str | None = "101" if rng.random() < 0.05 else "602"
                kind = "event"
            else:
                code, kind = None, "poll"
            data = block(account, seq, code)
            t0 = time.perf_counter()
            writer.write(data)
            await writer.drain()
            reply = await reader.readuntil(b"\r")
            if b'"ACK"' in reply:
                lat[kind].append((time.perf_counter() - t0) * 1000)
            else:
                lat["other"].append(0)
    finally:
        writer.close()


def dc09_bench(  # type: ignore[type-arg]
    accounts: list[str], seconds: float, connections: int, tmp: Path, rate: float
) -> list[dict]:
    stream = f"BENCHDC{uuid.uuid4().hex[:6].upper()}"
    procs = [
        spawn(
            ["gateway", "--dc09-port", str(DC09_PORT), "--health-port", "18091"],
            stream,
            tmp / "gw.log",
        ),
        spawn(["worker"], stream, tmp / "w1.log"),
        spawn(["worker"], stream, tmp / "w2.log"),
    ]
    try:
        wait_for(tmp / "gw.log", "gateway:")
        for name in ("w1.log", "w2.log"):
            wait_for(tmp / name, "worker: consuming")
        for a in accounts[:connections]:  # every block the panels will send, built up front
            for seq in range(1, 10):
                for code in (None, "602", "101"):
                    block(a, seq, code)
        results = []
        for offered in (rate, 0.0):  # paced at ``rate``, then as fast as the panels can
            lat: dict[str, list[float]] = {"poll": [], "event": [], "other": []}
            rng = random.Random(7)
            every = connections / offered if offered else 0.0

            async def run(lat: dict[str, list[float]], rng: random.Random, every: float) -> float:
                start = time.perf_counter()
                until = start + seconds
                await asyncio.gather(
                    *(panel_client(a, until, lat, rng, every) for a in accounts[:connections])
                )
                return time.perf_counter() - start

            elapsed = asyncio.run(run(lat, rng, every))
            acked = len(lat["poll"]) + len(lat["event"])
            both = lat["poll"] + lat["event"]
            results.append(
                {
                    "offered": offered,
                    "acked_per_s": acked / elapsed,
                    "acked": acked,
                    "not_acked": len(lat["other"]),
                    "events": len(lat["event"]),
                    "all": (pct(both, 50), pct(both, 95), pct(both, 99)),
                    "poll": (pct(lat["poll"], 50), pct(lat["poll"], 95), pct(lat["poll"], 99)),
                    "event": (
                        pct(lat["event"], 50),
                        pct(lat["event"], 95),
                        pct(lat["event"], 99),
                    ),
                }
            )
        return results
    finally:
        stop_all(procs)
        asyncio.run(drop_stream(stream))


async def drop_stream(stream: str) -> None:
    import nats

    nc = await nats.connect(NATS)
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_stream(stream)
    await nc.close()


# -- 2. JetStream pipeline, 1 vs 2 workers -----------------------------------------------------
def preload(stream: str, n: int, seed: int) -> None:
    from yiyang.core import db
    from yiyang.devices import simulator
    from yiyang.pipeline.gateway import RawMessage
    from yiyang.pipeline.jetstream import JetStreamBus
    from yiyang.pipeline.runtime import Pipeline

    with db.unit_of_work() as session:
        kits, _ = simulator.load_kits(session, 5000)
    import orjson

    # the simulator's ordinary mix, as one big burst; its ids are unique per process
    objs = next(simulator.live(kits, n, seed))
    plans = [
        RawMessage("mqtt", f"yiyang/v1/devices/{o['device']}/up", orjson.dumps(o)) for o in objs
    ]

    async def go() -> None:
        bus = JetStreamBus(NATS, stream=stream, partitions=16)
        pipe = Pipeline(bus, consume=False, listen=False, loops=False)
        await pipe.start()
        try:
            for i in range(0, len(plans), 500):
                outcomes = await pipe.gateway.submit(plans[i : i + 500])
                rejected = [r for o in outcomes for r in o.rejected]
                if rejected:
                    raise SystemExit(f"preload rejected: {rejected[:3]}")
        finally:
            await pipe.stop()

    asyncio.run(go())


async def pending(stream: str) -> int:
    import nats

    nc = await nats.connect(NATS)
    try:
        info = await nc.jetstream().stream_info(stream)
        return int(info.state.messages)
    finally:
        await nc.close()


def drain_rate(workers: int, n: int, tmp: Path, seed: int) -> float:
    stream = f"BENCHJS{workers}{uuid.uuid4().hex[:6].upper()}"
    preload(stream, n, seed)
    start_pending = asyncio.run(pending(stream))
    procs = [spawn(["worker"], stream, tmp / f"js{workers}-{i}.log") for i in range(workers)]
    try:
        t0 = time.perf_counter()
        while asyncio.run(pending(stream)) > 0:
            time.sleep(0.1)
        elapsed = time.perf_counter() - t0
    finally:
        stop_all(procs)
        asyncio.run(drop_stream(stream))
    print(
        f"    {workers} worker(s): {n:,} messages ({start_pending} JetStream batches)"
        f" in {elapsed:.1f} s"
    )
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--elders", type=int, default=5000)
    parser.add_argument("--panels", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--messages", type=int, default=40000)
    parser.add_argument("--rate", type=float, default=2000, help="paced DC-09 blocks per second")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="yiyang-telecare-"))
    print("setting up PostgreSQL")
    accounts = fresh_database(args.elders, args.panels)

    print(f"\n1. DC-09 receiver: {args.connections} panels over TCP, {args.seconds:.0f} s per run")
    for r in dc09_bench(accounts, args.seconds, args.connections, tmp, args.rate):
        load = f"offered {r['offered']:,.0f}/s" if r["offered"] else "saturated (back to back)"
        print(
            f"  {load}: ACKed {r['acked']:,} blocks ({r['events']:,} Contact ID events), "
            f"{r['acked_per_s']:,.0f}/s; not ACKed: {r['not_acked']}"
        )
        for kind in ("all", "poll", "event"):
            p50, p95, p99 = r[kind]
            print(
                f"    ACK latency {kind:<5}: p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms"
            )

    print(f"\n2. JetStream pipeline: drain {args.messages:,} messages into PostgreSQL")
    one = drain_rate(1, args.messages, tmp, 1)
    two = drain_rate(2, args.messages, tmp, 2)
    print(f"  1 worker: {one:,.0f} msg/s   2 workers: {two:,.0f} msg/s   ratio {two / one:.2f}")
    print(f"\nlogs: {tmp}")


if __name__ == "__main__":
    main()
