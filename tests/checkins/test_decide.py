"""The check-in task's pure decisions: routing, due times, what a call does, alarm keys."""

from __future__ import annotations

import datetime as dt

import pytest

from yiyang.alarms import rules
from yiyang.alarms.enums import AlertType, Severity
from yiyang.checkins import decide
from yiyang.checkins.enums import CallOutcome, TaskState

pytestmark = pytest.mark.unit

T0 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
P = rules.DEFAULTS


def finding(response: rules.Response, key: str = "k") -> rules.Finding:
    return rules.Finding(AlertType.INACTIVITY, Severity.INFO, key, T0, response=response)


def test_check_in_findings_become_tasks_and_alarms_stay_alarms() -> None:
    alarm, check = finding(rules.Response.ALARM, "a"), finding(rules.Response.CHECK_IN, "c")
    alarms, check_ins = decide.split({1: [alarm, check], 2: [alarm]})
    assert alarms == {1: [alarm], 2: [alarm]}
    assert check_ins == {1: [check]}


def test_an_unanswered_task_is_due_after_the_elders_answer_time() -> None:
    assert decide.due_at(T0, P) == T0 + dt.timedelta(minutes=60)
    slower = rules.Params(check_in_answer_minutes=120)
    assert decide.due_at(T0, slower) == T0 + dt.timedelta(minutes=120)


def test_answer_and_unreachable_times_keep_their_safe_ranges() -> None:
    with pytest.raises(ValueError):
        rules.Params(check_in_answer_minutes=5)
    with pytest.raises(ValueError):
        rules.Params(check_in_unreachable_minutes=600)


def test_reached_and_well_closes_the_task() -> None:
    due = decide.due_at(T0, P)
    step = decide.after_call(due, CallOutcome.REACHED_WELL, T0 + dt.timedelta(minutes=5), P)
    assert step == decide.AfterCall(TaskState.DONE, due, alarm=False)


def test_reached_and_needing_help_escalates_at_once() -> None:
    due = decide.due_at(T0, P)
    step = decide.after_call(due, CallOutcome.REACHED_NEEDS_HELP, T0, P)
    assert step.state is TaskState.ESCALATED and step.alarm


def test_unreachable_brings_the_alarm_forward_and_a_second_call_never_postpones_it() -> None:
    due = decide.due_at(T0, P)  # 03:00
    first = T0 + dt.timedelta(minutes=10)
    step = decide.after_call(due, CallOutcome.UNREACHABLE, first, P)
    assert step == decide.AfterCall(TaskState.OPEN, first + dt.timedelta(minutes=20), False)
    again = decide.after_call(
        step.due_at, CallOutcome.UNREACHABLE, first + dt.timedelta(minutes=15), P
    )
    assert again.due_at == step.due_at
    # a call shortly before the due time does not push it later either
    late = decide.after_call(due, CallOutcome.UNREACHABLE, due - dt.timedelta(minutes=5), P)
    assert late.due_at == due


def test_overdue_only_while_open() -> None:
    assert decide.overdue(TaskState.OPEN, T0, T0)
    assert not decide.overdue(TaskState.OPEN, T0, T0 - dt.timedelta(seconds=1))
    assert not decide.overdue(TaskState.DONE, T0, T0 + dt.timedelta(hours=1))


def test_silence_alarms_supersede_silence_tasks_only() -> None:
    assert decide.supersedes(AlertType.INACTIVITY, AlertType.ROUTINE)
    assert decide.supersedes(AlertType.OUT_TOO_LONG, AlertType.OUT_TOO_LONG)
    assert not decide.supersedes(AlertType.SOS, AlertType.INACTIVITY)
    assert not decide.supersedes(AlertType.DEVICE_OFFLINE, AlertType.INACTIVITY)


@pytest.mark.parametrize(
    ("key", "alert_type", "expected"),
    [
        # the learned silence: its alarm for the same quiet is inactivity:<last activity>
        (
            "check_in:2026-12-01T13:10:00+00:00",
            "inactivity",
            "inactivity:2026-12-01T13:10:00+00:00",
        ),
        # out too long: the dementia alarm's key is out:<left>
        ("check_in:out:2026-12-01T13:10:00+00:00", "out_too_long", "out:2026-12-01T13:10:00+00:00"),
        ("check_in:routine:2026-12-01", "routine", "routine:2026-12-01"),
    ],
)
def test_the_escalated_alarm_has_the_key_of_the_rules_own_alarm(
    key: str, alert_type: str, expected: str
) -> None:
    assert decide.alarm_key(key, alert_type) == expected
