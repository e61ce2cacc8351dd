"""Registry benchmarks on PostgreSQL (issue #2 targets).

    .venv/bin/python bench/registry_bench.py [--elders 1000000] [--xlsx-rows 200000]

1. CSV import of N generated elders into an empty registry (read + validate + upsert + audit,
   one transaction) — rows/s. Then the same file again (all unchanged) — rows/s.
2. XLSX import of M further elders — rows/s.
3. Through the HTTP API of a real server (uvicorn, 1 worker) on that database: filtered search
   and elder detail latency (p50/p95/p99) for a district officer, street officer and community
   worker, sequential requests from one client on loopback.

Creates and drops its own database (yiyang_bench) on 127.0.0.1:5432; generated rolls are cached
in bench/out/.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text

OUT = Path(__file__).parent / "out"
ADMIN_URL = os.environ.get(
    "YIYANG_BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DB = os.environ.get("YIYANG_BENCH_DB", "yiyang_bench")
URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB
# docs/deploy.md: the database created with the "C" collation (code-point order, as C.UTF-8
# sorts UTF-8 text, without the locale library's per-comparison cost); YIYANG_BENCH_COLLATE=
# (empty) creates it with the server's default instead.
COLLATE = os.environ.get("YIYANG_BENCH_COLLATE", "C")
CREATE_OPTIONS = (
    f" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE '{COLLATE}' LC_CTYPE 'C.UTF-8'"
    if COLLATE
    else ""
)


def fresh_database() -> None:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB}"' + CREATE_OPTIONS))
    admin.dispose()


def roll(path: Path, n: int, seed: int) -> Path:
    from yiyang.demo.rolls import write_roll

    if not path.exists():
        t = time.perf_counter()
        write_roll(path, n, seed)
        print(f"  generated {path.name} ({n:,} rows) in {time.perf_counter() - t:.1f}s", flush=True)
    return path


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a PostgreSQL backend on this machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")  # a server on another machine
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_import(path: Path) -> tuple[float, dict[str, int], dict[str, float]]:
    """Import ``path`` as the district officer, one transaction. Also returns the CPU time of
    this process (validation, COPY formatting: every thread) and of its PostgreSQL backend,
    which a busy shared machine distorts far less than the wall-clock rate."""
    from yiyang.accounts.models import User
    from yiyang.accounts.service import actor_for
    from yiyang.core import audit, db
    from yiyang.registry import imports

    data = path.read_bytes()
    load = os.getloadavg()[0]
    t = time.perf_counter()
    cpu = time.process_time()
    with db.unit_of_work() as session:
        backend = session.scalar(text("SELECT pg_backend_pid()"))
        pg_cpu = backend_cpu(backend)
        admin = session.scalar(select(User).where(User.username == "district"))
        assert admin is not None
        actor = actor_for(admin)
        with audit.acting_as(audit.AuditActor(admin.id, admin.username, admin.role, "bench")):
            _batch, outcome = imports.import_now(session, actor, path.name, data)
        session.flush()
        pg_cpu = backend_cpu(backend) - pg_cpu  # the commit itself is not counted
    elapsed = time.perf_counter() - t
    n = max(outcome.total, 1)
    return (
        elapsed,
        {
            "rows": outcome.total,
            "created": outcome.created,
            "updated": outcome.updated,
            "unchanged": outcome.unchanged,
            "rejected": len(outcome.rejected),
        },
        {
            "python_cpu_us": (time.process_time() - cpu) / n * 1e6,
            "pg_cpu_us": pg_cpu / n * 1e6,
            "load": load,
            "load_after": os.getloadavg()[0],
        },
    )


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    row = {"p50": statistics.median(ms), "p95": pct(ms, 95), "p99": pct(ms, 99), "n": len(ms)}
    print(
        f"  {name:<44} n={row['n']:<5} p50={row['p50']:6.1f} ms  p95={row['p95']:6.1f} ms  "
        f"p99={row['p99']:6.1f} ms",
        flush=True,
    )
    return row


def http_bench(requests_per_case: int) -> None:
    from yiyang.core import db
    from yiyang.registry.models import Elder

    env = {**os.environ, "YIYANG_DATABASE_URL": URL}
    port = 8765
    proc = subprocess.Popen(
        [sys.executable, "-m", "yiyang", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        rnd = random.Random(3)
        with db.unit_of_work() as session:
            sample = session.execute(
                select(Elder.id, Elder.name, Elder.id_number, Elder.mobile_phone, Elder.region_path)
                .where(Elder.id % 97 == 0)
                .limit(5000)
            ).all()
        with httpx.Client(base_url=base, timeout=30) as client:
            for username in ("district", "street", "community"):
                token = client.post(
                    "/api/auth/token", json={"username": username, "password": "Yiyang@2026"}
                ).json()
                h = {"Authorization": f"Bearer {token['access_token']}"}
                me_path = client.get("/api/auth/me", headers=h).json()["region_path"]
                mine = [s for s in sample if s.region_path.startswith(me_path)] or sample
                phones = [s for s in mine if s.mobile_phone]
                cases = {
                    "default list (sorted by name)": lambda: {},
                    "name prefix (surname)": lambda m=mine: {"q": rnd.choice(m).name[0]},
                    "full name": lambda m=mine: {"q": rnd.choice(m).name},
                    "ID tail (4)": lambda m=mine: {"q": rnd.choice(m).id_number[-4:]},
                    "phone": lambda p=phones: {"phone": rnd.choice(p).mobile_phone},
                    "category + age 80-89, oldest first": lambda: {
                        "category": "advanced_age",
                        "age_min": 80,
                        "age_max": 89,
                        "sort": "-age",
                    },
                    "living alone + dementia": lambda: {"household": "alone", "dementia": "true"},
                    "page 5 of living alone": lambda: {"household": "alone", "page": 5},
                }
                print(f"\n  as {username} ({me_path}) — search", flush=True)
                client.get("/api/elders", headers=h)  # warm
                for name, params in cases.items():
                    samples = []
                    for _ in range(requests_per_case):
                        t = time.perf_counter()
                        r = client.get("/api/elders", params=params(), headers=h)
                        samples.append(time.perf_counter() - t)
                        assert r.status_code == 200, r.text
                    report(name, samples)
                samples = []
                for _ in range(requests_per_case * 2):
                    t = time.perf_counter()
                    r = client.get(f"/api/elders/{rnd.choice(mine).id}", headers=h)
                    samples.append(time.perf_counter() - t)
                    assert r.status_code == 200, r.text
                report("elder detail (GET /api/elders/{id})", samples)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    from yiyang import domains

    domains.install()  # the domains' scoping rules, as the app and the CLI install them
    ap = argparse.ArgumentParser()
    ap.add_argument("--elders", type=int, default=1_000_000)
    ap.add_argument("--xlsx-rows", type=int, default=200_000)

    ap.add_argument("--requests", type=int, default=200, help="requests per search case")
    ap.add_argument(
        "--import-only",
        action="store_true",
        help="only the first CSV load and the XLSX load (the issue #17 targets), no HTTP",
    )
    ap.add_argument(
        "--http-only",
        action="store_true",
        help="reuse the database of a previous run (after a migration tweak)",
    )
    args = ap.parse_args()
    if args.http_only:
        from yiyang.core import db

        db.set_engine(db.make_engine(URL))
        print(f"HTTP API on the existing {DB} (1 uvicorn worker, sequential requests)", flush=True)
        http_bench(args.requests)
        return
    OUT.mkdir(exist_ok=True)

    from yiyang.core import db
    from yiyang.core.migrate import upgrade
    from yiyang.demo.load import load

    print(f"PostgreSQL {URL}", flush=True)
    csv_path = roll(OUT / f"roll-{args.elders}.csv", args.elders, seed=1)
    xlsx_path = roll(OUT / f"roll-{args.xlsx_rows}.xlsx", args.xlsx_rows, seed=2)
    fresh_database()
    engine = db.make_engine(URL)
    db.set_engine(engine)
    upgrade(engine)
    with db.unit_of_work() as session:
        load(session, 0, seed=1)  # regions and demo users, no elders

    print("\nimport", flush=True)
    cases = [
        ("CSV  first load", csv_path),
        ("CSV  same file again", csv_path),
        ("XLSX new elders", xlsx_path),
    ]
    if args.import_only:
        del cases[1]
    for label, path in cases:
        secs, counts, cpu = run_import(path)
        rate = counts["rows"] / secs
        print(
            f"  {label:<21} {counts['rows']:>9,} rows in {secs:6.1f}s = {rate:8,.0f} rows/s  "
            f"{counts}\n  {'':<21} CPU per row: Python {cpu['python_cpu_us']:.0f} µs, "
            f"PostgreSQL backend {cpu['pg_cpu_us']:.0f} µs; load average {cpu['load']:.1f} → "
            f"{cpu['load_after']:.1f}",
            flush=True,
        )
    if args.import_only:
        engine.dispose()
        return
    # What an operator (or autovacuum, a little later) does after a bulk load.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    with db.unit_of_work() as session:
        from yiyang.registry.models import Elder

        total = session.scalar(select(func.count()).select_from(Elder))
    print(f"\nHTTP API on {total:,} elders (1 uvicorn worker, sequential requests)", flush=True)
    http_bench(args.requests)


if __name__ == "__main__":
    main()
