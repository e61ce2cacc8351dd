"""The check-in task's decisions as plain functions (no I/O, no clock: callers pass ``now``).

- ``split``: which findings go to the operators (alarms) and which become check-in tasks;
- ``due_at``: when an unanswered task escalates;
- ``after_call``: what a call's outcome does to an open task;
- ``overdue``: past its due time and still open;
- ``supersedes``: an operator alarm of this type takes over an open task of that type;
- ``alarm_key``: the dedupe key of the alarm a task escalates to — the key the rule's own alarm
  for the same quiet has, so the two merge into one operator alert instead of two.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from yiyang.alarms import engine, rules
from yiyang.alarms.enums import AlertType
from yiyang.checkins.enums import CallOutcome, TaskState

# Silence-type rules: raised by the lack of a sign of life rather than by a message itself
# (bench/replay/score.py counts the same). An operator alarm of one of them takes over an
# elder's open check-in task of one of them: the operators now have that home's quiet.
SILENCE_TYPES = frozenset(
    {
        AlertType.INACTIVITY,
        AlertType.MORNING_SILENCE,
        AlertType.NOT_IN_BED,
        AlertType.ROUTINE,
        AlertType.OUT_TOO_LONG,
        AlertType.NO_WATER,
    }
)
CHECK_IN_PREFIX = "check_in:"  # the rules' check-in keys (``rules.silence``, ``routine``, ``away``)


def split(
    findings: Mapping[int, list[rules.Finding]],
) -> tuple[dict[int, list[rules.Finding]], dict[int, list[rules.Finding]]]:
    """(alarm findings, check-in findings) per elder, in the order found
    (``engine.response_of``)."""
    alarms: dict[int, list[rules.Finding]] = {}
    check_ins: dict[int, list[rules.Finding]] = {}
    for elder_id, fs in findings.items():
        for f in fs:
            to = check_ins if engine.response_of(f) == "check_in" else alarms
            to.setdefault(elder_id, []).append(f)
    return alarms, check_ins


def due_at(created: dt.datetime, p: rules.Params) -> dt.datetime:
    """Unanswered until then, the task becomes an operator alarm."""
    return created + dt.timedelta(minutes=p.check_in_answer_minutes)


@dataclass(frozen=True, slots=True)
class AfterCall:
    """What a call's outcome does: the task's new state and due time, and whether an operator
    alarm opens now."""

    state: TaskState
    due_at: dt.datetime
    alarm: bool


def after_call(
    due: dt.datetime, outcome: CallOutcome, at: dt.datetime, p: rules.Params
) -> AfterCall:
    """An open task after a call at ``at``: reached and well closes it; reached and in need
    opens an operator alarm at once; unreachable keeps it open and brings the alarm forward to
    ``check_in_unreachable_minutes`` after the call (never later than it was due: a second
    unreachable call does not postpone it), unless a later call reaches the elder."""
    if outcome is CallOutcome.REACHED_WELL:
        return AfterCall(TaskState.DONE, due, alarm=False)
    if outcome is CallOutcome.REACHED_NEEDS_HELP:
        return AfterCall(TaskState.ESCALATED, due, alarm=True)
    grace = at + dt.timedelta(minutes=p.check_in_unreachable_minutes)
    return AfterCall(TaskState.OPEN, min(due, grace), alarm=False)


def overdue(state: str, due: dt.datetime, now: dt.datetime) -> bool:
    return state == TaskState.OPEN and due <= now


def supersedes(alarm_type: str, task_type: str) -> bool:
    """An operator alarm of ``alarm_type`` takes over an open task of ``task_type``."""
    return alarm_type in SILENCE_TYPES and task_type in SILENCE_TYPES


def alarm_key(task_key: str, alert_type: str) -> str:
    """The dedupe key of the operator alarm a task escalates to: the task's key without the
    ``check_in:`` prefix, named by the rule when what is left does not name it already — so
    ``check_in:<last activity>`` of the learned silence becomes ``inactivity:<last activity>``,
    the key of that rule's own alarm for the same quiet, and ``check_in:out:<left>`` becomes
    ``out:<left>``. A later alarm of the rule then merges into the escalated one."""
    rest = task_key.removeprefix(CHECK_IN_PREFIX)
    head = rest.split(":", 1)[0]
    if ":" in rest and head.isidentifier():
        return rest[:96]
    return f"{alert_type}:{rest}"[:96]
