"""``pipeline.batches.isolate``: the one rule for a failing batch (gateway, rule worker, DC-09)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy.exc import OperationalError

from yiyang.pipeline.batches import isolate

pytestmark = pytest.mark.unit


class Bad(ValueError):
    pass


def _lost() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("server closed the connection"))


class Recorder:
    def __init__(self, bad: frozenset[int] = frozenset(), transient_times: int = 0) -> None:
        self.bad, self.transient_times = bad, transient_times
        self.runs: list[list[int]] = []
        self.done: list[int] = []
        self.poisoned: list[tuple[int, str]] = []

    async def run(self, part: Sequence[int]) -> None:
        self.runs.append(list(part))
        if self.transient_times:
            self.transient_times -= 1
            raise _lost()
        if self.bad & set(part):
            raise Bad(f"bad among {list(part)}")
        self.done += part

    async def on_poison(self, item: int, exc: Exception) -> None:
        self.poisoned.append((item, type(exc).__name__))


def test_a_good_batch_runs_once() -> None:
    r = Recorder()
    asyncio.run(isolate([1, 2, 3], r.run, r.on_poison))
    assert r.runs == [[1, 2, 3]] and r.done == [1, 2, 3] and r.poisoned == []


def test_the_culprit_is_found_by_halves_and_the_rest_goes_through() -> None:
    r = Recorder(bad=frozenset({6}))
    asyncio.run(isolate(list(range(8)), r.run, r.on_poison))
    assert r.done == [0, 1, 2, 3, 4, 5, 7]  # in order, nothing lost
    assert r.poisoned == [(6, "Bad")]
    assert r.runs == [list(range(8)), [0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [6, 7], [6], [7]]


def test_two_culprits_each_alone() -> None:
    r = Recorder(bad=frozenset({0, 4}))
    asyncio.run(isolate([0, 1, 2, 3, 4], r.run, r.on_poison))
    assert r.done == [1, 2, 3] and [i for i, _ in r.poisoned] == [0, 4]


def test_a_transient_failure_is_raised_by_default() -> None:
    r = Recorder(transient_times=1)
    with pytest.raises(OperationalError):
        asyncio.run(isolate([1, 2], r.run, r.on_poison))
    assert r.runs == [[1, 2]] and r.poisoned == []  # not split, not dead-lettered


def test_a_transient_failure_is_retried_with_back_off_when_asked(monkeypatch) -> None:
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    r = Recorder(transient_times=4)
    asyncio.run(isolate([1, 2], r.run, r.on_poison, retry_max_s=0.5))
    assert r.runs == [[1, 2]] * 5 and r.done == [1, 2] and r.poisoned == []
    assert slept == [0.1, 0.2, 0.4, 0.5]


def test_a_failing_poison_handler_is_retried_when_retrying(monkeypatch) -> None:
    async def sleep(s: float) -> None:
        pass

    monkeypatch.setattr(asyncio, "sleep", sleep)
    r = Recorder(bad=frozenset({2}))
    calls = [0]

    async def flaky_poison(item: int, exc: Exception) -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("dead-letter store failed")
        await r.on_poison(item, exc)

    asyncio.run(isolate([1, 2], r.run, flaky_poison, retry_max_s=1.0))
    assert r.done == [1] and r.poisoned == [(2, "Bad")] and calls[0] == 2
    assert r.runs == [[1, 2], [1], [2], [2]]  # the culprit run again before the second try


def test_without_retry_a_failing_poison_handler_propagates() -> None:
    r = Recorder(bad=frozenset({1}))

    async def broken(item: int, exc: Exception) -> None:
        raise RuntimeError("nope")

    with pytest.raises(RuntimeError, match="nope"):
        asyncio.run(isolate([1], r.run, broken))
