"""Alert kinds, severities, states and outcomes."""

from __future__ import annotations

import enum

from yiyang.core.i18n import N_


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


class AlertState(enum.StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    HANDLING = "handling"
    DISPATCHED = "dispatched"
    RESOLVED = "resolved"


# Forward-only lifecycle; any open state may be resolved directly (a false alarm).
TRANSITIONS: dict[AlertState, frozenset[AlertState]] = {
    AlertState.NEW: frozenset({AlertState.ACKNOWLEDGED, AlertState.RESOLVED}),
    AlertState.ACKNOWLEDGED: frozenset(
        {AlertState.HANDLING, AlertState.DISPATCHED, AlertState.RESOLVED}
    ),
    AlertState.HANDLING: frozenset({AlertState.DISPATCHED, AlertState.RESOLVED}),
    AlertState.DISPATCHED: frozenset({AlertState.RESOLVED}),
    AlertState.RESOLVED: frozenset(),
}


class Outcome(enum.StrEnum):
    REAL_EMERGENCY = "real_emergency"
    FALSE_ALARM = "false_alarm"
    DEVICE_FAULT = "device_fault"
    TEST = "test"
    UNREACHABLE_VISITED = "unreachable_visited"  # elder unreachable, someone visited
    RECOVERED = "recovered"  # the condition cleared by itself (device back online)


class AlertType(enum.StrEnum):
    SOS = "sos"
    FALL = "fall"
    SMOKE = "smoke"
    GAS = "gas"
    VITALS = "vitals"
    WANDERING = "wandering"
    INACTIVITY = "inactivity"
    MORNING_SILENCE = "morning_silence"
    NO_WATER = "no_water"
    WATER_RUNNING = "water_running"
    NIGHT_DOOR = "night_door"
    NOT_IN_BED = "not_in_bed"
    ROUTINE = "routine"
    OUT_TOO_LONG = "out_too_long"  # went out through the front door and not back (issue #16)
    DEVICE_OFFLINE = "device_offline"
    LOW_BATTERY = "low_battery"
    TAMPER = "tamper"
    NOT_WORN = "not_worn"
    DEVICE_TROUBLE = "device_trouble"  # an alarm panel's trouble report (power, battery, line)
    # a safety device's message that the rule worker could not process (kept as a dead letter):
    # the operator must check on the elder, since the alarm it may carry was not evaluated
    UNPROCESSED = "unprocessed"


TYPE_LABELS: dict[str, str] = {
    AlertType.SOS: N_("SOS call"),
    AlertType.FALL: N_("Fall detected"),
    AlertType.SMOKE: N_("Smoke alarm"),
    AlertType.GAS: N_("Gas leak"),
    AlertType.VITALS: N_("Abnormal vital signs"),
    AlertType.WANDERING: N_("Left the safe zone (wandering)"),
    AlertType.INACTIVITY: N_("No activity at home"),
    AlertType.MORNING_SILENCE: N_("No activity this morning"),
    AlertType.NO_WATER: N_("No water used"),
    AlertType.WATER_RUNNING: N_("Water running for hours"),
    AlertType.NIGHT_DOOR: N_("Door opened at night"),
    AlertType.NOT_IN_BED: N_("Not back in bed"),
    AlertType.ROUTINE: N_("Unusual daily routine"),
    AlertType.OUT_TOO_LONG: N_("Out and not back"),
    AlertType.DEVICE_OFFLINE: N_("Device offline"),
    AlertType.LOW_BATTERY: N_("Low battery"),
    AlertType.TAMPER: N_("Device tampered with"),
    AlertType.NOT_WORN: N_("Watch not worn"),
    AlertType.DEVICE_TROUBLE: N_("Alarm panel trouble"),
    AlertType.UNPROCESSED: N_("Alarm message could not be processed"),
}

# Alerts that close by themselves when the device reports the condition restored; an alarm
# (SOS, fire, gas) restored at the panel still waits for a person to close it.
SELF_CLEARING = frozenset({AlertType.DEVICE_TROUBLE, AlertType.TAMPER})

SEVERITY_LABELS = {
    Severity.CRITICAL: N_("Critical"),
    Severity.WARNING: N_("Warning"),
    Severity.INFO: N_("Notice"),
}

STATE_LABELS = {
    AlertState.NEW: N_("New"),
    AlertState.ACKNOWLEDGED: N_("Acknowledged"),
    AlertState.HANDLING: N_("Handling"),
    AlertState.DISPATCHED: N_("Dispatched"),
    AlertState.RESOLVED: N_("Resolved"),
}

OUTCOME_LABELS = {
    Outcome.REAL_EMERGENCY: N_("Real emergency"),
    Outcome.FALSE_ALARM: N_("False alarm"),
    Outcome.DEVICE_FAULT: N_("Device fault"),
    Outcome.TEST: N_("Test"),
    Outcome.UNREACHABLE_VISITED: N_("Elder unreachable, visited"),
    Outcome.RECOVERED: N_("Cleared by itself"),
}
