"""Durability runs for issue #14 ("Must show"): kill -9 of ``yiyang serve``, of ``yiyang
gateway`` and of a ``yiyang worker``; a broker restart; a database restart — with SOS presses
streaming in, and the SOS delay around each fault.

    .venv/bin/python bench/durability_bench.py --scenario all
    .venv/bin/python bench/durability_bench.py --scenario worker-kill --ack-waits 3,30 --repeat 2

Everything runs on private instances the script starts and removes: a PostgreSQL cluster of its
own (Debian's ``initdb``/``pg_ctl``, tests/security/cluster.py; it is the one crashed in
``db-restart``), a Mosquitto per run on a free port with persistence on (a session and its
queued messages survive a restart), and for the scaled-out runs the machine's NATS server
(``YIYANG_BENCH_NATS``, default nats://127.0.0.1:4222) with a stream name of its own per run,
deleted afterwards. The application runs as the real processes (``.venv/bin/yiyang serve``,
``gateway``, ``worker``) and is killed with SIGKILL.

A publisher thread in this process sends SOS presses (QoS 1, one device per press) at
``--rate``/s for ``--seconds``: half of them are *probes*, the only press of their elder, whose
delay publish → alert committed is read from PostgreSQL NOTIFY (the app's event channel; the
alert's ``created_at`` if the notification was missed while the database was down); the rest
are several presses per elder spread over the run. The publisher keeps what the broker has not
acknowledged and sends it again after a reconnect, as a device would. At the end:

* every press stored exactly once (``device_message`` by message id): *lost* / *duplicated*;
* every elder exactly one SOS alert whose ``count`` equals its presses;
* no dead letters; errors in the processes' logs are listed.

Recovery: fault → the restarted part ready, and fault → the first alert committed for an SOS
published after the fault. SOS delay: probes published in the 10 s before the fault and in the
10 s after it (p50 / p99 / max).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import pwd
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.security.cluster

from sqlalchemy import func, select, text  # noqa: E402

NATS = os.environ.get("YIYANG_BENCH_NATS", "nats://127.0.0.1:4222")
TOPIC = "yiyang/v1/devices/{}/up"
SCENARIOS = ["serve-kill", "gateway-kill", "worker-kill", "broker-restart", "db-restart"]
WINDOW_S = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 3),
        "p99": round(pct(values, 99), 3),
        "max": round(max(values), 3),
    }


def fmt(s: dict[str, Any]) -> str:
    if not s.get("n"):
        return "no probes"
    return f"n={s['n']}: p50 {s['p50']:.2f} s, p99 {s['p99']:.2f} s, max {s['max']:.2f} s"


def log(text_: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text_}", flush=True)


# -- the broker --------------------------------------------------------------------------------


class Broker:
    """A Mosquitto of the run's own, production queue settings, persistence on."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.dir = root / f"mosquitto-{self.port}"
        self.dir.mkdir()
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {self.dir}/\nautosave_interval 1\n"
            "max_queued_messages 0\nmax_inflight_messages 0\n"
            f"log_dest file {self.dir}/mosquitto.log\n"
        )
        with contextlib.suppress(KeyError):  # mosquitto started as root runs as `mosquitto`
            owner = pwd.getpwnam("mosquitto")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            # ... and must reach the folder: otherwise it logs "Permission denied" and runs on
            # WITHOUT persistence, and a restart loses every queued message (seen here)
            for parent in (root, *root.parents):
                if parent == Path(tempfile.gettempdir()):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o011)
        self.conf = conf
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> float:
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                if not (self.dir / "mosquitto.log").exists():
                    raise SystemExit(f"mosquitto cannot write to {self.dir}: no persistence")
                return time.time()
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"mosquitto did not start on port {self.port}")

    def stop(self) -> None:
        """A graceful stop (SIGTERM): Mosquitto writes its persistence file on the way out."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


# -- the application's processes ------------------------------------------------------------


def yiyang_cmd() -> list[str]:
    script = Path(sys.executable).parent / "yiyang"
    return [str(script)] if script.exists() else [sys.executable, "-m", "yiyang"]


class App:
    """One ``yiyang serve|gateway|worker`` process, its log, how to tell it is ready."""

    def __init__(self, role: str, name: str, env: dict[str, str], logs: Path) -> None:
        self.role, self.name, self.env, self.logs = role, name, env, logs
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = free_port() if role in ("serve", "gateway") else 0
        self.starts = 0
        self.log_path = logs / f"{name}-0.log"

    def start(self) -> None:
        self.log_path = self.logs / f"{self.name}-{self.starts}.log"
        self.starts += 1
        args = [*yiyang_cmd(), self.role]
        if self.role == "serve":
            args += ["--host", "127.0.0.1", "--port", str(self.port)]
        elif self.role == "gateway":
            args += ["--health-port", str(self.port)]
        self.proc = subprocess.Popen(
            args,
            env=self.env,
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise SystemExit(f"{self.name} exited:\n{self.log_path.read_text()[-3000:]}")
        if self.role == "worker":
            return "worker: consuming" in self.log_path.read_text(errors="replace")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                body = json.loads(r.read())
        except OSError:
            return False
        up = body.get("ok") is True or body.get("status") == "ok"
        return up and bool((body.get("pipeline") or {}).get("mqtt_connected", True))

    def wait_ready(self, timeout: float = 90) -> float:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name} not ready:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.05)
        return time.time()

    def kill9(self) -> float:
        assert self.proc is not None
        at = time.time()
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        return at

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def all_logs(self) -> list[Path]:
        return sorted(self.logs.glob(f"{self.name}-*.log"))


# -- the publisher -------------------------------------------------------------------------


@dataclass
class Press:
    msg_id: str
    elder: int
    serial: str
    dtype: str
    probe: bool
    due: float  # seconds after the start


@dataclass
class Publisher:
    """SOS presses over MQTT 3.1.1, QoS 1, from raw packets on one socket. What the broker has
    not acknowledged is kept and sent again (DUP) after a reconnect, as a device would."""

    port: int
    presses: list[Press]
    rate: float
    client_id: str = field(default_factory=lambda: f"dur-pub-{uuid.uuid4().hex[:8]}")
    sent_at: dict[str, float] = field(default_factory=dict)
    acked: int = 0
    reconnects: int = 0
    started: float = 0.0
    finished: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[int, bytes] = {}  # packet id → PUBLISH bytes (DUP set)
        self._sock: socket.socket | None = None
        self._next_pid = 0
        self.done = threading.Event()

    def _packet(self, press: Press, pid: int) -> bytes:
        from yiyang.pipeline.transports.mqtt import varint

        body = json.dumps(
            {
                "v": 1,
                "id": press.msg_id,
                "device": press.serial,
                "type": press.dtype,
                "event": "sos",
                "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "data": {},
            }
        ).encode()
        topic = TOPIC.format(press.serial).encode()
        rest = len(topic).to_bytes(2, "big") + topic + pid.to_bytes(2, "big") + body
        return b"\x32" + varint(len(rest)) + rest

    def _connect(self) -> None:
        from yiyang.pipeline.transports.mqtt import varint

        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                cid = self.client_id.encode()
                # MQTT 3.1.1, clean session off, keepalive 60 s
                var = b"\x00\x04MQTT\x04\x00\x00\x3c" + len(cid).to_bytes(2, "big") + cid
                sock.sendall(b"\x10" + varint(len(var)) + var)
                head = b""
                while len(head) < 4:
                    chunk = sock.recv(4 - len(head))
                    if not chunk:
                        raise OSError("closed before CONNACK")
                    head += chunk
                if head[:2] != b"\x20\x02" or head[3] != 0:
                    raise OSError(f"CONNACK refused: {head.hex()}")
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with self._lock:
                    self._sock = sock
                    again = b"".join(
                        p[:1].replace(b"\x32", b"\x3a") + p[1:] for p in self._inflight.values()
                    )
                    if again:
                        sock.sendall(again)
                threading.Thread(target=self._read, args=(sock,), daemon=True).start()
                return
            except OSError:
                time.sleep(0.2)

    def _read(self, sock: socket.socket) -> None:
        pending = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            pending += chunk
            while len(pending) >= 4:
                if pending[0] != 0x40:  # only PUBACKs (and PINGRESP) come to a publisher
                    pending = pending[2:]
                    continue
                pid = int.from_bytes(pending[2:4], "big")
                pending = pending[4:]
                with self._lock:
                    if self._inflight.pop(pid, None) is not None:
                        self.acked += 1
        with self._lock:
            if self._sock is sock:
                self._sock = None
        if not self.done.is_set():
            self.reconnects += 1
            self._connect()

    def _pid(self) -> int:
        for _ in range(65535):
            self._next_pid = self._next_pid % 65535 + 1
            if self._next_pid not in self._inflight:
                return self._next_pid
        raise RuntimeError("65,535 messages unacknowledged")

    def run(self) -> None:
        self._connect()
        self.started = time.time()
        last_ping = time.monotonic()
        for press in self.presses:
            wait = self.started + press.due - time.time()
            if wait > 0:
                time.sleep(wait)
            with self._lock:
                pid = self._pid()
                packet = self._packet(press, pid)
                self._inflight[pid] = packet
                self.sent_at[press.msg_id] = time.time()
                sock = self._sock
                if sock is not None:
                    with contextlib.suppress(OSError):  # else resent after the reconnect
                        sock.sendall(packet)
            if time.monotonic() - last_ping > 20:
                last_ping = time.monotonic()
                with self._lock, contextlib.suppress(OSError, AttributeError):
                    self._sock.sendall(b"\xc0\x00")  # type: ignore[union-attr]
        self.finished = time.time()
        deadline = time.monotonic() + 120
        while self._inflight and time.monotonic() < deadline:
            time.sleep(0.1)
        self.done.set()
        with self._lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.sendall(b"\xe0\x00")
                    self._sock.close()

    @property
    def unacked(self) -> int:
        return len(self._inflight)


# -- alerts as they are committed ------------------------------------------------------------


class AlertListener(threading.Thread):
    """LISTEN on the app's event channel; reconnects after a database restart (what is
    committed while it is away is read from ``alert.created_at`` afterwards)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url.replace("+psycopg", "")
        self.created: dict[int, float] = {}
        self.created_events: dict[int, int] = {}
        self.stop = threading.Event()
        self.listening = threading.Event()
        self.reconnects = 0

    def run(self) -> None:
        import orjson
        import psycopg

        from yiyang.core import events

        while not self.stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=2) as conn:
                    conn.execute(f"LISTEN {events.CHANNEL}")
                    self.listening.set()
                    while not self.stop.is_set():
                        for note in conn.notifies(timeout=0.2):
                            body = orjson.loads(note.payload)
                            if body.get("topic") == "alert.created":
                                e = int(body["elder_id"])
                                self.created.setdefault(e, time.time())
                                self.created_events[e] = self.created_events.get(e, 0) + 1
            except Exception:
                self.listening.clear()
                self.reconnects += 1
                time.sleep(0.2)


# -- the database ----------------------------------------------------------------------------


def setup_database(url: str, elders: int) -> list[tuple[int, str, str]]:
    """Migrate, load demo data; (elder, serial, type) of one SOS-capable device per elder."""
    from yiyang.core import db
    from yiyang.core.migrate import upgrade
    from yiyang.demo.load import load
    from yiyang.devices.models import Device

    engine = db.make_engine(url)
    upgrade(engine)
    db.set_engine(engine)
    t = time.perf_counter()
    with db.unit_of_work() as session:
        out = load(session, elders, seed=7)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    log(
        f"loaded {out['created']:,} elders, {out['devices']:,} devices"
        f" in {time.perf_counter() - t:.0f} s"
    )
    with db.unit_of_work() as session:
        rows = session.execute(
            select(Device.elder_id, Device.serial, Device.device_type)
            .where(
                Device.elder_id.is_not(None),
                Device.device_type.in_(["sos_button", "smart_watch"]),
                Device.status == "active",
            )
            .order_by(Device.elder_id, Device.device_type)  # sos_button before smart_watch
        ).all()
    seen: dict[int, tuple[int, str, str]] = {}
    for r in rows:
        seen.setdefault(r.elder_id, (r.elder_id, r.serial, r.device_type))
    return list(seen.values())


def plan(
    pool: list[tuple[int, str, str]],
    rate: float,
    seconds: float,
    tag: str,
    seed: int,
    per_elder: int = 5,
) -> list[Press]:
    """rate × seconds presses: half probes (one press per elder), the rest ``per_elder``
    presses per elder, in random order over the run."""
    rnd = random.Random(seed)
    n = int(rate * seconds)
    k = per_elder
    probes = min(n // 2, int((len(pool) - n / k) * k / (k - 1)))
    if probes < 0:
        raise SystemExit(f"{len(pool)} SOS-capable elders are too few for {n} presses")
    multi = math.ceil((n - probes) / k)
    elders = rnd.sample(pool, probes + multi)
    labels: list[tuple[tuple[int, str, str], bool]] = [(e, True) for e in elders[:probes]]
    for e in elders[probes:]:
        labels += [(e, False)] * k
    labels = labels[:n] if len(labels) > n else labels
    rnd.shuffle(labels)
    return [
        Press(f"dur-{tag}-{i}", e[0], e[1], e[2], probe, i / rate)
        for i, (e, probe) in enumerate(labels)
    ]


def reset_alerts() -> None:
    from yiyang.core import db

    with db.unit_of_work() as session:  # so each run's first press of an elder opens an alert
        session.execute(text("UPDATE alert SET state = 'resolved' WHERE state <> 'resolved'"))


def progress(tag: str, elders: list[int], since: dt.datetime) -> tuple[int, int]:
    """(presses stored, sum of the SOS alerts' counts) for this run."""
    from yiyang.alarms.models import Alert
    from yiyang.core import db
    from yiyang.devices.models import DeviceMessage

    with db.unit_of_work() as session:
        stored = session.scalar(
            select(func.count()).where(DeviceMessage.msg_id.like(f"dur-{tag}-%"))
        )
        counted = session.scalar(
            select(func.coalesce(func.sum(Alert.count), 0)).where(
                Alert.elder_id.in_(elders), Alert.alert_type == "sos", Alert.created_at >= since
            )
        )
    return int(stored or 0), int(counted or 0)


def verify(tag: str, presses: list[Press], since: dt.datetime) -> dict[str, Any]:
    from yiyang.alarms.models import Alert
    from yiyang.core import db
    from yiyang.devices.models import DeadLetter, DeviceMessage

    want: dict[int, int] = {}
    for p in presses:
        want[p.elder] = want.get(p.elder, 0) + 1
    with db.unit_of_work() as session:
        stored = dict(
            session.execute(
                select(DeviceMessage.msg_id, func.count())
                .where(DeviceMessage.msg_id.like(f"dur-{tag}-%"))
                .group_by(DeviceMessage.msg_id)
            ).all()
        )
        alerts = session.execute(
            select(Alert.elder_id, Alert.count, Alert.created_at).where(
                Alert.elder_id.in_(list(want)), Alert.alert_type == "sos", Alert.created_at >= since
            )
        ).all()
        dead = session.scalar(select(func.count()).where(DeadLetter.received_at >= since))
        other = session.execute(
            select(Alert.alert_type, func.count())
            .where(Alert.elder_id.in_(list(want)), Alert.created_at >= since)
            .where(Alert.alert_type != "sos")
            .group_by(Alert.alert_type)
        ).all()
    ids = {p.msg_id for p in presses}
    lost = sorted(ids - set(stored))
    duplicated = sum(c - 1 for c in stored.values() if c > 1)
    by_elder: dict[int, list[int]] = {}
    created_at: dict[int, float] = {}
    for a in alerts:
        by_elder.setdefault(a.elder_id, []).append(a.count)
        created_at[a.elder_id] = min(created_at.get(a.elder_id, 1e18), a.created_at.timestamp())
    no_alert = [e for e in want if e not in by_elder]
    two_alerts = [e for e, cs in by_elder.items() if len(cs) > 1]
    count_low = [e for e, cs in by_elder.items() if sum(cs) < want[e]]
    count_high = [e for e, cs in by_elder.items() if sum(cs) > want[e]]
    return {
        "presses": len(presses),
        "elders": len(want),
        "stored": len(stored),
        "lost": len(lost),
        "lost_ids": lost[:20],
        "duplicated": duplicated,
        "elders_without_alert": len(no_alert),
        "elders_with_2plus_alerts": len(two_alerts),
        "alert_count_below_presses": len(count_low),
        "alert_count_above_presses": len(count_high),
        "examples": {
            "no_alert": no_alert[:5],
            "two_alerts": two_alerts[:5],
            "count_low": [(e, want[e], by_elder[e]) for e in count_low[:5]],
            "count_high": [(e, want[e], by_elder[e]) for e in count_high[:5]],
        },
        "dead_letters": int(dead or 0),
        "other_alerts": {t: c for t, c in other},
        "_created_at": created_at,
    }


def log_problems(apps: list[App]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for app in apps:
        for path in app.all_logs():
            lines = path.read_text(errors="replace").splitlines()
            bad = [
                ln
                for ln in lines
                if any(w in ln for w in ("ERROR", "Traceback", "dead letter", "failed", "Error"))
            ]
            if bad:
                out[path.name] = [f"{len(bad)} lines", *bad[:6]]
    return out


# -- one run ---------------------------------------------------------------------------------


@dataclass
class Ctx:
    root: Path
    db_url: str
    pool: list[tuple[int, str, str]]
    rate: float
    seconds: float
    cluster: Any
    seed: int = 1


def base_env(ctx: Ctx, broker: Broker, client_id: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "YIYANG_DATABASE_URL": ctx.db_url,
        "YIYANG_MQTT_URL": broker.url,
        "YIYANG_MQTT_CLIENT_ID": client_id,
        "YIYANG_SWEEP_SECONDS": "3600",
        "YIYANG_BUS_URL": "",
    }
    return env


def run(
    ctx: Ctx, scenario: str, *, deployment: str, urgent_ack_wait: float = 3.0, fault_at: float = 0.0
) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    ctx.seed += 1
    runroot = ctx.root / f"{scenario}-{tag}"
    runroot.mkdir()
    presses = plan(ctx.pool, ctx.rate, ctx.seconds, tag, ctx.seed)
    elders = sorted({p.elder for p in presses})
    probes = {p.msg_id: p for p in presses if p.probe}
    reset_alerts()
    since = dt.datetime.now(dt.UTC)
    broker = Broker(runroot)
    broker.start()
    env = base_env(ctx, broker, f"yiyang-dur-{tag}")
    stream = f"DURBENCH{tag.upper()}"
    apps: list[App] = []
    if deployment == "embedded":
        apps.append(App("serve", "serve", env, runroot))
    else:
        env = {
            **env,
            "YIYANG_BUS_URL": NATS,
            "YIYANG_BUS_STREAM": stream,
            "YIYANG_BUS_URGENT_ACK_WAIT_S": str(urgent_ack_wait),
        }
        apps += [App("worker", f"worker{i}", env, runroot) for i in range(2)]
        apps.append(App("gateway", "gateway", env, runroot))
    for app in apps:
        app.start()
    for app in apps:
        app.wait_ready()
    urgent_count = SubjectCounter(f"{stream.lower()}.p.urgent") if deployment == "scaled" else None
    listener = AlertListener(ctx.db_url)
    listener.start()
    listener.listening.wait(10)
    pub = Publisher(broker.port, presses, ctx.rate)
    pub_thread = threading.Thread(target=pub.run, daemon=True)
    what = f"{scenario} ({deployment}" + (
        f", urgent ack wait {urgent_ack_wait:g} s)" if deployment == "scaled" else ")"
    )
    log(
        f"{what}: {len(presses)} presses at {ctx.rate:g}/s, {len(probes)} probes, "
        f"{len(elders)} elders; logs in {runroot}"
    )
    pub_thread.start()
    fault_at = fault_at or ctx.seconds / 3
    while not pub.started or time.time() < pub.started + fault_at:
        time.sleep(0.01)
    fault: dict[str, Any] = {}
    urgent_before = None
    if scenario == "serve-kill":
        fault["at"] = apps[0].kill9()
        apps[0].start()
        fault["ready"] = apps[0].wait_ready()
    elif scenario == "gateway-kill":
        gw = apps[-1]
        fault["at"] = gw.kill9()
        gw.start()
        fault["ready"] = gw.wait_ready()
    elif scenario == "worker-kill":
        # kill the worker that holds the urgent lane's message: the one with a transaction
        # open in PostgreSQL (SOS only here, so that is an alarm batch); whether it held one
        # shows in the urgent consumer's redeliveries afterwards
        urgent_before = consumer_state(stream)
        victim = busy_worker(apps[:2], ctx.cluster.port, ctx.db_url) or apps[0]
        fault["at"] = victim.kill9()
        fault["victim"] = victim.name
        time.sleep(1.0)
        victim.start()  # a supervisor restarts it; the survivor must not wait for it
        fault["ready"] = victim.wait_ready()
    elif scenario == "broker-restart":
        fault["at"] = time.time()
        broker.stop()
        time.sleep(1.0)
        fault["ready"] = broker.start()
    elif scenario == "db-restart":
        fault["at"] = time.time()
        ctx.cluster.crash()
        time.sleep(5.0)
        ctx.cluster.start()
        fault["ready"] = time.time()
    pub_thread.join()
    log(
        f"  published {len(pub.sent_at)}, broker acked {pub.acked}, unacked {pub.unacked}, "
        f"publisher reconnects {pub.reconnects}; waiting for the pipeline"
    )
    # until everything is stored and counted, or nothing moved for 45 s (more than the 30 s
    # ack wait a dead worker's message may wait)
    last, still_since = (-1, -1), time.monotonic()
    while time.monotonic() - still_since < 45:
        with contextlib.suppress(Exception):
            now = progress(tag, elders, since)
            if now[0] >= len(presses) and now[1] >= len(presses):
                break
            if now != last:
                last, still_since = now, time.monotonic()
        time.sleep(0.5)
    time.sleep(2.0)  # anything late (a duplicate) shows now
    drained_at = time.time()
    result = verify(tag, presses, since)
    urgent_after = consumer_state(stream) if deployment == "scaled" else None
    listener.stop.set()
    if urgent_count:
        urgent_count.stop.set()
    for app in apps:
        app.stop()
    broker.stop()
    if deployment == "scaled":
        delete_stream(stream)
    # SOS delay of the probes: NOTIFY time, else the alert's created_at
    created_at = result.pop("_created_at")
    delays: list[tuple[float, float]] = []  # (published, delay)
    fallback = 0
    for mid, p in probes.items():
        sent = pub.sent_at.get(mid)
        done = listener.created.get(p.elder)
        if done is None and p.elder in created_at:
            done, fallback = created_at[p.elder], fallback + 1
        if sent is not None and done is not None:
            delays.append((sent, done - sent))
    t0 = fault["at"]
    before = [d for s, d in delays if t0 - WINDOW_S <= s < t0]
    after = [d for s, d in delays if t0 <= s < t0 + WINDOW_S]
    after_alerts = [
        listener.created.get(p.elder, created_at.get(p.elder))
        for mid, p in probes.items()
        if pub.sent_at.get(mid, 0) >= t0
    ]
    first_after = min((a for a in after_alerts if a is not None), default=None)
    result.update(
        {
            "scenario": scenario,
            "deployment": deployment,
            "urgent_ack_wait_s": urgent_ack_wait if deployment == "scaled" else None,
            "rate": ctx.rate,
            "seconds": ctx.seconds,
            "fault_at_s": round(t0 - pub.started, 1),
            "ready_s": round(fault["ready"] - t0, 2),
            "first_alert_after_fault_s": (
                round(first_after - t0, 2) if first_after is not None else None
            ),
            "all_done_s_after_last_publish": round(drained_at - 2.0 - pub.finished, 1),
            "delay_all": summary([d for _, d in delays]),
            "delay_before": summary(before),
            "delay_after": summary(after),
            "delay_from_created_at": fallback,
            "publisher_reconnects": pub.reconnects,
            "listener_reconnects": listener.reconnects,
            "urgent_consumer": {
                "before": urgent_before,
                "after": urgent_after,
                "published": urgent_count.n if urgent_count else None,
                "redeliveries": (
                    urgent_after["delivered"] - urgent_count.n
                    if urgent_count and "delivered" in (urgent_after or {})
                    else None
                ),
            },
            "log_problems": log_problems(apps),
            "logs": str(runroot),
        }
    )
    report(result)
    return result


def report(r: dict[str, Any]) -> None:
    print(
        f"  presses {r['presses']} ({r['elders']} elders): stored {r['stored']}, "
        f"LOST {r['lost']}, DUPLICATED {r['duplicated']}; elders without alert "
        f"{r['elders_without_alert']}, with 2+ SOS alerts {r['elders_with_2plus_alerts']}, "
        f"count < presses {r['alert_count_below_presses']}, count > presses "
        f"{r['alert_count_above_presses']}; dead letters {r['dead_letters']}"
    )
    print(
        f"  fault at {r['fault_at_s']} s: ready again after {r['ready_s']} s, first alert for an "
        f"SOS published after the fault {r['first_alert_after_fault_s']} s after it; all "
        f"stored {r['all_done_s_after_last_publish']} s after the last publish"
    )
    print(f"  SOS delay, 10 s before the fault: {fmt(r['delay_before'])}")
    print(f"  SOS delay, 10 s after the fault:  {fmt(r['delay_after'])}")
    print(
        f"  SOS delay, whole run:             {fmt(r['delay_all'])}"
        f" ({r['delay_from_created_at']} from created_at)"
    )
    if r["urgent_consumer"]["after"]:
        print(f"  urgent consumer: {r['urgent_consumer']}")
    if r["lost"] or r["duplicated"] or any(r["examples"].values()):
        print(f"  examples: {r['examples']} lost ids {r['lost_ids']}")
    for name, lines in r["log_problems"].items():
        print(f"  log {name}: " + "\n      ".join(lines))


def busy_worker(workers: list[App], pg_port: int, url: str, within: float = 3.0) -> App | None:
    """The worker with a transaction open right now (its backend's client port → its pid)."""
    import psycopg

    by_pid = {w.proc.pid: w for w in workers if w.proc is not None}
    deadline = time.monotonic() + within
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        while time.monotonic() < deadline:
            ports = {
                r[0]
                for r in conn.execute(
                    "SELECT client_port FROM pg_stat_activity WHERE xact_start IS NOT NULL"
                    " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                )
            }
            if ports:
                out = subprocess.run(
                    ["ss", "-tnpH", f"dport = :{pg_port}"], capture_output=True, text=True
                ).stdout
                for line in out.splitlines():
                    cols = line.split()
                    if len(cols) < 6 or "pid=" not in cols[5]:
                        continue
                    port = int(cols[3].rsplit(":", 1)[1])
                    pid = int(cols[5].split("pid=", 1)[1].split(",", 1)[0])
                    if port in ports and pid in by_pid:
                        return by_pid[pid]
            time.sleep(0.002)
    return None


# -- JetStream helpers -------------------------------------------------------------------------


def _js(call: Any) -> Any:
    import asyncio

    import nats

    async def main() -> Any:
        nc = await nats.connect(NATS, connect_timeout=2)
        try:
            return await call(nc.jetstream())
        finally:
            await nc.close()

    try:
        return asyncio.run(main())
    except Exception as exc:  # not there (yet), or NATS away
        return {"error": repr(exc)}


class SubjectCounter(threading.Thread):
    """Counts what is published on a subject (plain NATS sees every JetStream publish), so
    that deliveries − published = redeliveries (a message a dead worker held, handed over)."""

    def __init__(self, subject: str) -> None:
        super().__init__(daemon=True)
        self.subject, self.n = subject, 0
        self.stop = threading.Event()
        ready = threading.Event()
        self._ready = ready
        self.start()
        ready.wait(5)

    def run(self) -> None:
        import asyncio

        import nats

        async def main() -> None:
            nc = await nats.connect(NATS)

            async def count(_msg: Any) -> None:
                self.n += 1

            await nc.subscribe(self.subject, cb=count)
            await nc.flush()
            self._ready.set()
            while not self.stop.is_set():
                await asyncio.sleep(0.1)
            await nc.close()

        asyncio.run(main())


def consumer_state(stream: str) -> dict[str, Any]:
    async def call(js: Any) -> dict[str, Any]:
        info = await js.consumer_info(stream, f"{stream.lower()}-worker-urgent")
        return {
            "ack_wait_s": info.config.ack_wait,
            "ack_pending": info.num_ack_pending,
            "redelivered": info.num_redelivered,
            "delivered": info.delivered.consumer_seq,
            "pending": info.num_pending,
        }

    return _js(call)


def delete_stream(stream: str) -> None:
    async def call(js: Any) -> None:
        await js.delete_stream(stream)

    _js(call)


# -- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenario", default="all", help=f"all, or one or more of {','.join(SCENARIOS)}"
    )
    parser.add_argument("--elders", type=int, default=8000, help="demo elders to load")
    parser.add_argument("--rate", type=float, default=50, help="SOS presses per second")
    parser.add_argument("--seconds", type=float, default=45, help="publishing time per run")
    parser.add_argument(
        "--ack-waits", default="3,30", help="worker-kill: urgent lane ack waits to compare"
    )
    parser.add_argument("--repeat", type=int, default=1, help="worker-kill: runs per ack wait")
    parser.add_argument(
        "--deployment",
        choices=["embedded", "scaled", "both"],
        default="embedded",
        help="broker-restart and db-restart: yiyang serve, or gateway + 2 workers",
    )
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    args = parser.parse_args()

    from tests.security.cluster import private_cluster

    chosen = SCENARIOS if args.scenario == "all" else args.scenario.split(",")
    if unknown := set(chosen) - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    results: list[dict[str, Any]] = []
    root = Path(tempfile.mkdtemp(prefix="yiyang-durability-"))
    log(f"private PostgreSQL cluster; demo data: {args.elders:,} elders")
    with private_cluster() as cluster:
        url = cluster.url
        os.environ["YIYANG_DATABASE_URL"] = url
        pool = setup_database(url, args.elders)
        log(f"{len(pool):,} elders with an SOS button or watch")
        ctx = Ctx(root, url, pool, args.rate, args.seconds, cluster)
        deployments = ["embedded", "scaled"] if args.deployment == "both" else [args.deployment]
        for scenario in chosen:
            if scenario == "serve-kill":
                results.append(run(ctx, scenario, deployment="embedded"))
            elif scenario == "gateway-kill":
                results.append(run(ctx, scenario, deployment="scaled"))
            elif scenario == "worker-kill":
                waits = [float(w) for w in args.ack_waits.split(",")]
                for _ in range(args.repeat):
                    for w in waits:  # alternating, in one session
                        results.append(run(ctx, scenario, deployment="scaled", urgent_ack_wait=w))
            else:
                for d in deployments:
                    results.append(run(ctx, scenario, deployment=d))
        from yiyang.core import db

        db.get_engine().dispose()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    print("\nscenario | deployment | lost | dup | ready | first alert | delay after p50/p99/max")
    for r in results:
        a = r["delay_after"]
        name = r["scenario"] + (
            f" ack {r['urgent_ack_wait_s']:g}s" if r["urgent_ack_wait_s"] else ""
        )
        print(
            f"{name} | {r['deployment']} | {r['lost']} | {r['duplicated']} | {r['ready_s']} s | "
            f"{r['first_alert_after_fault_s']} s | "
            + (f"{a['p50']:.2f}/{a['p99']:.2f}/{a['max']:.2f} s" if a.get("n") else "-")
        )
    if any(r["lost"] or r["duplicated"] or r["log_problems"] for r in results):
        log(f"logs kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
