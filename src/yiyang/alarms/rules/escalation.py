"""What happens to an alert after a rule raised it: storm control (``throttled``) and the
escalation ladder (``escalation_due``)."""

from __future__ import annotations

import datetime as dt

from yiyang.alarms.enums import Severity
from yiyang.alarms.rules.params import Params


def throttled(
    recent_new: list[dt.datetime], now: dt.datetime, severity: Severity, p: Params
) -> bool:
    """Storm control: too many new non-critical alerts for one elder in the window."""
    if severity is Severity.CRITICAL:
        return False
    since = now - dt.timedelta(minutes=p.storm_window_minutes)
    return sum(1 for t in recent_new if t >= since) >= p.storm_max_new


def escalation_due(
    created_at: dt.datetime, severity: str, step: int, p: Params
) -> tuple[str, dt.datetime] | None:
    """The next rung of the ladder (audience, when) for an unacknowledged alert, or None."""
    ladder = p.escalation.get(severity, [])
    if step >= len(ladder):
        return None
    audience, seconds = ladder[step]
    return audience, created_at + dt.timedelta(seconds=seconds)
