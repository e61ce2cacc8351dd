"""Away awareness: out through the front door (the door was the last sign of life) or out by the
away button (the device, or away/back in the app: ``presence``). While out the silence rules
hold; this rule takes over: not back by bedtime (the elder's own once learned) or out longer than
``out_max_hours`` is a check-in; an elder with dementia out at night is an alarm at once. After
the away button nothing is raised until the elder is back — unless the away said when
(``data["until"]``, an absence planned in the app: "at my daughter's until Sunday"): not back
``away_grace_minutes`` after that is a check-in, "not back as planned"."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules import silence
from yiyang.alarms.rules.activity import mark_activity
from yiyang.alarms.rules.bed import bedtime
from yiyang.alarms.rules.door import night_window
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Event, Facts, Finding, Response, State
from yiyang.alarms.rules.times import hhmm, in_window, night_of
from yiyang.core.i18n import gettext as _

OUT_AT_NIGHT = dt.timedelta(minutes=10)  # a dementia elder out this long at night: alarm


UNTIL = "away_until"  # ``State.learned``: when an away said the elder would be back (Unix s)


def until_of(data: dict[str, Any]) -> dt.datetime | None:
    """The return time an away message carries (``data["until"]``: ISO 8601 with an offset, or
    Unix seconds); None without one, or for a value that is not a time."""
    value = data.get("until")
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, dt.UTC)
        if isinstance(value, str):
            at = dt.datetime.fromisoformat(value)
            return at if at.tzinfo is not None else None
    except (ValueError, OverflowError, OSError):
        return None
    return None


def on_away(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    """The away button: the elder says they are out (and maybe until when)."""
    silence.set_away(state, ev.at, True)
    until = until_of(ev.data)
    learned = state.learned
    if until is not None and until > ev.at:
        state.learned = {**learned, UNTIL: int(until.timestamp())}
    elif UNTIL in learned:
        state.learned = {k: v for k, v in learned.items() if k != UNTIL}
    return []


def on_home(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    """The home button: back (and a sign of life)."""
    silence.set_away(state, ev.at, False)
    if UNTIL in state.learned:
        state.learned = {k: v for k, v in state.learned.items() if k != UNTIL}
    mark_activity(state, ev.at, tz)
    return []


def not_back_as_planned(state: State, now: dt.datetime, p: Params, tz: ZoneInfo) -> Finding | None:
    """Away with a return time and not back ``away_grace_minutes`` after it: a check-in."""
    learned = state.learned or {}
    until = learned.get(UNTIL)
    if until is None or "away" not in learned:  # no return time, or back already
        return None
    due = dt.datetime.fromtimestamp(until, dt.UTC)
    if now < due + dt.timedelta(minutes=p.away_grace_minutes):
        return None
    left = dt.datetime.fromtimestamp(learned["away"], dt.UTC)
    late = int((now - due).total_seconds() // 60)
    text = _(
        "not back as planned: expected back %(until)s, now %(duration)s late",
        until=silence.since_text(due, now, tz),
        duration=silence.duration(late),
    )
    detail = {
        "out_since": left.isoformat(),
        "until": due.isoformat(),
        "hours": round((now - left).total_seconds() / 3600, 1),
        "reason": text,
    }
    return Finding(
        AlertType.OUT_TOO_LONG,
        Severity.INFO,
        f"check_in:away:{left.isoformat()}",
        now,
        detail,
        repeat_counts=False,
        episodic=True,
        response=Response.CHECK_IN,
        reason=text,
    )


def out_too_long(
    state: State, now: dt.datetime, local: dt.datetime, p: Params, tz: ZoneInfo, facts: Facts
) -> Finding | None:
    learned = state.learned or {}
    if "away" in learned:  # out on purpose: only a return time it said can be missed
        return not_back_as_planned(state, now, p, tz)
    door = learned.get("door")
    if door is None:  # not out
        return None
    left = dt.datetime.fromtimestamp(door, dt.UTC)
    out = now - left
    night = night_window(state, now, p, tz)
    at_night = in_window(local, *night)
    dementia = facts.dementia and at_night and out >= OUT_AT_NIGHT
    if not dementia and not _overnight(left, now, local, p, tz, state):
        return None
    minutes = int(out.total_seconds() // 60)
    detail = {"out_since": left.isoformat(), "hours": round(minutes / 60, 1)}
    since = silence.since_text(left, now, tz)
    if dementia:
        text = _(
            "out at night since %(since)s (%(duration)s); dementia: look for the elder now",
            since=since,
            duration=silence.duration(minutes),
        )
        return Finding(
            AlertType.OUT_TOO_LONG,
            Severity.WARNING,
            f"out:{left.isoformat()}",
            now,
            {**detail, "night": True, "reason": text},
            repeat_counts=False,
            episodic=True,
            reason=text,
        )
    text = _(
        "went out at %(since)s and not back (%(duration)s)",
        since=since,
        duration=silence.duration(minutes),
    )
    return Finding(
        AlertType.OUT_TOO_LONG,
        Severity.INFO,
        f"check_in:out:{left.isoformat()}",
        now,
        {**detail, "reason": text},
        repeat_counts=False,
        episodic=True,
        response=Response.CHECK_IN,
        reason=text,
    )


def _overnight(
    left: dt.datetime,
    now: dt.datetime,
    local: dt.datetime,
    p: Params,
    tz: ZoneInfo,
    state: State,
) -> bool:
    """Out longer than ``out_max_hours``, or not back ``bed_grace_minutes`` after the elder's
    own bedtime (learned; until then, still out when the night ends: "overnight")."""
    if now - left >= dt.timedelta(hours=p.out_max_hours):
        return True
    if silence.usually_out(state.learned or {}, now, tz):
        return False  # out at this hour is this elder's routine (night shifts, evenings out)
    bed = bedtime(state, now, p, tz)
    grace = dt.timedelta(minutes=p.bed_grace_minutes)
    if bed is None:
        end = dt.datetime.combine(local.date(), hhmm(p.night_end), tzinfo=tz)
        return left < end <= now - grace
    if not in_window(local, bed, p.night_end):
        return False
    due = dt.datetime.combine(night_of(local, p.night_end), hhmm(bed), tzinfo=tz)
    if hhmm(bed) < hhmm(p.night_end):  # a bedtime after midnight
        due += dt.timedelta(days=1)
    return left < due and now >= due + grace
