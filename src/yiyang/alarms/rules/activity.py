"""Signs of life: motion, presence, steps and an object used (a contact sensor) move the
elder's last activity, which the silence rules (``inactivity``, ``morning``) measure from."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from yiyang.alarms.rules import silence
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Event, Facts, Finding, State


def mark_activity(
    state: State, at: dt.datetime, tz: ZoneInfo | None = None, *, inside: bool = True
) -> None:
    """A sign of life at ``at``; with ``tz``, the silence it ends is learned. ``inside``: a
    sensor inside the home (not the front door), so the elder is back if they were out."""
    if tz is not None and (state.last_activity_at is None or at > state.last_activity_at):
        silence.observe(state, at, tz, inside=inside)
    # Remembered to the minute: silence rules count hours, and a per-second timestamp would
    # rewrite the elder's state row on every motion report.
    at = at.replace(second=0, microsecond=0)
    if state.last_activity_at is None or at > state.last_activity_at:
        state.last_activity_at = at
        state.prewarned_at = None


def on_motion(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    state.activity_sensed = True
    mark_activity(state, ev.at, tz)
    return []


def on_contact(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    """An object used inside: the home's silence rules apply as with a motion sensor."""
    state.activity_sensed = True
    mark_activity(state, ev.at, tz)
    return []


def on_presence(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    if ev.data.get("present"):
        mark_activity(state, ev.at, tz)
    return []


def on_steps(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    # steps are counted by a watch, which goes out with the elder: alive, not necessarily home
    if ev.data.get("steps", 0) > 0:
        mark_activity(state, ev.at, tz, inside=False)
    return []
