"""Device offline: missed heartbeats, or an alarm panel's line supervision interval passed."""

from __future__ import annotations

import datetime as dt

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Finding
from yiyang.devices.enums import SAFETY_DEVICES, DeviceType


def device_offline(
    device_id: int,
    device_type: DeviceType,
    last_seen: dt.datetime | None,
    interval_s: int,
    now: dt.datetime,
    p: Params,
) -> Finding | None:
    """Missed heartbeats: silent for more than ``offline_factor`` × its reporting interval."""
    if last_seen is None:
        return None
    silent = now - last_seen
    if device_type is DeviceType.ALARM_PANEL:  # line supervision: the interval is a promise
        limit = dt.timedelta(seconds=interval_s + p.line_grace_s)
    else:
        limit = dt.timedelta(seconds=interval_s * p.offline_factor)
    if silent <= limit:
        return None
    return Finding(
        AlertType.DEVICE_OFFLINE,
        Severity.WARNING if device_type in SAFETY_DEVICES else Severity.INFO,
        f"offline:{device_id}",
        now,
        {
            "device_type": device_type.value,
            "last_seen": last_seen.isoformat(),
            "minutes": int(silent.total_seconds() // 60),
        },
        device_id,
        repeat_counts=False,
    )
