"""The two entry points: ``on_event`` looks the message's kind up in ``ON_EVENT`` (one handler per
kind, each in its rule's module) and checks the battery level it carries; ``on_tick`` runs the
silence rules of ``TICK_RULES`` in turn, then those that need the elder's facts
(``FACT_TICK_RULES``), with the silence thresholds tuned to the elder (``feedback.tuned``: the
sensitivity setting and the operators' false-alarm verdicts)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from yiyang.alarms.rules import (
    activity,
    alarms,
    away,
    bed,
    door,
    feedback,
    vitals,
    wandering,
    water,
    wear,
)
from yiyang.alarms.rules.battery import low_battery
from yiyang.alarms.rules.inactivity import inactivity
from yiyang.alarms.rules.morning import morning_silence
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.routine import routine
from yiyang.alarms.rules.silence import learned_silence
from yiyang.alarms.rules.state import Event, Facts, Finding, State
from yiyang.devices.enums import EventKind

EventRule = Callable[[State, Event, Params, Facts, ZoneInfo], list[Finding]]
TickRule = Callable[[State, dt.datetime, dt.datetime, Params, ZoneInfo, int | None], Finding | None]
FactTickRule = Callable[[State, dt.datetime, dt.datetime, Params, ZoneInfo, Facts], Finding | None]

ON_EVENT: dict[EventKind, EventRule] = {
    **dict.fromkeys(alarms.IMMEDIATE, alarms.on_immediate),
    EventKind.TAMPER: alarms.on_tamper,
    EventKind.TROUBLE: alarms.on_trouble,
    EventKind.MOTION: activity.on_motion,
    EventKind.PRESENCE: activity.on_presence,
    EventKind.CONTACT: activity.on_contact,  # an object used: a sign of life, not a position
    EventKind.DOOR: door.on_door,
    EventKind.BED: bed.on_bed,
    EventKind.STEPS: activity.on_steps,
    EventKind.WEAR: wear.on_wear,
    EventKind.VITALS: vitals.on_vitals,
    EventKind.BP: vitals.on_bp,
    EventKind.GLUCOSE: vitals.on_glucose,
    EventKind.GPS: wandering.on_gps,
    EventKind.METER: water.on_meter,
    EventKind.AWAY: away.on_away,
    EventKind.HOME: away.on_home,
}

# In this order: ``inactivity`` may note that the elder was asked first (``prewarned_at``).
TICK_RULES: tuple[TickRule, ...] = (
    inactivity,
    morning_silence,
    water.no_water,
    bed.not_in_bed,
    wear.not_worn,
    routine,
    learned_silence,
)
FACT_TICK_RULES: tuple[FactTickRule, ...] = (away.out_too_long,)


def on_event(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    """Apply one message to the elder's state; return what it raises."""
    rule = ON_EVENT.get(ev.event)
    out = rule(state, ev, p, facts, tz) if rule is not None else []
    battery = ev.battery
    if battery is not None and battery <= p.battery_low:
        out.append(low_battery(ev, battery, p))
    return out


def on_tick(
    state: State,
    now: dt.datetime,
    p: Params,
    facts: Facts,
    tz: ZoneInfo,
    *,
    motion_today: int | None = None,
) -> list[Finding]:
    """Rules that fire on silence rather than on a message. ``motion_today``: motion events
    counted today (local) before the current hour, for the routine check."""
    local = now.astimezone(tz)
    out: list[Finding] = []
    p, fb = feedback.tuned(p, facts, now)  # the elder's sensitivity and the operators' verdicts
    real_last = state.last_activity_at
    if reached_since(real_last, facts.well_at, now):
        # a person reached the elder and found them well after the last sign of life in the
        # home: this quiet is judged from that moment (a new silence, with its own keys), not
        # from the last sensor event. Only for these rules: the state keeps the sensors' time.
        state.last_activity_at = facts.well_at
    try:
        for rule in TICK_RULES:
            found = rule(state, now, local, p, tz, motion_today)
            if found is not None:
                out.append(found)
    finally:
        state.last_activity_at = real_last
    for fact_rule in FACT_TICK_RULES:
        found = fact_rule(state, now, local, p, tz, facts)
        if found is not None:
            out.append(found)
    return feedback.explain(out, fb, now, tz)


WELL_HOLDS = dt.timedelta(hours=24)  # a call reaching the elder counts for a day at most


def reached_since(last: dt.datetime | None, well_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether someone reaching the elder (``Facts.well_at``) is the latest sign of life: after
    the last one the sensors saw, not in the future, and within ``WELL_HOLDS``."""
    if well_at is None or well_at > now or now - well_at > WELL_HOLDS:
        return False
    return last is None or well_at > last
