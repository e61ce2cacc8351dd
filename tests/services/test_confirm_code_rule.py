"""The elder's code rule (pure): compared only when the order is at the step that takes it and
the code is not locked; the fifth wrong code locks it."""

from __future__ import annotations

import pytest

from yiyang.services import proof
from yiyang.services.proof import CODE_MAX_FAILURES, CodeOutcome, judge_code

pytestmark = pytest.mark.unit


@pytest.fixture
def no_comparing(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object) -> bool:
        raise AssertionError("the code was compared")

    monkeypatch.setattr(proof.hmac, "compare_digest", boom)


@pytest.mark.usefixtures("no_comparing")
@pytest.mark.parametrize("given", ["123456", "000000", "", "１２３４５６"])
def test_before_the_step_and_when_locked_nothing_is_compared(given: str) -> None:
    assert judge_code(given, "123456", usable=False, locked=False, failures=0) is (
        CodeOutcome.NOT_NOW
    )
    assert judge_code(given, "123456", usable=False, locked=True, failures=5) is (
        CodeOutcome.NOT_NOW
    )
    assert judge_code(given, "123456", usable=True, locked=True, failures=5) is CodeOutcome.LOCKED


def test_right_wrong_and_the_locking_try() -> None:
    assert judge_code(" 123456 ", "123456", usable=True, locked=False, failures=4) is (
        CodeOutcome.RIGHT
    )
    outcomes = [
        judge_code("654321", "123456", usable=True, locked=False, failures=n)
        for n in range(CODE_MAX_FAILURES)
    ]
    assert outcomes == [CodeOutcome.WRONG] * (CODE_MAX_FAILURES - 1) + [CodeOutcome.LOCKING]
    # non-ASCII input is simply wrong (str compare_digest would raise TypeError)
    assert judge_code("１２３４５６", "123456", usable=True, locked=False, failures=0) is (
        CodeOutcome.WRONG
    )
    assert CODE_MAX_FAILURES == 5
