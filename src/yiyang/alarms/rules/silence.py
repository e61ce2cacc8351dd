"""A learned model of this home's normal silence (docs/adr/0014), online and pure.

What it learns, per elder, from the signs of life the worker feeds the rules: for every local
day and hour, the **longest silence in progress** during that hour (minutes since the last sign
of life; ``-1`` while the elder was out). At 10:20 today, after 3 h 10 min without a sign of
life, the question "is this normal here?" becomes "on how many of the last 28 days was a silence
this long in progress at 10–12 o'clock?" — one number per day, so a worker can be told
"on 27 of the last 28 days nothing this quiet at this hour". Besides, the main rest of each day
(the longest silence at home, ≥ 3 h), whose ends give the elder's own getting-up and bed times.

It lives in ``State.learned`` (one JSON column), which is **never edited in place**: each change
builds new lists and a new dict, so the worker's snapshot comparison sees it. Only silences of
``GAP_MIN`` or more are written, so an active home's row changes a few times a day.

The decision (``assess``): with ``ref`` the longest of those daily silences within an hour of
now, leaving out the ``silence_spare_days`` longest (the home's own worst ordinary day at this
hour), a check-in is due at ``factor × ref + margin`` and an alarm once a check-in has been due
for ``silence_alarm_after_minutes``, never later than ``silence_max_hours``; until
``silence_learn_days`` days are learned the fixed rules decide (``warm``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Finding, Response, State
from yiyang.core.i18n import gettext as _

GAP_MIN = dt.timedelta(minutes=15)  # shorter silences are not written
KEEP_DAYS = 28  # days of history the decision reads
REST_MIN = dt.timedelta(hours=3)  # a main rest (sleep) is at least this long
DOOR_SETTLE = dt.timedelta(minutes=5)  # signs of life this soon after the door: still leaving
CHECK_FLOOR_MIN = 90  # never a check-in on less than 1 h 30 min of silence
HOUR = dt.timedelta(hours=1)
NOON = 720


def _minute(at: dt.datetime) -> int:
    return int(at.timestamp()) // 60


def _at(minute: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(minute * 60, dt.UTC)


# --- learning -------------------------------------------------------------------------------


def away(learned: dict[str, Any]) -> bool:
    """Probably out: the away button was pressed, or the front door was the last sign of life."""
    return "away" in learned or "door" in learned


def observe(state: State, at: dt.datetime, tz: ZoneInfo, *, inside: bool = True) -> None:
    """A sign of life at ``at`` (before ``last_activity_at`` moves): the silence it ends is
    written to the model; a sign of life inside the home after the door means back home."""
    learned = state.learned or {}
    new = learned
    if "first" not in new:
        new = {**new, "first": _minute(at)}
    last = state.last_activity_at
    if last is not None and at - last >= GAP_MIN:
        new = record_gap(new, last, at, tz, out=away(learned))
    if inside:
        new = _back_home(new, at)
    if new is not learned:
        state.learned = new


def _back_home(learned: dict[str, Any], at: dt.datetime) -> dict[str, Any]:
    """Door then a sign of life inside (not the leaving itself): home. After the away button,
    only door then inside counts (or the home button)."""
    door = learned.get("door")
    if door is None or at - dt.datetime.fromtimestamp(door, dt.UTC) <= DOOR_SETTLE:
        return learned
    return {k: v for k, v in learned.items() if k not in ("door", "away")}


def on_door(state: State, at: dt.datetime, tz: ZoneInfo, *, opened: bool = True) -> None:
    """The front door: a sign of life, and a change of place. Opened while at home: maybe
    leaving — signs of life inside within ``DOOR_SETTLE`` are the leaving itself (the hall's
    sensor, a last cupboard), later ones say not. Opened again after ``DOOR_SETTLE`` while out
    by the door: coming back (so a collapse just inside the door is watched like any other).
    After the away button, only door then a sign of life inside (or the home button) is back."""
    observe(state, at, tz, inside=False)
    if not opened:
        return
    learned = state.learned
    door = learned.get("door")
    if door is not None and "away" not in learned and at.timestamp() - door > DOOR_SETTLE.seconds:
        # back through the door
        state.learned = {k: v for k, v in learned.items() if k != "door"}
    else:
        state.learned = {**learned, "door": int(at.timestamp())}


def set_away(state: State, at: dt.datetime, is_away: bool) -> None:
    """The away / home button (the elder, family or staff)."""
    learned = state.learned or {}
    if is_away:
        state.learned = {**learned, "away": int(at.timestamp())}
    elif "away" in learned or "door" in learned:
        state.learned = {k: v for k, v in learned.items() if k not in ("door", "away")}


def record_gap(
    learned: dict[str, Any], start: dt.datetime, end: dt.datetime, tz: ZoneInfo, *, out: bool
) -> dict[str, Any]:
    """Write one silence [start, end) into the per-hour maxima (a new dict)."""
    days = {o: v for o, v in learned.get("days", [])}
    changed: dict[int, list[int]] = {}
    start = max(start, end - dt.timedelta(days=KEEP_DAYS + 1))
    local = start.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    slot = local.astimezone(dt.UTC)
    while slot < end:
        loc = slot.astimezone(tz)
        o, h = loc.date().toordinal(), loc.hour
        row = changed.get(o) or list(days.get(o, [0] * 24))
        if out:
            row[h] = -1 if row[h] <= 0 else row[h]
        else:
            row[h] = max(row[h], int((min(end, slot + HOUR) - start).total_seconds() // 60))
        changed[o] = row
        slot += HOUR
    days.update(changed)
    newest = max(days)
    new = {
        **learned,
        "days": [[o, days[o]] for o in sorted(days) if o > newest - KEEP_DAYS - 2],
    }
    if not out and end - start >= REST_MIN:
        new["rest"] = _add_rest(learned.get("rest", []), start, end, tz)
    return new


def _add_rest(
    rest: list[list[int]], start: dt.datetime, end: dt.datetime, tz: ZoneInfo
) -> list[list[int]]:
    """Keep the longest silence at home per day (noon to noon) as its main rest."""
    key = (start + (end - start) / 2 - dt.timedelta(hours=12)).astimezone(tz).date().toordinal()
    by_key = {r[0]: r for r in rest}
    old = by_key.get(key)
    if old is None or old[2] - old[1] < _minute(end) - _minute(start):
        by_key[key] = [key, _minute(start), _minute(end)]
    return [by_key[k] for k in sorted(by_key)][-KEEP_DAYS:]


# --- reading --------------------------------------------------------------------------------


def _from_noon(at: dt.datetime, tz: ZoneInfo) -> int:
    """Local time of day as minutes after noon (so that a night does not wrap)."""
    loc = at.astimezone(tz)
    return (loc.hour * 60 + loc.minute - NOON) % 1440


def rest_times(learned: dict[str, Any], tz: ZoneInfo) -> tuple[list[int], list[int]]:
    """The learned bed times and getting-up times, minutes after noon, oldest first."""
    rest = learned.get("rest", [])
    beds = [_from_noon(_at(r[1]), tz) for r in rest]
    wakes = [_from_noon(_at(r[2]), tz) for r in rest]
    return beds, wakes


def usual(times: list[int], share: float) -> int | None:
    """The ``share`` quantile of learned times (minutes after noon); None when too few."""
    if len(times) < 3:
        return None
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def clock(from_noon: int) -> str:
    minutes = (from_noon + NOON) % 1440
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def days_learned(learned: dict[str, Any], now: dt.datetime, tz: ZoneInfo) -> int:
    """Local days observed before today, the day of the first sign of life included however
    late it came (at most ``KEEP_DAYS``); ``assess`` asks for one day fewer at each hour."""
    first = learned.get("first")
    if first is None:
        return 0
    began = _at(first).astimezone(tz)
    return max(0, min(KEEP_DAYS, (now.astimezone(tz).date() - began.date()).days))


def warm(learned: dict[str, Any], now: dt.datetime, tz: ZoneInfo, p: Params) -> bool:
    return days_learned(learned, now, tz) >= p.silence_learn_days


@dataclass(frozen=True, slots=True)
class Quiet:
    """Today's silence against the home's own: every figure in minutes."""

    silent: int
    days: int  # past days observed at this hour
    quieter: int  # of them, days with a shorter silence at this hour than today's
    ref: int  # the longest silence in progress within an hour of this time on those days
    check_in: int  # the check-in threshold now
    alarm: bool  # a check-in has been due for ``silence_alarm_after_minutes`` (or the cap)


def daily_silences(
    learned: dict[str, Any], at: dt.datetime, tz: ZoneInfo, around: int = 1
) -> list[int]:
    """For each past day (up to ``KEEP_DAYS``) the longest silence in progress within
    ``around`` hours of this time of day (by default the hour slot before, this one, the one
    after: a routine an hour late or early is still the routine; the operators' false alarms
    widen it, ``feedback.py``); days the elder was out then are left out."""
    loc = at.astimezone(tz)
    today, h = loc.date().toordinal(), loc.hour
    days = {o: v for o, v in learned.get("days", [])}
    first = learned.get("first")
    began = _at(first).astimezone(tz) if first is not None else loc
    # the first day counts from the hour the model began (earlier hours were not seen)
    first_day = began.date().toordinal() + (1 if h < began.hour + 1 else 0)
    zero = [0] * 24
    out = []
    for o in range(max(first_day, today - KEEP_DAYS), today):
        seen = []
        for slot in range(h - around, h + around + 1):
            day = o + slot // 24  # -1 → the day before's 23:00, 24 → the day after's 00:00
            if day == today and slot >= 24:
                continue
            value = days.get(day, zero)[slot % 24]
            if value >= 0:
                seen.append(value)
        if seen:
            out.append(max(seen))
    return out


def usually_out(learned: dict[str, Any], at: dt.datetime, tz: ZoneInfo) -> bool:
    """Out at this hour or the one before on at least a quarter of the learned days (a shift
    worker at night)."""
    loc = at.astimezone(tz)
    today, h = loc.date().toordinal(), loc.hour
    days = {o: v for o, v in learned.get("days", [])}
    rows = [days[o] for o in range(today - KEEP_DAYS, today) if o in days]
    out = sum(1 for r in rows if r[h - 1] < 0 or r[h] < 0)
    return len(rows) >= 3 and 4 * out >= len(rows)


def out_today(learned: dict[str, Any], local: dt.datetime, since_minute: int) -> bool:
    """The elder was out (by the door or the button) at some hour today from ``since_minute``
    (minutes after midnight) to now."""
    row = next((v for o, v in learned.get("days", []) if o == local.date().toordinal()), None)
    return row is not None and any(v < 0 for v in row[since_minute // 60 : local.hour + 1])


def usual_longest(refs: list[int], p: Params) -> int:
    """The longest daily silence at this hour, leaving out the ``silence_spare_days`` longest
    (one odd day — an early night, an absence the door did not show — does not blunt it)."""
    ordered = sorted(refs)
    return ordered[max(0, len(ordered) - 1 - p.silence_spare_days)]


def threshold(refs: list[int], p: Params) -> int:
    """The check-in threshold from the daily silences at this hour (minutes)."""
    ref = usual_longest(refs, p)
    check = max(CHECK_FLOOR_MIN, int(p.silence_check_factor * ref) + p.silence_check_margin_minutes)
    return min(check, int(p.silence_max_hours * 60))


def assess(state: State, now: dt.datetime, tz: ZoneInfo, p: Params) -> Quiet | None:
    """Today's silence at home against the last days' at this hour (None: no silence, out,
    or not learned yet). The alarm is stateless: the check-in threshold was already passed
    ``silence_alarm_after_minutes`` ago (so a check-in always comes first), or the cap."""
    learned, last = state.learned or {}, state.last_activity_at
    if last is None or not state.activity_sensed or away(learned):
        return None
    if not warm(learned, now, tz, p):
        return None
    refs = daily_silences(learned, now, tz, p.silence_hours_around)
    if len(refs) < p.silence_learn_days - 1:  # the first day may have begun after this hour
        return None
    silent = int((now - last).total_seconds() // 60)
    check = threshold(refs, p)
    after = p.silence_alarm_after_minutes
    alarm = silent >= int(p.silence_max_hours * 60)
    if not alarm and silent - after >= CHECK_FLOOR_MIN:
        earlier = daily_silences(
            learned, now - dt.timedelta(minutes=after), tz, p.silence_hours_around
        )
        alarm = bool(earlier) and silent - after >= threshold(earlier, p)
    quieter = sum(1 for r in refs if r < silent)
    return Quiet(silent, len(refs), quieter, usual_longest(refs, p), check, alarm)


def duration(minutes: int) -> str:
    return _("%(h)s h %(m)s min", h=minutes // 60, m=minutes % 60)


def since_text(last: dt.datetime, now: dt.datetime, tz: ZoneInfo) -> str:
    """ "21:10" today, "21:10 yesterday", or the date further back."""
    a, b = last.astimezone(tz), now.astimezone(tz)
    hhmm = a.strftime("%H:%M")
    gap = (b.date() - a.date()).days
    if gap == 0:
        return hhmm
    if gap == 1:
        return _("%(time)s yesterday", time=hhmm)
    return _("%(date)s %(time)s", date=a.strftime("%m-%d"), time=hhmm)


def usual_wake(learned: dict[str, Any], tz: ZoneInfo) -> int | None:
    """ "Usually up by": the 90th percentile of the learned getting-up times."""
    return usual(rest_times(learned, tz)[1], 0.9)


def reason(state: State, q: Quiet, now: dt.datetime, tz: ZoneInfo) -> str:
    """The sentence for the worker: what is usual, what happened, how rare it is."""
    last = state.last_activity_at
    assert last is not None
    values = {
        "since": since_text(last, now, tz),
        "duration": duration(q.silent),
        "quiet": q.quieter,
        "days": q.days,
    }
    wake = usual_wake(state.learned or {}, tz)
    began = _from_noon(last, tz)
    rest = int(REST_MIN.total_seconds() // 60)
    if wake is not None and began <= wake - rest and wake <= _from_noon(now, tz):
        # the silence began in the night (not an early visit to the kitchen) and the elder
        # is usually up by now
        return _(
            "usually up by %(wake)s; no activity since %(since)s (%(duration)s); on %(quiet)s "
            "of the last %(days)s days nothing this quiet at this hour",
            wake=clock(wake),
            **values,
        )
    return _(
        "no activity since %(since)s (%(duration)s); on %(quiet)s of the last %(days)s days "
        "nothing this quiet at this hour",
        **values,
    )


# --- the rule -------------------------------------------------------------------------------


def learned_silence(
    state: State,
    now: dt.datetime,
    local: dt.datetime,
    p: Params,
    tz: ZoneInfo,
    motion_today: int | None,
) -> Finding | None:
    """Once learned: a check-in when this silence is clearly longer than any of the last days'
    at this hour, an operator alarm ``silence_alarm_after_minutes`` later."""
    q = assess(state, now, tz, p)
    if q is None or (q.silent < q.check_in and not q.alarm):
        return None
    last = state.last_activity_at
    assert last is not None
    is_alarm = q.alarm
    text = reason(state, q, now, tz)
    detail = {
        "reason": text,
        "hours": round(q.silent / 60, 1),
        "last_activity": last.isoformat(),
        "usual_minutes": q.ref,
        "days_quieter": q.quieter,
        "days": q.days,
        "learned": True,
    }
    return Finding(
        AlertType.INACTIVITY,
        Severity.WARNING if is_alarm else Severity.INFO,
        f"{'inactivity' if is_alarm else 'check_in'}:{last.isoformat()}",
        now,
        detail,
        repeat_counts=False,
        episodic=True,
        response=Response.ALARM if is_alarm else Response.CHECK_IN,
        reason=text,
    )
