"""Low battery, checked on every message that carries a level: info, or a warning for a safety
device at half the threshold."""

from __future__ import annotations

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Event, Finding
from yiyang.devices.enums import SAFETY_DEVICES


def low_battery(ev: Event, battery: int, p: Params) -> Finding:
    """The finding for ``battery`` (the event's level, already known ≤ ``battery_low``)."""
    urgent = ev.device_type in SAFETY_DEVICES and battery <= p.battery_low // 2
    return Finding(
        AlertType.LOW_BATTERY,
        Severity.WARNING if urgent else Severity.INFO,
        f"battery:{ev.device_id}",
        ev.at,
        {"battery": battery, "device_type": ev.device_type.value},
        ev.device_id,
        repeat_counts=False,
    )
