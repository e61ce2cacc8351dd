"""cProfile one registry import into a fresh database (issue #17: where the time goes).

    .venv/bin/python bench/registry_profile.py bench/out/roll-50000.csv [--top 28]

The import pipelines two threads, profiled separately: MAIN reads and validates the rows,
WRITER looks them up and writes them (``imports._process_chunk``: COPY, audit rows, and the
waits on PostgreSQL). cProfile inflates code with many small calls (validation) more than C
calls (COPY formatting): read the proportions, not the rate. Database: ``yiyang_profile``
(``YIYANG_BENCH_DB`` to change), created afresh like ``registry_bench.py`` does.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("YIYANG_BENCH_DB", "yiyang_profile")

import registry_bench as rb


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("roll", type=Path)
    ap.add_argument("--top", type=int, default=28)
    args = ap.parse_args()

    from yiyang import domains
    from yiyang.core import db
    from yiyang.core.migrate import upgrade
    from yiyang.demo.load import load
    from yiyang.registry import imports

    domains.install()
    rb.fresh_database()
    engine = db.make_engine(rb.URL)
    db.set_engine(engine)
    upgrade(engine)
    with db.unit_of_work() as session:
        load(session, 0, seed=1)  # regions and demo users, no elders

    writer = cProfile.Profile()
    process_chunk = imports._process_chunk

    def profiled(*a: Any, **k: Any) -> Any:
        writer.enable()
        try:
            return process_chunk(*a, **k)
        finally:
            writer.disable()

    imports._process_chunk = profiled  # type: ignore[assignment]
    main_thread = cProfile.Profile()
    main_thread.enable()
    secs, counts, _cpu = rb.run_import(args.roll)
    main_thread.disable()
    print(f"{args.roll.name}: {counts['rows'] / secs:,.0f} rows/s under the profiler {counts}")
    for name, profile in (("MAIN (read + validate)", main_thread), ("WRITER", writer)):
        print(f"==== {name}")
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
    engine.dispose()


if __name__ == "__main__":
    main()
