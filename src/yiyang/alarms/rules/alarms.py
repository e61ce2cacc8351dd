"""Immediate alarms: an SOS press, a fall, smoke or gas is critical at once; a tamper switch or a
panel's trouble report is a warning. A ``restore`` from the device never opens an alert (see
``plan_alerts``)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Event, Facts, Finding, State
from yiyang.devices.enums import EventKind

IMMEDIATE = {
    EventKind.SOS: AlertType.SOS,
    EventKind.FALL: AlertType.FALL,
    EventKind.SMOKE: AlertType.SMOKE,
    EventKind.GAS: AlertType.GAS,
}


def on_immediate(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    data = ev.data
    alert_type = IMMEDIATE[ev.event]
    return [
        Finding(
            alert_type,
            Severity.CRITICAL,
            alert_type.value,
            ev.at,
            {"device_type": ev.device_type.value, **data},
            ev.device_id,
            restore=bool(data.get("restore")),
        )
    ]


def on_tamper(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    data = ev.data
    return [
        Finding(
            AlertType.TAMPER,
            Severity.WARNING,
            f"tamper:{ev.device_id}",
            ev.at,
            {"device_type": ev.device_type.value, **data},
            ev.device_id,
            restore=bool(data.get("restore")),
        )
    ]


def on_trouble(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    data = ev.data
    code, zone = data.get("code", "?"), data.get("zone", "")
    return [
        Finding(
            AlertType.DEVICE_TROUBLE,
            Severity.WARNING,
            f"trouble:{ev.device_id}:{code}:{zone}",
            ev.at,
            {"device_type": ev.device_type.value, **data},
            ev.device_id,
            restore=bool(data.get("restore")),
        )
    ]
