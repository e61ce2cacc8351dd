"""Bed sensor: getting up is a sign of life; not back in bed some time after the set hour is a
warning (once a night)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules.activity import mark_activity
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Event, Facts, Finding, State
from yiyang.alarms.rules.times import hhmm, in_window, night_of


def on_bed(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    in_bed = bool(ev.data.get("in_bed"))
    if state.in_bed is None or state.in_bed != in_bed:
        state.in_bed, state.bed_changed_at = in_bed, ev.at
    if not in_bed:
        mark_activity(state, ev.at)
    return []


def not_in_bed(
    state: State,
    now: dt.datetime,
    local: dt.datetime,
    p: Params,
    tz: ZoneInfo,
    motion_today: int | None,
) -> Finding | None:
    """Not back in bed ``bed_grace_minutes`` after ``bed_by``."""
    if state.in_bed is not False or not in_window(local, p.bed_by, p.night_end):
        return None
    changed = state.bed_changed_at or now
    bed_by = dt.datetime.combine(night_of(local, p.night_end), hhmm(p.bed_by), tzinfo=tz)
    if now - max(changed, bed_by) < dt.timedelta(minutes=p.bed_grace_minutes):
        return None
    night = night_of(local, p.night_end)
    return Finding(
        AlertType.NOT_IN_BED,
        Severity.WARNING,
        f"not_in_bed:{night.isoformat()}",
        now,
        {"bed_by": p.bed_by, "out_since": changed.isoformat()},
        repeat_counts=False,
        episodic=True,
    )
