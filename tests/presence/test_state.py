"""The pure decisions of presence: where the elder is by what was said, collisions, which
away / home messages are due (a planned start only at its time), and the sentence shown."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from yiyang.core.i18n import reset_locale, set_locale
from yiyang.presence import state

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)  # Wednesday 10:00 in Shanghai
H = dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def english() -> object:
    token = set_locale("en")
    yield
    reset_locale(token)


@dataclass
class A:
    id: int
    starts_at: dt.datetime
    until: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None
    elder_id: int = 7
    recorded_by: int | None = 1
    recorded_as: str = "family"
    ended_by: int | None = None
    ended_as: str | None = None


def test_a_planned_start_in_the_future_is_not_due_until_its_time() -> None:
    planned = A(1, NOW + 5 * H, NOW + 50 * H)
    assert state.signals([planned], NOW) == []
    assert state.is_planned(planned, NOW) and state.current([planned], NOW) is None
    (s,) = state.signals([planned], NOW + 5 * H)
    assert (s.event, s.at, s.until, s.msg_id) == (
        "away",
        planned.starts_at,
        planned.until,
        "absence-1-away",
    )
    assert state.current([planned], NOW + 6 * H) is planned


def test_back_is_due_after_away_and_a_call_off_sends_nothing() -> None:
    back = A(2, NOW - 3 * H, ended_at=NOW - H, ended_by=5, ended_as="elder")
    assert [(s.event, s.said, s.by) for s in state.signals([back], NOW)] == [
        ("away", "family", 1),
        ("home", "elder", 5),
    ]
    off = A(3, NOW + H, cancelled_at=NOW)
    assert state.signals([off], NOW + 2 * H) == []
    old = A(4, NOW - 3 * state.DELIVERY_WINDOW, ended_at=NOW - H)
    assert [s.event for s in state.signals([old], NOW)] == ["home"]  # its start is history


def test_collisions() -> None:
    live = [A(1, NOW - H, NOW + 10 * H), A(2, NOW + 48 * H, NOW + 72 * H)]
    assert state.collides(live, NOW + 11 * H, NOW + 20 * H, NOW) is None
    assert state.collides(live, NOW + 60 * H, None, NOW).id == 2  # type: ignore[union-attr]
    assert state.collides(live, NOW, None, NOW).id == 1  # type: ignore[union-attr]
    assert state.collides([A(3, NOW - H, ended_at=NOW)], NOW, None, NOW + H) is None


def test_overdue_only_while_away_past_the_return() -> None:
    rows = [A(1, NOW - 9 * H, NOW - H), A(2, NOW - 9 * H, NOW + H), A(3, NOW - 9 * H, NOW - H, NOW)]
    assert [a.id for a in state.overdue(rows, NOW)] == [1]


def test_the_sentence() -> None:
    sunday = dt.datetime(2026, 12, 6, 20, 0, tzinfo=TZ)
    assert (
        state.status_text(A(1, NOW - H, sunday), [], NOW, TZ) == "Away, expected back Sunday 20:00"
    )
    assert state.status_text(A(1, NOW - H), [], NOW, TZ) == "Away"
    late = state.status_text(A(1, NOW - 9 * H, NOW - H), [], NOW, TZ)
    assert late == "Away, expected back today 09:00 (not back yet)"
    assert (
        state.status_text(None, [A(2, NOW + 24 * H)], NOW, TZ)
        == "At home; going away tomorrow 10:00"
    )
    assert state.status_text(None, [], NOW, TZ) == "At home"
    assert state.when_text(NOW + 30 * 24 * H, NOW, TZ) == "01-01 10:00"


def test_a_return_said_by_its_day_is_that_evening() -> None:
    assert state.back_on(dt.date(2026, 12, 6), TZ) == dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
