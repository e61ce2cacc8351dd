"""A check-in task's states and the outcomes of a call."""

from __future__ import annotations

import enum

from yiyang.core.i18n import N_


class TaskState(enum.StrEnum):
    OPEN = "open"  # someone should call the elder
    DONE = "done"  # the elder was reached and is well
    ESCALATED = "escalated"  # handed to the operators as an alarm (``alert_id``)
    SUPERSEDED = "superseded"  # an operator alarm about the same quiet took over (``alert_id``)


class CallOutcome(enum.StrEnum):
    REACHED_WELL = "reached_well"
    REACHED_NEEDS_HELP = "reached_needs_help"
    UNREACHABLE = "unreachable"


STATE_LABELS = {
    TaskState.OPEN: N_("Open"),
    TaskState.DONE: N_("Done"),
    TaskState.ESCALATED: N_("Passed to the operators"),
    TaskState.SUPERSEDED: N_("Taken over by an alarm"),
}

OUTCOME_LABELS = {
    CallOutcome.REACHED_WELL: N_("Reached, well"),
    CallOutcome.REACHED_NEEDS_HELP: N_("Reached, needs help"),
    CallOutcome.UNREACHABLE: N_("Unreachable"),
}
