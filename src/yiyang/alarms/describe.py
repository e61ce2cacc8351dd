"""Alerts in words: the explanation of each kind of alert, from the figures in ``detail``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from yiyang.alarms.enums import TYPE_LABELS, AlertType
from yiyang.core.clock import to_local
from yiyang.core.i18n import N_, gettext
from yiyang.devices.enums import TYPE_LABELS as DEVICE_LABELS
from yiyang.devices.enums import DeviceType
from yiyang.devices.vitals import vital_unit

METRIC_LABELS = {
    "heart_rate": N_("heart rate"),
    "spo2": N_("SpO2"),
    "breathing_rate": N_("breathing rate"),
    "bp": N_("blood pressure"),
    "glucose": N_("blood glucose"),
}

TEMPLATES: dict[str, str] = {
    AlertType.SOS: N_("SOS button pressed ({device})"),
    AlertType.FALL: N_("Fall detected by the {device}"),
    AlertType.SMOKE: N_("Smoke detected"),
    AlertType.GAS: N_("Gas detected"),
    AlertType.VITALS: N_("{metric} {values} for {readings} readings in a row"),
    AlertType.WANDERING: N_("Left the home area at {left_at}, now {distance_m} m from home"),
    AlertType.INACTIVITY: N_("No activity at home for {hours} h"),
    AlertType.MORNING_SILENCE: N_("No activity since {since} (now {local_time})"),
    AlertType.NO_WATER: N_("No water used for {hours} h"),
    AlertType.WATER_RUNNING: N_("Water running for {hours} h ({litres_per_hour} L/h)"),
    AlertType.NIGHT_DOOR: N_("Door opened at {local_time} at night"),
    AlertType.NOT_IN_BED: N_("Not back in bed by {bed_by}"),
    AlertType.ROUTINE: N_(
        "Usually {expected} motion events between {since} and {by}, today {actual}"
    ),
    AlertType.OUT_TOO_LONG: N_("Went out at {out_since} and not back ({hours} h)"),
    AlertType.DEVICE_OFFLINE: N_("{device} silent for {minutes} min"),
    AlertType.LOW_BATTERY: N_("{device} battery at {battery}%"),
    AlertType.TAMPER: N_("{device} tampered with or removed"),
    AlertType.NOT_WORN: N_("Watch not worn since {since}"),
    AlertType.DEVICE_TROUBLE: N_("{device}: {label} (code {code}, zone {zone})"),
    AlertType.UNPROCESSED: N_(
        "A message from the {device} could not be processed; call the elder to check"
    ),
}


VITALS_WITHOUT_VALUES = N_("{metric} out of range for {readings} readings in a row")

# What of an alert's ``detail`` may be shown without the elder's consent: an allowlist, so a
# key a rule adds later is hidden until someone decides it is safe. Safe are the kind and times
# of an alert, durations, the device and its own reports (battery, protocol code and zone), the
# metric's name and how many readings in a row — never a reading itself (values, heart rate,
# blood pressure, water flow, expected/actual motion counts) nor a position (lat/lon, distance
# from home). The rest is the elder's private detail, shown only where the
# ``elder.details_shared`` and ``elder.monitored`` rules (registry.permissions) both allow.
SHOWN_WITHOUT_CONSENT = frozenset(
    {
        # what and which device
        "device_type",
        "event",
        "metric",
        "readings",
        "restore",
        # the device's own reports
        "battery",
        "code",
        "zone",
        "label",
        # times and durations
        "hours",
        "minutes",
        "days",
        "since",
        "left_at",
        "last_activity",
        "last_seen",
        "out_since",
        "local_time",
        "bed_by",
        "by",
        "night",
        # a learned rule's sentence: times and durations only (alarms/rules/silence.py, away.py)
        "reason",
    }
)


def shown_detail(detail: dict[str, Any], shared: bool) -> dict[str, Any]:
    """An alert's ``detail`` for a reader: whole when its figures may be shown to them
    (``figures_shown``), else only the keys of ``SHOWN_WITHOUT_CONSENT``."""
    if shared:
        return detail
    return {k: v for k, v in detail.items() if k in SHOWN_WITHOUT_CONSENT}


def figures_shown(shared: bool, monitored: bool) -> bool:
    """May an alert's figures (readings, positions) be shown? Only where the elder's details
    are shared with the reader (``elder.details_shared``) AND the health-monitoring consent is
    in force (``elder.monitored``) — the one test every page, API and card uses."""
    return shared and monitored


def _hhmm(value: str) -> str:
    try:
        local = to_local(dt.datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return value
    return local.strftime("%m-%d %H:%M") if local else value


def explain(alert_type: str, detail: dict[str, Any]) -> str:
    if isinstance(detail.get("reason"), str) and detail["reason"]:
        # a learned rule's own sentence (alarms/rules/silence.py), written when it was raised
        return str(detail["reason"])
    template = TEMPLATES.get(alert_type)
    if template is None:
        return gettext(TYPE_LABELS.get(alert_type, alert_type))
    values: dict[str, Any] = dict(detail)
    device = detail.get("device_type")
    values["device"] = gettext(DEVICE_LABELS[DeviceType(device)]) if device else ""
    if "label" in detail:  # a protocol code's description (docs/protocols.md)
        code_label = str(detail["label"])
        values["label"] = gettext(code_label)
    values.setdefault("zone", "-")
    if "metric" in detail:
        values["metric"] = gettext(METRIC_LABELS.get(detail["metric"], detail["metric"]))
        if not detail.get("values") and alert_type == AlertType.VITALS:
            # the readings withheld (no monitoring consent, or not shared with this reader)
            return gettext(VITALS_WITHOUT_VALUES).format(**values)
        vals = detail.get("values", [])
        numbers = ", ".join("/".join(map(str, v)) if isinstance(v, list) else str(v) for v in vals)
        values["values"] = f"{numbers} {vital_unit(str(detail['metric']))}".strip()
    for key in ("left_at", "since", "last_activity", "last_seen", "out_since"):
        if key in detail and isinstance(detail[key], str) and "T" in detail[key]:
            values[key] = _hhmm(detail[key])
    values.setdefault("distance_m", "?")
    try:
        return gettext(template).format(**values)
    except (KeyError, IndexError, ValueError):
        return gettext(TYPE_LABELS.get(alert_type, alert_type))


TRAIL_LABELS = {
    "created": N_("raised"),
    "repeated": N_("repeated"),
    "suppressed": N_("storm suppressed"),
    "restored": N_("restored at the device"),
    "escalated": N_("escalated"),
    "acknowledged": N_("acknowledged"),
    "handling": N_("being handled"),
    "dispatched": N_("dispatched"),
    "resolved": N_("resolved"),
    "claimed": N_("claimed"),
    "released": N_("released"),
    "handed_over": N_("handed over"),
    "call": N_("call logged"),
    "dispatch": N_("responder sent"),
    "stand_down": N_("told they are no longer needed"),
    "arrived": N_("responder arrived"),
    "request_120": N_("120 requested"),
}


def trail_label(action: str) -> str:
    return gettext(TRAIL_LABELS[action]) if action in TRAIL_LABELS else action


def title(alert_type: str) -> str:
    return gettext(TYPE_LABELS.get(alert_type, alert_type))
