"""Schemathesis against the published OpenAPI, in-process (#14 item 12): every JSON route gets
schema-generated requests as an admin and as a community worker (a scoped role); no answer may be
a server error (``not_a_server_error``): what the database cannot hold (ids beyond its integers,
NUL in text, impossible dates) must be refused by the schema with a 4xx.

Derandomised (the same cases on every run, so CI is stable) and small: a few cases per
operation, on PostgreSQL — the stricter database (32-bit integers, no NUL in text) — inside the
test's rolled-back transaction, so nothing the fuzzer writes is kept. The longer run is
``bench/fuzz_api.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

pytestmark = [pytest.mark.security, pytest.mark.postgres]

# cases per operation and role (~86 operations): about 45 s in all on PostgreSQL
EXAMPLES = {"admin": 5, "community": 3}
# signing out or issuing tokens would only fight the fuzzer's own credentials
SKIP = ("/api/auth/",)


def fuzz(app: Any, headers: dict[str, str], examples: int) -> tuple[int, int, list[str]]:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    failures: list[str] = []
    calls = operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith(SKIP):
            continue
        operations += 1

        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            nonlocal calls
            calls += 1
            try:
                case.call_and_validate(headers=headers, checks=[not_a_server_error])
            except Exception as exc:  # an exception in-process is the 500 a client would get
                failures.append(
                    f"{case.operation.label} {case.path_parameters} "
                    f"{case.query} {str(case.body)[:200]}: {exc!s:.300}"
                )

        run()
    return operations, calls, failures


@pytest.mark.parametrize("username", ["admin", "community"])
def test_no_generated_request_gets_a_server_error(app, client, login, engine, username) -> None:  # type: ignore[no-untyped-def]
    if engine.dialect.name != "postgresql":
        pytest.skip("fuzzed on PostgreSQL, the stricter database (bench/fuzz_api.py: both)")
    operations, calls, failures = fuzz(app, login(username).headers, EXAMPLES[username])
    assert operations > 80 and calls >= operations  # the schema loaded; every operation called
    assert failures == [], "\n".join(failures[:20])
