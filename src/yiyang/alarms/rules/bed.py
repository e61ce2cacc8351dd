"""Bed sensor: getting up is a sign of life (a mat flickering out and in is not); not back in bed
some time after the set hour is a warning (once a night) until the home's silence is learned.
Then out of bed and moving about is a late night, not a worry, and out of bed and quiet is a
silence at an hour this home is not quiet, which ``silence.learned_silence`` raises; the
elder's own bedtime (``bedtime``, learned) sets when "not back overnight" begins (``away``)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules import silence
from yiyang.alarms.rules.activity import mark_activity
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Event, Facts, Finding, State
from yiyang.alarms.rules.times import hhmm, in_window, night_of

FLICKER = dt.timedelta(minutes=2)  # "out" this soon after "in": the mat, not the elder


def on_bed(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    in_bed = bool(ev.data.get("in_bed"))
    lay_down = state.bed_changed_at if state.in_bed else None
    if state.in_bed is None or state.in_bed != in_bed:
        state.in_bed, state.bed_changed_at = in_bed, ev.at
    if not in_bed and (lay_down is None or ev.at - lay_down >= FLICKER):
        mark_activity(state, ev.at, tz)  # getting up; a mat flickering in and out is not
    return []


def not_in_bed(
    state: State,
    now: dt.datetime,
    local: dt.datetime,
    p: Params,
    tz: ZoneInfo,
    motion_today: int | None,
) -> Finding | None:
    """Not back in bed ``bed_grace_minutes`` after ``bed_by`` (the fixed rule, until the home is
    learned; never while the elder is out)."""
    learned = state.learned or {}
    if state.in_bed is not False or silence.away(learned) or silence.warm(learned, now, tz, p):
        return None  # once learned, out of bed *and quiet* at night is ``learned_silence``'s
    if not in_window(local, p.bed_by, p.night_end):
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


def bedtime(state: State, now: dt.datetime, p: Params, tz: ZoneInfo) -> str | None:
    """The elder's own bedtime as HH:MM once the home is learned (the 90th percentile of the
    learned bedtimes, if it falls in the night), else None."""
    learned = state.learned or {}
    if not silence.warm(learned, now, tz, p):
        return None
    bed = silence.usual(silence.rest_times(learned, tz)[0], 0.9)
    if bed is None:
        return None
    at = silence.clock(bed)
    inside_night = in_window(dt.datetime.combine(now.date(), hhmm(at)), p.night_start, p.night_end)
    return at if inside_night else None
