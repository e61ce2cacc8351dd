"""The long Schemathesis run (#14 item 12): every JSON operation of the published OpenAPI,
in-process, against a fresh seeded database of its own (SQLite file, or PostgreSQL with --pg),
as each role given; prints the status classes and every distinct server error with an example.
Exit status 1 when any request got a server error. The suite's short run:
tests/security/test_fuzz_api.py.

    .venv/bin/python bench/fuzz_api.py --examples 100 --roles admin,community,operator --pg
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PASSWORD = "Yiyang@2026"


def seeded_url(pg: bool, stack: contextlib.ExitStack) -> str:
    from yiyang.core import db
    from yiyang.core.migrate import upgrade
    from yiyang.demo.load import load

    if pg:
        from tests.conftest import temporary_pg_database

        url = stack.enter_context(temporary_pg_database("yiyang_fuzz"))
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/fuzz.db"
    engine = db.make_engine(url)
    upgrade(engine)
    db.set_engine(engine)
    with db.unit_of_work() as s:
        load(s, 200, seed=5)
    return url


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100, help="cases per operation and role")
    parser.add_argument("--roles", default="admin,community,operator")
    parser.add_argument("--pg", action="store_true", help="PostgreSQL at YIYANG_TEST_PG_URL")
    parser.add_argument("--seed", type=int, default=0, help="0: derandomised (same cases)")
    args = parser.parse_args()

    import schemathesis
    from fastapi.testclient import TestClient
    from hypothesis import HealthCheck, Phase, given, seed, settings

    from yiyang.app import create_app

    with contextlib.ExitStack() as stack:
        seeded_url(args.pg, stack)
        app = create_app()
        schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
        errors: collections.Counter[tuple[str, str]] = collections.Counter()
        examples: dict[tuple[str, str], str] = {}
        statuses: collections.Counter[str] = collections.Counter()
        started = time.monotonic()
        auth: dict[str, str] = {}
        for role in args.roles.split(","):
            with TestClient(app) as c:
                r = c.post("/api/auth/token", json={"username": role, "password": PASSWORD})
                auth.clear()
                auth["Authorization"] = f"Bearer {r.json()['access_token']}"
            for result in schema.get_all_operations():
                op = result.ok()
                if op.path.startswith("/api/auth/"):
                    continue

                def record(key: tuple[str, str], case: Any) -> None:
                    errors[key] += 1
                    examples.setdefault(
                        key, f"{case.path_parameters} {case.query} {str(case.body)[:160]}"
                    )

                @settings(
                    max_examples=args.examples,
                    derandomize=not args.seed,
                    database=None,
                    deadline=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=op.as_strategy())
                def run(case: Any) -> None:
                    try:
                        response = case.call(headers=auth)
                    except Exception as exc:  # raised in-process: a 500 for a client
                        statuses["5xx"] += 1
                        frames = [f for f in traceback.extract_tb(exc.__traceback__)]
                        ours = [f for f in frames if "/yiyang/" in f.filename]
                        where = (
                            f"{ours[-1].filename.split('/yiyang/')[-1]}:{ours[-1].lineno}"
                            if ours
                            else "?"
                        )
                        first = str(exc).splitlines()[0][:120] if str(exc) else ""
                        record(
                            (case.operation.label, f"{type(exc).__name__}: {first} @ {where}"), case
                        )
                        return
                    statuses[f"{response.status_code // 100}xx"] += 1
                    if response.status_code >= 500:
                        record(
                            (case.operation.label, f"{response.status_code} {response.text[:120]}"),
                            case,
                        )

                if args.seed:
                    run = seed(args.seed)(run)
                run()
        took = time.monotonic() - started
    print(f"{sum(statuses.values())} requests in {took:.0f} s: {dict(sorted(statuses.items()))}")
    print(f"{sum(errors.values())} server errors, {len(errors)} distinct")
    for (label, what), n in sorted(errors.items()):
        print(f"{n:5} {label} | {what} | e.g. {examples[(label, what)]}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
