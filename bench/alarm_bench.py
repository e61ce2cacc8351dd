"""Alarm pipeline benchmarks on PostgreSQL and the real Mosquitto broker (issue #3 targets).

    .venv/bin/python bench/alarm_bench.py [--elders 40000] [--messages 100000]
                                          [--sos 200] [--replay-elders 10000]

1. Throughput: a publisher process sends ``--messages`` device messages (the simulator's
   ordinary mix) as fast as it can, QoS 1, to a Mosquitto started by the bench (port 18830,
   production queue settings, see BROKER_CONF). A bare paho subscriber (another
   process, QoS 1, no work at all) and Yiyang's pipeline (MQTT listener acknowledging after
   storing → gateway → in-process bus → rule worker → PostgreSQL) receive the same stream in the
   same run. Rates are messages divided by first-to-last-message time; the ratio is ours / bare.
2. SOS latency under that load: ``--sos`` SOS presses (one per elder, spread over the run) are
   published among the ordinary messages; latency = publish time → the alert's commit (the
   pipeline's post-commit event), p50/p95/p99.
3. Day replay: a simulated day (24 h) of ordinary traffic for ``--replay-elders`` equipped
   elders, fed through the gateway (no MQTT) with the hourly sweeps in between — wall time.

Creates and drops its own database (yiyang_alarm_bench) on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, select, text

ADMIN_URL = os.environ.get(
    "YIYANG_BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DB = "yiyang_alarm_bench"
URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB
TOPIC = "yiyang/v1/devices/{}/up"
PORT = int(os.environ.get("YIYANG_BENCH_MQTT_PORT", "18830"))
# Production broker settings (docs/deploy.md): the gateway acknowledges only after storing, so a
# subscriber that falls behind must be queued for, not dropped (Debian's default queue is 1,000
# messages per client, beyond which QoS-1 messages are silently discarded).
BROKER_CONF = f"""
listener {PORT} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_inflight_messages 0
"""


def start_broker() -> subprocess.Popen:  # type: ignore[type-arg]
    conf = Path(tempfile.mkdtemp()) / "mosquitto.conf"
    conf.write_text(BROKER_CONF)
    broker = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    import socket

    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
            return broker
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"mosquitto did not start on port {PORT}")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- helper processes -------------------------------------------------------------------------


def bare_subscriber(expected: int, ready: Path) -> None:
    """Count messages with no work at all; print first/last arrival times."""
    import paho.mqtt.client as mqtt

    times: list[float] = []

    def on_message(_c: object, _u: object, _m: object) -> None:
        times.append(time.time())

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bare-{uuid.uuid4().hex[:8]}")
    client.on_message = on_message
    client.on_connect = lambda c, *_: (c.subscribe("yiyang/v1/+/+/up", qos=1), ready.touch())
    client.connect("127.0.0.1", PORT)
    client.loop_start()
    deadline = time.time() + 600
    while len(times) < expected and time.time() < deadline:
        time.sleep(0.05)
    client.loop_stop()
    print(
        json.dumps(
            {
                "count": len(times),
                "first": times[0] if times else 0,
                "last": times[-1] if times else 0,
            }
        )
    )


def publisher(path: Path, rate: float) -> None:
    """Publish the prepared messages (QoS 1) as fast as the broker takes them, or at ``rate``
    messages a second."""
    import paho.mqtt.client as mqtt

    plan = json.loads(path.read_text())
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", PORT)
    client.loop_start()
    sos_sent: dict[str, float] = {}
    window: list[mqtt.MQTTMessageInfo] = []
    start = time.perf_counter()
    for n, item in enumerate(plan["messages"]):
        if rate and n % 50 == 0:
            ahead = n / rate - (time.perf_counter() - start)
            if ahead > 0:
                time.sleep(ahead)
        body = item["body"].encode()
        if item.get("sos_elder"):
            sos_sent[str(item["sos_elder"])] = time.time()
        info = client.publish(TOPIC.format(item["serial"]), body, qos=1)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, info.rc
        window.append(info)
        if len(window) >= 20_000:  # message ids are 16-bit: keep fewer than 65,535 unacked
            window[-10_000].wait_for_publish(120)
            window = window[-10_000:]
    for info in window:
        info.wait_for_publish(120)
    client.loop_stop()
    print(json.dumps({"sos": sos_sent}))


# -- setup ---------------------------------------------------------------------------------


def recreate_database(name: str, admin_url: str = ADMIN_URL) -> Engine:
    """Drop and create database ``name``, migrate it and make it the app's engine."""
    from yiyang.core import db
    from yiyang.core.migrate import upgrade

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = db.make_engine(admin_url.rsplit("/", 1)[0] + "/" + name)
    upgrade(engine)
    db.set_engine(engine)
    return engine


def fresh_database(elders: int) -> None:
    from yiyang.core import db
    from yiyang.demo.load import load

    engine = recreate_database(DB)
    t = time.perf_counter()
    with db.unit_of_work() as session:
        out = load(session, elders, seed=3)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    print(
        f"  loaded {out['created']:,} elders, {out['devices']:,} devices"
        f" in {time.perf_counter() - t:.0f}s"
    )


def plan_messages(kits: list, n: int, sos: int, seed: int = 5) -> dict:  # type: ignore[type-arg]
    """n ordinary messages with ``sos`` SOS presses spread evenly among them."""
    import orjson

    from yiyang.devices import simulator

    rnd = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    with_sos = [k for k in kits if "sos_button" in k.devices]
    rnd.shuffle(with_sos)
    every = max(1, n // max(1, sos))
    out = []
    for i in range(n):
        if i % every == every // 2 and with_sos:
            kit = with_sos.pop()
            serial = kit.devices["sos_button"][0]
            body = simulator.msg(serial, "sos_button", "sos", now)
            out.append(
                {"serial": serial, "body": orjson.dumps(body).decode(), "sos_elder": kit.elder_id}
            )
            continue
        kit = rnd.choice(kits)
        dtype = rnd.choice(list(kit.devices))
        serial = kit.devices[dtype][0]
        body = simulator._ordinary(kit, dtype, serial, now, rnd)
        out.append({"serial": serial, "body": orjson.dumps(body).decode()})
    return {"messages": out}


# -- phases --------------------------------------------------------------------------------


def throughput(kits: list, n: int, sos: int, rate: float = 0) -> dict:  # type: ignore[type-arg]
    from yiyang.core import events
    from yiyang.runtime import Pipeline

    plan = plan_messages(kits, n, sos)
    sos_count = sum(1 for m in plan["messages"] if m.get("sos_elder"))
    tmp = Path(tempfile.mkdtemp())
    (tmp / "plan.json").write_text(json.dumps(plan))
    ready = tmp / "bare-ready"
    bare = subprocess.Popen(
        [sys.executable, __file__, "--role", "bare", "--expect", str(n), "--ready", str(ready)],
        stdout=subprocess.PIPE,
        text=True,
    )
    alert_times: dict[int, float] = {}
    unlisten = events.listen(
        lambda topic, p: (
            alert_times.setdefault(p["elder_id"], time.time()) if topic == "alert.created" else None
        )
    )

    async def run() -> dict:  # type: ignore[type-arg]
        pipeline = Pipeline(
            mqtt_url=f"mqtt://127.0.0.1:{PORT}",
            mqtt_client_id=f"yiyang-bench-{uuid.uuid4().hex[:6]}",
            loops=False,
        )
        await pipeline.start()
        listener = pipeline.mqtt
        assert listener is not None
        while not (listener.connected.is_set() and ready.exists()):
            await asyncio.sleep(0.1)
        first: list[float] = []
        original = pipeline.gateway.submit

        async def timed(raws):  # type: ignore[no-untyped-def]
            if not first:
                first.append(time.time())
            return await original(raws)

        pipeline.gateway.submit = timed  # type: ignore[method-assign]
        pub = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--role",
                "publish",
                "--plan",
                str(tmp / "plan.json"),
                "--rate",
                str(rate),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        t0 = time.time()
        done_at = None
        while time.time() - t0 < 900:
            await asyncio.sleep(0.05)
            if pipeline.worker.processed >= n:
                done_at = time.time()
                break
        pub_out = json.loads(pub.communicate()[0])
        await pipeline.stop()
        return {
            "first": first[0],
            "done": done_at,
            "processed": pipeline.worker.processed,
            "pub": pub_out,
        }

    try:
        result = asyncio.run(run())
    finally:
        unlisten()
    bare_out = json.loads(bare.communicate()[0])
    ours = result["processed"] / (result["done"] - result["first"])
    base = bare_out["count"] / max(1e-9, bare_out["last"] - bare_out["first"])
    lat = [
        (alert_times[int(e)] - t) * 1000
        for e, t in result["pub"]["sos"].items()
        if int(e) in alert_times
    ]
    paced = f"paced at {rate:,.0f}/s" if rate else "as fast as possible"
    print(f"  messages {n:,} (incl. {sos_count} SOS, {paced})   processed {result['processed']:,}")
    print(
        f"  bare subscriber: {base:,.0f} msg/s   Yiyang pipeline: {ours:,.0f} msg/s"
        f"   ratio {ours / base:.2f}"
    )
    print(
        f"  SOS → stored alert: {len(lat)}/{sos_count} alerts, "
        f"p50 {statistics.median(lat):.0f} ms, "
        f"p95 {pct(lat, 95):.0f} ms, p99 {pct(lat, 99):.0f} ms, max {max(lat):.0f} ms"
    )
    return {"ours": ours, "bare": base, "lat": lat}


def replay(kits: list) -> None:  # type: ignore[type-arg]
    import orjson

    from yiyang.devices import simulator
    from yiyang.devices.gateway import RawMessage
    from yiyang.runtime import Pipeline

    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(
        hours=25
    )
    t = time.perf_counter()
    day = simulator.day(kits, start, seed=9)
    print(
        f"  generated a day: {len(day):,} messages for {len(kits):,} elders"
        f" in {time.perf_counter() - t:.0f}s"
    )

    async def run() -> float:
        pipeline = Pipeline(mqtt_url="", loops=False)
        await pipeline.start()
        gate = asyncio.Semaphore(6)
        tasks = []
        t0 = time.perf_counter()
        hour = None
        for i in range(0, len(day), 500):
            chunk = day[i : i + 500]
            at = dt.datetime.fromisoformat(chunk[0]["ts"])
            if hour is not None and at.hour != hour:
                await asyncio.gather(*tasks)
                tasks = []
                await pipeline.sweep(now=at)  # the hourly silence/health checks, on replay time
            hour = at.hour
            await gate.acquire()

            async def send(body: bytes) -> None:
                try:
                    await pipeline.gateway.submit([RawMessage("replay", "replay", body)])
                finally:
                    gate.release()

            tasks.append(asyncio.create_task(send(orjson.dumps(chunk))))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
        await pipeline.stop()
        print(
            f"  replayed {pipeline.worker.processed:,} bus messages "
            f"({pipeline.gateway.accepted_total:,} "
            f"device messages, {pipeline.gateway.rejected_total} rejected) in {elapsed:.0f}s "
            f"= {pipeline.gateway.accepted_total / elapsed:,.0f} msg/s; "
            f"alerts raised {pipeline.worker.alerts_created}"
        )
        return elapsed

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", default="main")
    parser.add_argument("--expect", type=int, default=0)
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--plan", type=Path)
    parser.add_argument("--elders", type=int, default=40_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--sos", type=int, default=200)
    parser.add_argument("--replay-elders", type=int, default=10_000)
    parser.add_argument("--skip-replay", action="store_true")
    parser.add_argument(
        "--rate", type=float, default=0, help="publish at this rate (0: as fast as possible)"
    )
    parser.add_argument("--reuse", action="store_true", help="keep the database of the last run")
    args = parser.parse_args()
    if args.role == "bare":
        bare_subscriber(args.expect, args.ready)
        return
    if args.role == "publish":
        publisher(args.plan, args.rate)
        return

    os.environ["YIYANG_DATABASE_URL"] = URL
    os.environ["YIYANG_MQTT_SESSION_EXPIRY_S"] = "60"
    from yiyang.core import db
    from yiyang.devices import simulator
    from yiyang.devices.models import Device

    if args.reuse:
        db.set_engine(db.make_engine(URL))
        with db.unit_of_work() as session:  # so every SOS of this run opens a new alert
            session.execute(text("UPDATE alert SET state = 'resolved' WHERE state <> 'resolved'"))
    else:
        print(f"setting up {DB}: {args.elders:,} elders")
        fresh_database(args.elders)
    with db.unit_of_work() as session:
        kits, _ = simulator.load_kits(session, 10**9)
        devices = session.scalar(select(func.count()).select_from(Device))
    print(f"  {len(kits):,} equipped elders, {devices:,} devices")
    print(f"1+2. throughput through Mosquitto (own instance on :{PORT}), SOS latency under load")
    broker = start_broker()
    try:
        throughput(kits, args.messages, args.sos, args.rate)
    finally:
        broker.terminate()
    if not args.skip_replay:
        print(f"3. day replay for {args.replay_elders:,} elders")
        replay(kits[: args.replay_elders])


if __name__ == "__main__":
    main()
