"""Alarm pipeline benchmarks on PostgreSQL and the real Mosquitto broker (issue #3 targets).

    .venv/bin/python bench/alarm_bench.py [--elders 40000] [--messages 100000] [--sos 200]
        [--rate 5000] [--replay-elders 10000] [--skip-replay] [--reuse] [--workers N]

1. Throughput: a publisher process sends ``--messages`` device messages (the simulator's
   ordinary mix), QoS 1, to a Mosquitto started by the bench (port 18830, production queue
   settings, see BROKER_CONF) — paced at ``--rate`` messages/s, or as fast as it can (0). The
   publisher writes pre-built MQTT packets to its socket so that it, not the pipeline, is never
   the limit. A bare subscriber (Mosquitto's own C client, QoS 1, no work at all) and Yiyang's
   pipeline (MQTT listener acknowledging after storing → gateway → in-process bus → rule worker
   → PostgreSQL) receive the same stream in the same run. Rates are messages divided by
   first-to-last-message time; the ratio is ours / bare. CPU per message is read from /proc.
   ``--workers N``: the scaled-out deployment instead — this process is the gateway (MQTT →
   JetStream) and N ``yiyang worker`` processes consume the stream.
2. SOS latency under that load: ``--sos`` SOS presses (one per elder, spread over the run) are
   published among the ordinary messages; latency = publish time → the alert's commit (the
   pipeline's post-commit event), p50/p95/p99, split into publish → gateway, gateway → worker
   and worker → commit.
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
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, select, text

ADMIN_URL = os.environ.get(
    "YIYANG_BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DB = "yiyang_alarm_bench"
URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB
NATS = os.environ.get("YIYANG_BENCH_NATS", "nats://127.0.0.1:4222")
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


def postgres_cpu() -> float:
    """CPU seconds used so far by every PostgreSQL process on this machine (Linux /proc)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if "(postgres)" in stat:
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- helper processes -------------------------------------------------------------------------


def start_bare_subscriber(expected: int, out: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    """The baseline: Mosquitto's own C client, subscribed like the gateway (QoS 1, MQTT 5),
    doing no work but printing each arrival time. Its rate is what the broker can deliver to
    one subscriber on this machine while everything else runs."""
    sub = subprocess.Popen(
        [
            *("mosquitto_sub", "-h", "127.0.0.1", "-p", str(PORT), "-V", "5", "-q", "1"),
            *("-t", "yiyang/v1/+/+/up", "-C", str(expected), "-F", "%U"),
        ],
        stdout=out.open("w"),
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # let it subscribe
    return sub


def bare_result(sub: subprocess.Popen, out: Path) -> dict:  # type: ignore[type-arg]
    try:
        sub.wait(timeout=120)
    except subprocess.TimeoutExpired:
        sub.kill()
    times = [float(x) for x in out.read_text().split()]
    return {
        "count": len(times),
        "first": times[0] if times else 0,
        "last": times[-1] if times else 0,
    }


def _publish_packet(topic: str, body: bytes, packet_id: int) -> bytes:
    """An MQTT 3.1.1 PUBLISH, QoS 1."""
    from yiyang.pipeline.transports.mqtt import varint

    t = topic.encode()
    rest = len(t).to_bytes(2, "big") + t + packet_id.to_bytes(2, "big") + body
    return b"\x32" + varint(len(rest)) + rest


def publisher(path: Path, rate: float) -> None:
    """Publish the prepared messages (QoS 1) as fast as the broker takes them, or paced at
    ``rate`` messages a second.

    A load generator must not be the bottleneck (paho's Python publisher tops out near 3,500
    msg/s on this machine and takes half a core doing it), so this one writes pre-built MQTT
    3.1.1 PUBLISH packets straight to the socket and counts the broker's PUBACKs on a reader
    thread, with at most 30,000 messages unacknowledged."""
    import socket
    import threading

    from yiyang.pipeline.transports.mqtt import varint

    plan = json.loads(path.read_text())
    items = plan["messages"]
    packets = [
        _publish_packet(TOPIC.format(m["serial"]), m["body"].encode(), n % 65535 + 1)
        for n, m in enumerate(items)
    ]
    sock = socket.create_connection(("127.0.0.1", PORT))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client_id = f"pub-{uuid.uuid4().hex[:8]}".encode()
    var = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
    sock.sendall(b"\x10" + varint(len(var)) + var)
    assert sock.recv(4)[:2] == b"\x20\x02", "no CONNACK"
    acked = [0]
    done = threading.Event()

    def read_acks() -> None:
        pending = b""
        while acked[0] < len(packets):
            chunk = sock.recv(65536)
            if not chunk:
                break
            pending += chunk
            whole = len(pending) // 4  # the broker sends only PUBACKs here, 4 bytes each
            acked[0] += whole
            pending = pending[whole * 4 :]
        done.set()

    reader = threading.Thread(target=read_acks, daemon=True)
    reader.start()
    sos_at = {n: str(m["sos_elder"]) for n, m in enumerate(items) if m.get("sos_elder")}
    sos_sent: dict[str, float] = {}
    start = time.perf_counter()
    sent = 0
    while sent < len(packets):
        due = len(packets) if not rate else int((time.perf_counter() - start) * rate) + 1
        due = min(due, len(packets), acked[0] + 30_000, sent + 2_000)
        if due <= sent:
            time.sleep(0.002)
            continue
        stamp = time.time()
        for n in range(sent, due):
            if n in sos_at:
                sos_sent[sos_at[n]] = stamp
        sock.sendall(b"".join(packets[sent:due]))
        sent = due
    done.wait(300)
    elapsed = time.perf_counter() - start
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    sock.close()
    print(json.dumps({"sos": sos_sent, "sent": sent, "acked": acked[0], "seconds": elapsed}))


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


def proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def listen_for_alerts(alert_times: dict[int, float], stop: threading.Event) -> None:
    """Alert commits as PostgreSQL notifications (the workers are other processes)."""
    import orjson
    import psycopg

    from yiyang.core import events

    with psycopg.connect(URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"LISTEN {events.CHANNEL}")
        while not stop.is_set():
            for note in conn.notifies(timeout=0.2):
                body = orjson.loads(note.payload)
                if body.get("topic") == "alert.created":
                    alert_times.setdefault(body["elder_id"], time.time())


def start_workers(count: int, stream: str, tmp: Path) -> list[subprocess.Popen]:  # type: ignore[type-arg]
    env = {
        **os.environ,
        "YIYANG_DATABASE_URL": URL,
        "YIYANG_BUS_URL": NATS,
        "YIYANG_BUS_STREAM": stream,
        "YIYANG_MQTT_URL": "",
        "YIYANG_SWEEP_SECONDS": "3600",
    }
    procs, logs = [], []
    for i in range(count):
        log = tmp / f"worker-{i}.log"
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "yiyang", "worker"],
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
        )
    deadline = time.monotonic() + 60
    for log in logs:
        while "worker: consuming" not in log.read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise SystemExit(f"worker did not start:\n{log.read_text()}")
            time.sleep(0.1)
    return procs


def throughput(  # type: ignore[type-arg]
    kits: list, n: int, sos: int, rate: float = 0, workers: int = 0
) -> dict:
    """``workers`` 0: one process with the in-process bus (what ``make run`` runs); N: the
    scaled-out deployment — this process is ``yiyang gateway`` (MQTT → JetStream) and N
    ``yiyang worker`` processes consume the stream (docs/deploy.md)."""
    from yiyang.core import events
    from yiyang.pipeline.jetstream import JetStreamBus
    from yiyang.pipeline.runtime import Pipeline, default_partitions

    plan = plan_messages(kits, n, sos)
    sos_count = sum(1 for m in plan["messages"] if m.get("sos_elder"))
    tmp = Path(tempfile.mkdtemp())
    (tmp / "plan.json").write_text(json.dumps(plan))
    bare_out_path = tmp / "bare.txt"
    alert_times: dict[int, float] = {}
    unlisten = events.listen(
        lambda topic, p: (
            alert_times.setdefault(p["elder_id"], time.time()) if topic == "alert.created" else None
        )
    )

    import gc

    pauses: list[tuple[int, float]] = []
    gc_started = [0.0]

    def gc_watch(phase: str, info: dict) -> None:  # type: ignore[type-arg]
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], (time.perf_counter() - gc_started[0]) * 1000))

    gc.callbacks.append(gc_watch)
    stream = f"ALARMBENCH{uuid.uuid4().hex[:6].upper()}"
    procs = start_workers(workers, stream, tmp) if workers else []
    stop_listening = threading.Event()
    if workers:
        threading.Thread(
            target=listen_for_alerts, args=(alert_times, stop_listening), daemon=True
        ).start()

    async def run() -> dict:  # type: ignore[type-arg]
        bus = (
            JetStreamBus(NATS, stream=stream, partitions=default_partitions()) if workers else None
        )
        pipeline = Pipeline(
            bus,
            mqtt_url=f"mqtt://127.0.0.1:{PORT}",
            mqtt_client_id=f"yiyang-bench-{uuid.uuid4().hex[:6]}",
            loops=False,
            consume=not workers,
        )
        await pipeline.start()
        listener = pipeline.mqtt
        assert listener is not None
        while not listener.connected.is_set():
            await asyncio.sleep(0.1)
        bare = start_bare_subscriber(n, bare_out_path)
        first: list[float] = []
        original = pipeline.gateway.submit

        async def timed(raws, **kw):  # type: ignore[no-untyped-def]
            if not first:
                first.append(time.time())
            return await original(raws, **kw)

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
        nats_pid = int(
            subprocess.run(
                ["pgrep", "-o", "nats-server"], capture_output=True, text=True
            ).stdout.strip()
            or 0
        )
        cpu0, pg0 = time.process_time(), postgres_cpu()
        w0 = [proc_cpu(p.pid) for p in procs]
        nats0 = proc_cpu(nats_pid)
        done_at = None
        while time.time() - t0 < 900:
            await asyncio.sleep(0.05)
            if workers:
                gw = pipeline.gateway
                if gw.accepted_total + gw.rejected_total >= n and not await bus.pending():
                    done_at = time.time()
                    break
            elif pipeline.worker.processed >= n:
                done_at = time.time()
                break
        cpu = {
            "ours": time.process_time() - cpu0,
            "pg": postgres_cpu() - pg0,
            "workers": sum(proc_cpu(p.pid) for p in procs) - sum(w0),
            "nats": proc_cpu(nats_pid) - nats0 if workers else 0.0,
        }
        pub_out = json.loads(pub.communicate()[0])
        processed = pipeline.gateway.accepted_total if workers else pipeline.worker.processed
        if bus is not None:
            await bus.delete_stream()
        await pipeline.stop()
        return {
            "bare": bare_result(bare, bare_out_path),
            "cpu": cpu,
            "first": first[0],
            "done": done_at,
            "processed": processed,
            "pub": pub_out,
        }

    try:
        result = asyncio.run(run())
    finally:
        unlisten()
        stop_listening.set()
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(20)
    bare_out = result["bare"]
    ours = result["processed"] / (result["done"] - result["first"])
    base = bare_out["count"] / max(1e-9, bare_out["last"] - bare_out["first"])
    lat = [
        (alert_times[int(e)] - t) * 1000
        for e, t in result["pub"]["sos"].items()
        if int(e) in alert_times
    ]
    paced = f"paced at {rate:,.0f}/s" if rate else "as fast as possible"
    cpu = result["cpu"]
    how = f"gateway + {workers} worker process(es) over JetStream" if workers else "one process"
    print(f"  {how}: messages {n:,} (incl. {sos_count} SOS, {paced})")
    print(f"  processed {result['processed']:,}")
    print(
        f"  bare subscriber: {base:,.0f} msg/s   Yiyang pipeline: {ours:,.0f} msg/s"
        f"   ratio {ours / base:.2f}"
    )
    if workers:
        print(
            f"  CPU per message: gateway {cpu['ours'] / n * 1e6:.0f} µs,"
            f" {workers} worker(s) {cpu['workers'] / n * 1e6:.0f} µs,"
            f" NATS {cpu['nats'] / n * 1e6:.0f} µs, PostgreSQL {cpu['pg'] / n * 1e6:.0f} µs"
        )
    else:
        print(
            f"  CPU per message: Yiyang's process {cpu['ours'] / n * 1e6:.0f} µs,"
            f" PostgreSQL {cpu['pg'] / n * 1e6:.0f} µs"
        )
    print(
        f"  SOS → stored alert: {len(lat)}/{sos_count} alerts, "
        f"p50 {statistics.median(lat):.0f} ms, "
        f"p95 {pct(lat, 95):.0f} ms, p99 {pct(lat, 99):.0f} ms, max {max(lat):.0f} ms"
    )
    gc.callbacks.remove(gc_watch)
    if pauses:
        worst = max(pauses, key=lambda p: p[1])
        print(
            f"  garbage collections: {len(pauses)}, {sum(p for _, p in pauses):.0f} ms in all,"
            f" longest {worst[1]:.0f} ms (generation {worst[0]})"
        )
    # where an SOS's time went: publish → received by the gateway → worker began → committed
    from yiyang.alarms.models import Alert
    from yiyang.core import db
    from yiyang.devices.models import DeviceMessage

    sos_elders = [int(e) for e in result["pub"]["sos"]]
    with db.unit_of_work() as session:
        rows = session.execute(
            select(Alert.elder_id, Alert.created_at, DeviceMessage.received_at)
            .join(DeviceMessage, DeviceMessage.elder_id == Alert.elder_id)
            .where(
                Alert.elder_id.in_(sos_elders),
                Alert.alert_type == "sos",
                Alert.created_at >= dt.datetime.fromtimestamp(result["first"] - 5, dt.UTC),
                DeviceMessage.event == "sos",
                DeviceMessage.received_at >= dt.datetime.fromtimestamp(result["first"] - 5, dt.UTC),
            )
        ).all()
    parts: dict[str, list[float]] = {"to gateway": [], "queued": [], "in worker": []}
    for r in rows:
        sent = result["pub"]["sos"].get(str(r.elder_id))
        done = alert_times.get(r.elder_id)
        if sent is None or done is None:
            continue
        parts["to gateway"].append((r.received_at.timestamp() - sent) * 1000)
        parts["queued"].append((r.created_at - r.received_at).total_seconds() * 1000)
        parts["in worker"].append((done - r.created_at.timestamp()) * 1000)
    if rows:
        print(
            "    of which: "
            + ", ".join(
                f"{k} p50 {statistics.median(v):.0f} / p99 {pct(v, 99):.0f} ms"
                for k, v in parts.items()
                if v
            )
        )
    return {"ours": ours, "bare": base, "lat": lat}


def replay(kits: list) -> None:  # type: ignore[type-arg]
    import orjson

    from yiyang.devices import simulator
    from yiyang.pipeline.gateway import RawMessage
    from yiyang.pipeline.runtime import Pipeline

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
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="0: one process, in-process bus; N: gateway + N worker processes over JetStream",
    )
    parser.add_argument("--partitions", type=int, default=0, help="bus partitions (0: default)")
    parser.add_argument("--linger-ms", type=int, default=0, help="MQTT linger (0: default)")
    args = parser.parse_args()
    if args.role == "publish":
        publisher(args.plan, args.rate)
        return

    os.environ["YIYANG_DATABASE_URL"] = URL
    os.environ["YIYANG_MQTT_SESSION_EXPIRY_S"] = "60"
    if args.partitions or args.workers:  # gateway and workers must agree
        os.environ["YIYANG_BUS_PARTITIONS"] = str(args.partitions or 4)
    if args.linger_ms:
        os.environ["YIYANG_MQTT_LINGER_MS"] = str(args.linger_ms)
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
        throughput(kits, args.messages, args.sos, args.rate, args.workers)
    finally:
        broker.terminate()
    if not args.skip_replay:
        print(f"3. day replay for {args.replay_elders:,} elders")
        replay(kits[: args.replay_elders])


if __name__ == "__main__":
    main()
