"""Watch worn or not: taken off and left off during waking hours is an info alert."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Event, Facts, Finding, State
from yiyang.alarms.rules.times import in_window


def on_wear(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    if ev.data.get("worn"):
        state.not_worn_since = None
    elif state.not_worn_since is None:
        state.not_worn_since = ev.at
    return []


def not_worn(
    state: State,
    now: dt.datetime,
    local: dt.datetime,
    p: Params,
    tz: ZoneInfo,
    motion_today: int | None,
) -> Finding | None:
    """Taken off at least ``not_worn_hours`` ago, during waking hours."""
    since = state.not_worn_since
    if since is None or now - since < dt.timedelta(hours=p.not_worn_hours):
        return None
    if not in_window(local, p.waking_start, p.waking_end):
        return None
    return Finding(
        AlertType.NOT_WORN,
        Severity.INFO,
        f"not_worn:{since.isoformat()}",
        now,
        {"since": since.isoformat()},
        repeat_counts=False,
        episodic=True,
    )
