"""``yiyang replay``: a recorded home run through the production alarm engine in simulated time,
with no database (issue #16).

The events are read from a CSV (header ``ts,sensor,kind,value``, see ``KINDS``), turned into the
device messages a real kit sends (one device per sensor name, taken as alive: the file has no
heartbeats) and fed, in time order, to the same functions the rule worker and the sweeper call
(``alarms/engine.py``): ``handle_event`` for each message; at the production sweep cadence
(``Settings.sweep_seconds``) the sweeper's ``needs_tick`` filter and ``handle_tick``, with the
routine check on the first sweep of each local hour and the baseline learned from the replayed
hourly motion on the first sweep of each local day (``sweep_due``, ``learn_baselines``), from an
empty state; and every finding through ``plan.plan_alerts`` (dedupe, episodes, storm control)
against the alerts the replay has raised so far. Simulated time runs to ``until`` (default: the
last event) even when no event comes.

The replay takes each alert as handled and resolved by an operator ``HANDLED_AFTER`` after it
was raised (it matters only for keys that are not episodic, e.g. a second SOS press).

Pure apart from reading the file: the CLI command (``yiyang.cli``) prints what ``replay``
returns.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from yiyang.alarms import engine, plan, rules
from yiyang.alarms.describe import explain
from yiyang.alarms.enums import AlertState
from yiyang.core.config import get_settings
from yiyang.devices.enums import DeviceType, EventKind

HEADER = ("ts", "sensor", "kind", "value")
ELDER_ID = 1
HANDLED_AFTER = dt.timedelta(hours=1)

# CSV kind → (device type, message event) of the device that sends it (docs/devices.md)
KINDS: dict[str, tuple[DeviceType, EventKind]] = {
    "motion": (DeviceType.PIR_MOTION, EventKind.MOTION),
    "contact": (DeviceType.CONTACT_SENSOR, EventKind.CONTACT),
    "door": (DeviceType.DOOR_SENSOR, EventKind.DOOR),
    "bed": (DeviceType.BED_SENSOR, EventKind.BED),
    "water": (DeviceType.WATER_METER, EventKind.METER),
    "steps": (DeviceType.SMART_WATCH, EventKind.STEPS),
    "away": (DeviceType.AWAY_BUTTON, EventKind.AWAY),
    "home": (DeviceType.AWAY_BUTTON, EventKind.HOME),
    "sos": (DeviceType.SOS_BUTTON, EventKind.SOS),
    "fall": (DeviceType.FALL_RADAR, EventKind.FALL),
}
# --facts: the boolean fields of ``rules.Facts``, and what the replay assumes anyway
ASSUMED_FACTS = frozenset({"living_alone"})


class ReplayError(ValueError):
    """A file or option the replay cannot use; ``line`` is the CSV line (1 = the header)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line


@dataclass(frozen=True, slots=True)
class Row:
    """One CSV event, its time in UTC."""

    line: int
    at: dt.datetime
    sensor: str
    kind: str
    value: float


@dataclass(frozen=True, slots=True)
class Raised:
    """An alarm raised or a check-in task created, as ``--json`` prints it."""

    at: dt.datetime
    rule: str
    severity: str
    response: engine.Response
    reason: str

    def as_json(self, tz: ZoneInfo) -> dict[str, str]:
        return {
            "at": self.at.astimezone(tz).isoformat(),
            "rule": self.rule,
            "severity": self.severity,
            "response": self.response,
            "reason": self.reason,
        }


def parse_time(text: str, tz: ZoneInfo) -> dt.datetime:
    """ISO 8601 → aware UTC. Without an offset: local time in ``tz``; a time a DST change skips
    or repeats is read as zoneinfo does (``fold=0``: the first occurrence, the offset before
    the change)."""
    at = dt.datetime.fromisoformat(text.strip())
    if at.tzinfo is None:
        at = at.replace(tzinfo=tz)
    return at.astimezone(dt.UTC)


def read_events(source: TextIO | Iterable[str], tz: ZoneInfo) -> list[Row]:
    """The CSV's rows in time order (a stable sort: rows of the same second keep their order).
    Raises ``ReplayError`` naming the first bad line."""
    reader = csv.reader(source)
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != HEADER:
        raise ReplayError(f"the header must be {','.join(HEADER)}, not {header!r}", 1)
    rows = []
    for number, cells in enumerate(reader, start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        rows.append(_row(number, cells, tz))
    rows.sort(key=lambda r: r.at)
    return rows


def _row(number: int, cells: list[str], tz: ZoneInfo) -> Row:
    if len(cells) != len(HEADER):
        raise ReplayError(f"expected 4 fields (ts,sensor,kind,value), found {len(cells)}", number)
    ts, sensor, kind, value = (c.strip() for c in cells)
    try:
        at = parse_time(ts, tz)
    except (ValueError, OverflowError) as exc:
        raise ReplayError(f"ts {ts!r} is not an ISO 8601 time ({exc})", number) from None
    if kind not in KINDS:
        raise ReplayError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}", number)
    if not sensor:
        raise ReplayError("the sensor name is empty", number)
    try:
        number_value = float(value) if value else 1.0
    except ValueError:
        raise ReplayError(f"value {value!r} is not a number", number) from None
    if not math.isfinite(number_value) or number_value < 0:
        raise ReplayError(f"value {value!r} must be a number ≥ 0", number)
    return Row(number, at, sensor, kind, number_value)


def read_file(path: Path, tz: ZoneInfo) -> list[Row]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return read_events(f, tz)


def make_facts(names: Iterable[str]) -> rules.Facts:
    """``--facts living_alone,dementia`` → the elder's facts (unknown names are refused);
    ``no_<fact>`` sets a fact that is true by default to false (``no_monitoring``: the elder
    withdrew the health-monitoring consent)."""
    known = {f.name for f in fields(rules.Facts) if f.type in ("bool", bool)}
    flags: dict[str, Any] = {}
    for name in (n.strip() for n in names):
        if not name:
            continue
        if name in known:
            flags[name] = True
        elif name.startswith("no_") and name[3:] in known:
            flags[name[3:]] = False
        elif name not in ASSUMED_FACTS:
            choices = ", ".join(sorted(known | ASSUMED_FACTS | {f"no_{k}" for k in known}))
            raise ReplayError(f"unknown fact {name!r}; one of {choices}")
    return rules.Facts(ELDER_ID, **flags)


@dataclass(slots=True)
class _Alert:
    """An alert the replay raised, as ``plan_alerts`` reads it (``plan.AlertRow``)."""

    id: int
    elder_id: int
    dedupe_key: str
    created_at: dt.datetime
    state: str = AlertState.NEW


@dataclass(slots=True)
class _Home:
    """The simulated system's memory: the rule state, the hourly activity, the alerts."""

    tz: ZoneInfo
    params: rules.Params
    facts: rules.Facts
    state: rules.State = field(default_factory=rules.State)
    hourly: Counter[tuple[dt.datetime, str]] = field(default_factory=Counter)
    alerts: list[_Alert] = field(default_factory=list)
    raised: list[Raised] = field(default_factory=list)
    devices: dict[str, int] = field(default_factory=dict)
    steps_today: dict[tuple[str, dt.date], int] = field(default_factory=dict)
    clock: engine.SweepClock = field(default_factory=engine.SweepClock)

    def event(self, row: Row) -> None:
        if row.kind == "motion" and row.value < 0.5:
            return  # no detection: a motion sensor sends nothing (format v1: count ≥ 1)
        ev = self._message(row)
        found = engine.handle_event(self.state, ev, self.params, self.facts, self.tz)
        counted = engine.activity_count(ev, self.facts)
        if counted is not None:
            hour, kind, n = counted
            self.hourly[(hour, kind)] += n
        self._plan(found, row.at)

    def _message(self, row: Row) -> rules.Event:
        device_type, kind = KINDS[row.kind]
        device = self.devices.setdefault(row.sensor, len(self.devices) + 1)
        return rules.Event(device, device_type, kind, row.at, self._data(row), None)

    def _data(self, row: Row) -> dict[str, Any]:
        on = row.value >= 0.5
        match row.kind:
            case "motion":
                return {"count": max(1, round(row.value))}
            case "contact":
                return {"active": on}
            case "door":
                return {"open": on}
            case "bed":
                return {"in_bed": on}
            case "water":
                return {"total_litres": row.value}
            case "steps":  # the file has steps since the previous row; a watch sends today's
                key = (row.sensor, row.at.astimezone(self.tz).date())
                self.steps_today[key] = self.steps_today.get(key, 0) + round(row.value)
                return {"steps": self.steps_today[key]}
        return {}

    def sweep(self, now: dt.datetime) -> None:
        """One sweep: the tick the sweeper would publish, then the night's baseline."""
        routine, baselines = engine.sweep_due(self.clock, now, self.tz)
        if engine.needs_tick(self.state, now, routine=routine):
            motion = self._motion(*engine.motion_window(now, self.tz)) if routine else None
            found = engine.handle_tick(
                self.state, now, self.params, self.facts, self.tz, motion_today=motion
            )
            self._plan(found, now)
        if baselines:
            start, end = engine.baseline_window(now.astimezone(self.tz).date(), self.tz)
            rows = [
                (ELDER_ID, hour, n)
                for (hour, kind), n in self.hourly.items()
                if kind == "motion" and start <= hour < end
            ]
            learned = engine.learn_baselines(rows, self.tz).get(ELDER_ID)
            if learned is not None:
                engine.handle_baseline(self.state, *learned, self.facts)

    def _motion(self, start: dt.datetime, until: dt.datetime) -> int:
        """Motion counted in [start, until) (what ``telemetry.motion_since`` reads)."""
        return sum(
            n
            for (hour, kind), n in self.hourly.items()
            if kind == "motion" and start <= hour < until
        )

    def _plan(self, found: list[rules.Finding], now: dt.datetime) -> None:
        if not found:
            return
        for a in self.alerts:
            if a.state != AlertState.RESOLVED and now - a.created_at >= HANDLED_AFTER:
                a.state = AlertState.RESOLVED
        decided = plan.plan_alerts({ELDER_ID: found}, self.alerts, lambda _: self.params, now)
        for opening in decided.opened:
            f = opening.finding
            self.alerts.append(_Alert(len(self.alerts) + 1, ELDER_ID, f.key, now))
            self.raised.append(
                Raised(
                    now,
                    f.alert_type.value,
                    f.severity.value,
                    engine.response_of(f),
                    explain(f.alert_type.value, self._local_detail(f.detail)),
                )
            )

    def _local_detail(self, detail: dict[str, Any]) -> dict[str, Any]:
        """Times in the detail shown in the replay's time zone."""
        out = dict(detail)
        for key, value in detail.items():
            if isinstance(value, str) and "T" in value:
                try:
                    at = dt.datetime.fromisoformat(value)
                except ValueError:
                    continue
                if at.tzinfo is not None:
                    out[key] = at.astimezone(self.tz).strftime("%m-%d %H:%M")
        return out


def sweep_times(start: dt.datetime, end: dt.datetime, every_s: int) -> Iterator[dt.datetime]:
    """Sweeps every ``every_s`` seconds on the clock's multiples, from ``start`` to ``end``."""
    step = dt.timedelta(seconds=every_s)
    stamp = math.ceil(start.timestamp() / every_s) * every_s
    at = dt.datetime.fromtimestamp(stamp, dt.UTC)
    while at <= end:
        yield at
        at += step


def replay(
    rows: list[Row],
    *,
    tz: ZoneInfo,
    until: dt.datetime | None = None,
    facts: rules.Facts | None = None,
    params: rules.Params | None = None,
    sweep_seconds: int | None = None,
) -> list[Raised]:
    """Run the engine over the events (sorted by time) to ``until`` (default: the last event);
    the alarms and check-in tasks raised, in order."""
    if sweep_seconds is None:
        sweep_seconds = get_settings().sweep_seconds
    home = _Home(tz, params or rules.Params.layered_safely(), facts or rules.Facts(ELDER_ID))
    if not rows:
        return []
    end = until if until is not None else rows[-1].at
    i = 0
    for now in sweep_times(rows[0].at, end, sweep_seconds):
        while i < len(rows) and rows[i].at <= now:
            home.event(rows[i])
            i += 1
        home.sweep(now)
    for row in rows[i:]:
        if row.at <= end:
            home.event(row)
    return home.raised
