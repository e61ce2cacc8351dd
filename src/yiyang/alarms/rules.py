"""The alarm rules: pure functions from (state, event or clock tick, parameters) to findings.

No I/O and no clock of their own: the worker feeds them messages in device-time order per elder
and the sweeper feeds them ticks, so the same code replays a day of history as fast as it can
read it. Every finding carries ``detail`` that explains it in figures ("usually 14 motion events
by 10:00, today 0"); the UI turns that into a sentence.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass, field
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.limits import (
    BP,
    REQUIRED_RUNGS,
    SUSTAIN,
    Bound,
    ParamError,
    Problem,
    Safe,
    check_ladder,
    check_limit,
    check_polygon,
    check_times,
    check_value,
    safe_of,
)
from yiyang.core.i18n import gettext as _
from yiyang.devices.enums import SAFETY_DEVICES, DeviceType, EventKind


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def _pair(lo: tuple[float, float], hi: tuple[float, float]) -> tuple[Bound, Bound]:
    return Bound(*lo), Bound(*hi)


# Each parameter: its type, its code default, and its safe range (``limits.Safe``, the same table
# as docs/devices.md). A new parameter needs all three; a test fails on one without a range.
_VITAL_NOTE = "critical: can be moved, never switched off"


class Params(BaseModel):
    """Rule parameters. Code defaults here; a district (or street/community) row overrides some,
    an elder's row overrides those (``rule_settings``). Every instance is within the safe
    ranges, whichever way it was made (the API, a region's defaults, a stored row read back)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Vitals (adult defaults from clinical practice); a value beyond *_warn for ``sustain``
    # readings in a row is a warning, beyond *_crit a critical alert.
    heart_rate_warn: Annotated[
        tuple[int, int],
        Safe(
            _pair((35, 50), (90, 140)),
            "bpm",
            "NEWS2",
            "range",
            note="default at NEWS2's score-3 edges (≤ 40, ≥ 131)",
        ),
    ] = (40, 130)
    heart_rate_crit: Annotated[
        tuple[int, int],
        Safe(
            _pair((30, 45), (130, 180)),
            "bpm",
            "NEWS2",
            "range",
            limit_of="heart_rate_warn",
            note=_VITAL_NOTE,
        ),
    ] = (35, 150)
    spo2_warn_below: Annotated[
        int,
        Safe(
            Bound(88, 95),
            "%",
            "WHO, BTS, NEWS2",
            "below",
            note="WHO: < 94 % needs assessment; 88 for COPD (BTS target 88–92 %)",
        ),
    ] = 90
    spo2_crit_below: Annotated[
        int,
        Safe(
            Bound(80, 90),
            "%",
            "WHO, NEWS2",
            "below",
            limit_of="spo2_warn_below",
            note=_VITAL_NOTE + "; WHO: < 90 % is an emergency; down to 80 for chronic "
            "hypoxaemia (NEWS2 scale 2 scores ≤ 83 as 3)",
        ),
    ] = 85
    breathing_rate_warn: Annotated[
        tuple[int, int],
        Safe(
            _pair((6, 12), (20, 30)),
            "/min",
            "NEWS2",
            "range",
            note="NEWS2: ≤ 8 and ≥ 25 score 3, 9–11 and 21–24 score 1–2",
        ),
    ] = (8, 30)
    breathing_rate_crit: Annotated[
        tuple[int, int],
        Safe(
            _pair((4, 8), (25, 40)),
            "/min",
            "NEWS2",
            "range",
            limit_of="breathing_rate_warn",
            note=_VITAL_NOTE,
        ),
    ] = (6, 40)
    # systolic ≥ or diastolic ≥
    bp_warn: Annotated[
        tuple[int, int],
        Safe(
            _pair((140, 180), (90, 110)),
            "mmHg",
            "CN-HTN",
            "above",
            BP,
            note="default: grade 3 hypertension ≥ 180/110",
        ),
    ] = (180, 110)
    bp_crit: Annotated[
        tuple[int, int],
        Safe(
            _pair((160, 220), (100, 130)),
            "mmHg",
            "CN-HTN",
            "above",
            BP,
            limit_of="bp_warn",
            note=_VITAL_NOTE + "; hypertensive crisis > 180/120, at most 220/130",
        ),
    ] = (200, 120)
    glucose_warn: Annotated[
        tuple[float, float],
        Safe(
            _pair((3.3, 5.0), (10.0, 16.7)),
            "mmol/L",
            "CN-DM",
            "range",
            note="default: hypoglycaemia in treated diabetes < 3.9 (ADA level 1)",
        ),
    ] = (3.9, 16.7)
    glucose_crit: Annotated[
        tuple[float, float],
        Safe(
            _pair((2.8, 3.9), (13.9, 33.3)),
            "mmol/L",
            "CN-DM, CN-HGC",
            "range",
            limit_of="glucose_warn",
            note=_VITAL_NOTE + "; level 2 < 3.0, non-diabetic < 2.8; DKA > 13.9, HHS ≥ 33.3",
        ),
    ] = (3.0, 22.2)
    # A layer names only the metrics it changes; the others keep the layer below's.
    sustain: Annotated[
        dict[str, int],
        Safe(
            SUSTAIN,
            "readings",
            "reasoned",
            note="every reading of the run must be out: each one more delays even a "
            "critical alarm by one reporting interval (1–5 min)",
        ),
    ] = Field(
        default_factory=lambda: {
            "heart_rate": 3,
            "spo2": 3,
            "breathing_rate": 3,
            "bp": 2,
            "glucose": 1,
        }
    )
    # Wandering: home geofence (circle around the home, or a polygon of [lat, lon] points)
    geofence_radius_m: Annotated[
        float,
        Safe(
            Bound(50, 5000),
            "m",
            "reasoned",
            note="below 50 m a GPS fix's own error raises alarms; beyond 5 km a walk is lost",
        ),
    ] = 500
    geofence_polygon: Annotated[
        list[tuple[float, float]] | None,
        Safe(
            Bound(3, 200),
            "corners",
            "reasoned",
            optional=True,
            note="or none (the circle); corners at most 10 km apart",
        ),
    ] = None
    geofence_confirm_points: Annotated[
        int,
        Safe(
            Bound(1, 5),
            "fixes",
            "reasoned",
            note="wandering is critical: at most 5 fixes (about 5–25 min) before the alarm",
        ),
    ] = 2
    # Inactivity
    inactivity_hours: Annotated[
        float,
        Safe(
            Bound(2, 24),
            "h",
            "reasoned",
            note="an elder on the floor must not wait more than a day",
        ),
    ] = 12
    waking_start: Annotated[str, Safe(None, "", "reasoned", note="waking hours last 12–20 h")] = (
        "07:00"
    )
    waking_end: Annotated[str, Safe(None, "", "reasoned", note="see waking_start")] = "22:00"
    morning_start: Annotated[
        str, Safe(None, "", "reasoned", note="the morning window lasts 1–6 h")
    ] = "07:00"
    morning_end: Annotated[str, Safe(None, "", "reasoned", note="see morning_start")] = "10:00"
    morning_quiet_minutes: Annotated[
        int,
        Safe(
            Bound(0, 240),
            "min",
            "reasoned",
            note="0 = off (a warning rule); shorter than the morning window",
        ),
    ] = 60
    prewarn_minutes: Annotated[
        int,
        Safe(
            Bound(0, 60),
            "min",
            "reasoned",
            note="ask the elder first (0 = off); delays the inactivity alert by at most 1 h",
        ),
    ] = 0
    # Water (remote meter)
    water_no_use_hours: Annotated[
        float, Safe(Bound(12, 72), "h", "reasoned", note="a day's use spans at least 12 h")
    ] = 24
    water_running_hours: Annotated[
        float, Safe(Bound(1, 12), "h", "reasoned", note="a bath or laundry runs under 1 h")
    ] = 3
    # A left-open tap runs hundreds of litres an hour; an elder's ordinary use averages 5–25 L/h
    # over an hour of meter readings. Below this an interval counts as "stopped".
    water_flow_min_lph: Annotated[
        float,
        Safe(
            Bound(10, 300),
            "L/h",
            "reasoned",
            note="between ordinary use (5–25 L/h) and an open tap (hundreds of L/h)",
        ),
    ] = 30.0
    # Night
    night_start: Annotated[str, Safe(None, "", "reasoned", note="the night lasts 4–12 h")] = "22:00"
    night_end: Annotated[str, Safe(None, "", "reasoned", note="see night_start")] = "06:00"
    bed_by: Annotated[str, Safe(None, "", "reasoned", note="inside the night")] = "23:30"
    bed_grace_minutes: Annotated[
        int, Safe(Bound(0, 180), "min", "reasoned", note="within the night")
    ] = 30
    # Routine deviation
    routine_min_expected: Annotated[int, Safe(Bound(1, 100), "events", "reasoned")] = 8
    routine_ratio: Annotated[
        float,
        Safe(Bound(0.05, 0.8), "", "reasoned", note="today below this share of the usual"),
    ] = 0.25
    routine_min_days: Annotated[
        int, Safe(Bound(3, 28), "days", "reasoned", note="the baseline is 28 days long")
    ] = 7
    # Device health
    battery_low: Annotated[
        int,
        Safe(Bound(5, 50), "%", "reasoned", note="safety devices warn at half of it"),
    ] = 20
    offline_factor: Annotated[
        float,
        Safe(
            Bound(1.5, 6),
            "× interval",
            "reasoned",
            note="an SOS button silent for 6 reporting intervals is reported",
        ),
    ] = 2.0
    # Line supervision of alarm panels: silent this long past the supervision interval
    line_grace_s: Annotated[
        int, Safe(Bound(0, 900), "s", "reasoned", note="a panel's line lost ≤ 15 min unseen")
    ] = 60
    not_worn_hours: Annotated[
        float, Safe(Bound(0.5, 12), "h", "reasoned", note="within waking hours")
    ] = 2
    # Storms: at most this many new non-critical alerts per elder per window
    storm_max_new: Annotated[
        int,
        Safe(Bound(3, 50), "alerts", "reasoned", note="critical alerts are never held back"),
    ] = 5
    storm_window_minutes: Annotated[int, Safe(Bound(1, 60), "min", "reasoned")] = 10
    # Escalation ladder per severity: [audience, seconds after creation] while unacknowledged.
    # A layer names only the severities it changes; a severity's ladder is replaced whole.
    escalation: Annotated[
        dict[str, list[tuple[str, int]]],
        Safe(
            None,
            "s",
            "reasoned",
            note="the critical ladder keeps every rung: the duty officer hears of an "
            "unanswered critical alert within 15 min",
        ),
    ] = Field(
        default_factory=lambda: {
            "critical": [("contacts", 60), ("community", 180), ("duty", 300)],
            "warning": [("contacts", 600), ("community", 1800)],
            "info": [],
        }
    )

    @field_validator("*", mode="before")
    @classmethod
    def _not_switched_off(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and not safe_of(cls.model_fields[info.field_name or ""]).optional:
            raise ValueError(_("This limit cannot be switched off; move it instead."))
        return value

    @field_validator("sustain", "escalation", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any, info: ValidationInfo) -> Any:
        """A mapping names only the keys it changes; the rest keep the code defaults."""
        if isinstance(value, dict):
            name = info.field_name or ""
            if name == "escalation" and any(value.get(s, []) is None for s in REQUIRED_RUNGS):
                raise ValueError(_("The critical ladder cannot be removed; move its rungs."))
            default = cls.model_fields[name].get_default(call_default_factory=True)
            return {**default, **value}
        return value

    @model_validator(mode="after")
    def _within_safe_ranges(self) -> Params:
        problems = self.problems()
        if problems:
            raise ParamError(problems)
        return self

    def problems(self) -> list[Problem]:
        """Everything outside its safe range, each with its field (empty: all safe)."""
        out: list[Problem] = []
        times = []
        for name, info in type(self).model_fields.items():
            safe = safe_of(info)
            value = getattr(self, name)
            if isinstance(value, str):
                times.append(name)
            found = check_value(name, value, safe)
            out += found
            if not found and safe.limit_of:
                warn_safe = safe_of(type(self).model_fields[safe.limit_of])
                warn = getattr(self, safe.limit_of)
                if not check_value(safe.limit_of, warn, warn_safe):
                    out += check_limit(name, value, warn, safe)
        out += check_times(self.model_dump(include={*times, "morning_quiet_minutes"}), times)
        out += check_polygon(self.geofence_polygon, POLYGON_SPAN_M, distance_m)
        out += check_ladder(self.escalation)
        return out

    @classmethod
    def layered(cls, *layers: dict[str, Any] | None) -> Params:
        """Code defaults ← each layer in turn (a region's, then an elder's). Raises
        ``ValidationError`` when the result is not safe."""
        merged: dict[str, Any] = {}
        for layer in layers:
            if layer:
                merged = merge(merged, layer)
        return cls.model_validate(merged)

    @classmethod
    def layered_safely(
        cls, *layers: Any, rejected: list[tuple[int, str, Any]] | None = None
    ) -> Params:
        """``layered`` for the running engine, which must never run unsafe and never crash: a
        stored row that is not safe on top of the layers below it (written before the ranges
        existed, edited by hand, or made unsafe by a region's change) gives up only the keys
        that make it unsafe, which keep the value of the layer below. Each key given up is
        appended to ``rejected`` as (layer index, key, value)."""
        accepted: dict[str, Any] = {}
        for index, layer in enumerate(layers):
            if not layer:
                continue
            if not isinstance(layer, dict):
                if rejected is not None:
                    rejected.append((index, "*", layer))
                continue
            if _valid(merge(accepted, layer)):
                accepted = merge(accepted, layer)
                continue
            for key, value in layer.items():
                parts = (
                    [{key: {k: v}} for k, v in value.items()]
                    if key in MERGED and isinstance(value, dict)
                    else [{key: value}]
                )
                for part in parts:
                    candidate = merge(accepted, part)
                    if _valid(candidate):
                        accepted = candidate
                    elif rejected is not None:
                        ((name, sub),) = part.items()
                        if name in MERGED and isinstance(sub, dict):
                            ((inner, sub),) = sub.items()
                            name = f"{name}.{inner}"
                        rejected.append((index, name, sub))
        return cls.model_validate(accepted)


# Mapping parameters: a layer overrides the keys it names, not the whole mapping.
MERGED = frozenset({"sustain", "escalation"})
# The widest a home polygon may be (any two corners), metres.
POLYGON_SPAN_M = 10_000


def merge(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in layer.items():
        if key in MERGED and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _valid(values: dict[str, Any]) -> bool:
    try:
        Params.model_validate(values)
    except ValidationError:
        return False
    return True


DEFAULTS = Params()


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules need to know about the elder (from the registry)."""

    elder_id: int
    dementia: bool = False
    home: tuple[float, float] | None = None  # (lat, lon)


@dataclass(slots=True)
class State:
    """Per-elder memory between messages (stored in ``elder_state``)."""

    last_activity_at: dt.datetime | None = None
    last_water_use_at: dt.datetime | None = None
    water_running_since: dt.datetime | None = None
    last_meter_litres: float | None = None
    last_meter_at: dt.datetime | None = None
    in_bed: bool | None = None
    bed_changed_at: dt.datetime | None = None
    outside_since: dt.datetime | None = None
    outside_points: int = 0
    not_worn_since: dt.datetime | None = None
    prewarned_at: dt.datetime | None = None
    recent: dict[str, list[Any]] = field(default_factory=dict)
    baseline: list[float] | None = None
    baseline_days: int = 0
    # The home has a motion or door sensor: only then does silence mean something (an elder
    # with only a watch or a bed sensor is not "inactive" when those report nothing).
    activity_sensed: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    device_id: int
    device_type: DeviceType
    event: EventKind
    at: dt.datetime
    data: dict[str, Any]
    battery: int | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    alert_type: AlertType
    severity: Severity
    key: str  # dedupe key: repeats with the same key merge into one open alert
    at: dt.datetime
    detail: dict[str, Any] = field(default_factory=dict)
    device_id: int | None = None
    repeat_counts: bool = True  # an event repeat bumps the count; a re-evaluated tick does not
    episodic: bool = False  # keyed by episode: once resolved, the same episode never re-opens
    prompt_elder: bool = False  # not an alert: ask the elder to check in first
    restore: bool = False  # the device reports the condition over: never opens an alert


def _hhmm(value: str) -> dt.time:
    hours, minutes = value.split(":")
    return dt.time(int(hours), int(minutes))


def in_window(local: dt.datetime, start: str, end: str) -> bool:
    """``local`` time of day in [start, end), windows may wrap midnight."""
    t, a, b = local.time(), _hhmm(start), _hhmm(end)
    return a <= t < b if a <= b else (t >= a or t < b)


def night_of(local: dt.datetime, end: str) -> dt.date:
    """The date a night started on (02:00 on the 5th belongs to the night of the 4th)."""
    return local.date() - dt.timedelta(days=1) if local.time() < _hhmm(end) else local.date()


# -- geometry -------------------------------------------------------------------------------


def in_polygon(point: tuple[float, float], polygon: list[tuple[float, float]]) -> bool:
    """Ray casting; the polygon is a list of (lat, lon) vertices."""
    lat, lon = point
    inside = False
    j = len(polygon) - 1
    for i in range(len(polygon)):
        lat_i, lon_i = polygon[i]
        lat_j, lon_j = polygon[j]
        if (lon_i > lon) != (lon_j > lon) and lat < (lat_j - lat_i) * (lon - lon_i) / (
            lon_j - lon_i
        ) + lat_i:
            inside = not inside
        j = i
    return inside


def inside_geofence(point: tuple[float, float], facts: Facts, p: Params) -> bool | None:
    """None when the elder has no home fence to test against."""
    if p.geofence_polygon and len(p.geofence_polygon) >= 3:
        return in_polygon(point, list(p.geofence_polygon))
    if facts.home is None:
        return None
    return distance_m(point, facts.home) <= p.geofence_radius_m


# -- vitals ---------------------------------------------------------------------------------


def _band(value: float, warn: tuple[float, float], crit: tuple[float, float]) -> int:
    """Outside the critical range → 2, outside the normal range → 1, else 0."""
    if value < crit[0] or value > crit[1]:
        return 2
    return 1 if value < warn[0] or value > warn[1] else 0


def _grade(metric: str, value: Any, p: Params) -> int:
    """0 normal, 1 warning, 2 critical."""
    if metric == "heart_rate":
        return _band(value, p.heart_rate_warn, p.heart_rate_crit)
    if metric == "breathing_rate":
        return _band(value, p.breathing_rate_warn, p.breathing_rate_crit)
    if metric == "glucose":
        return _band(value, p.glucose_warn, p.glucose_crit)
    if metric == "spo2":
        return 2 if value < p.spo2_crit_below else 1 if value < p.spo2_warn_below else 0
    if metric == "bp":
        sys_, dia = value
        if sys_ >= p.bp_crit[0] or dia >= p.bp_crit[1]:
            return 2
        return 1 if sys_ >= p.bp_warn[0] or dia >= p.bp_warn[1] else 0
    return 0


def _vital(state: State, ev: Event, metric: str, value: Any, p: Params) -> Finding | None:
    need = max(1, p.sustain.get(metric, 3))
    window = [*state.recent.get(metric, []), value][-need:]
    state.recent[metric] = window
    if len(window) < need:
        return None
    worst = min(_grade(metric, v, p) for v in window)  # every reading in the run must be out
    if worst == 0:
        return None
    return Finding(
        AlertType.VITALS,
        Severity.CRITICAL if worst == 2 else Severity.WARNING,
        f"vitals:{metric}",
        ev.at,
        {"metric": metric, "values": window, "readings": need},
        ev.device_id,
    )


# -- one message ----------------------------------------------------------------------------

IMMEDIATE = {
    EventKind.SOS: AlertType.SOS,
    EventKind.FALL: AlertType.FALL,
    EventKind.SMOKE: AlertType.SMOKE,
    EventKind.GAS: AlertType.GAS,
}


def _activity(state: State, at: dt.datetime) -> None:
    # Remembered to the minute: silence rules count hours, and a per-second timestamp would
    # rewrite the elder's state row on every motion report.
    at = at.replace(second=0, microsecond=0)
    if state.last_activity_at is None or at > state.last_activity_at:
        state.last_activity_at = at
        state.prewarned_at = None


def on_event(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    """Apply one message to the elder's state; return what it raises."""
    out: list[Finding] = []
    kind, data = ev.event, ev.data
    restore = bool(data.get("restore"))
    if kind in IMMEDIATE:
        out.append(
            Finding(
                IMMEDIATE[kind],
                Severity.CRITICAL,
                IMMEDIATE[kind].value,
                ev.at,
                {"device_type": ev.device_type.value, **data},
                ev.device_id,
                restore=restore,
            )
        )
    elif kind is EventKind.TAMPER:
        out.append(
            Finding(
                AlertType.TAMPER,
                Severity.WARNING,
                f"tamper:{ev.device_id}",
                ev.at,
                {"device_type": ev.device_type.value, **data},
                ev.device_id,
                restore=restore,
            )
        )
    elif kind is EventKind.TROUBLE:
        code, zone = data.get("code", "?"), data.get("zone", "")
        out.append(
            Finding(
                AlertType.DEVICE_TROUBLE,
                Severity.WARNING,
                f"trouble:{ev.device_id}:{code}:{zone}",
                ev.at,
                {"device_type": ev.device_type.value, **data},
                ev.device_id,
                restore=restore,
            )
        )
    elif kind is EventKind.MOTION:
        state.activity_sensed = True
        _activity(state, ev.at)
    elif kind is EventKind.PRESENCE:
        if data.get("present"):
            _activity(state, ev.at)
    elif kind is EventKind.DOOR:
        state.activity_sensed = True
        _activity(state, ev.at)
        local = ev.at.astimezone(tz)
        if facts.dementia and data.get("open") and in_window(local, p.night_start, p.night_end):
            night = night_of(local, p.night_end)
            out.append(
                Finding(
                    AlertType.NIGHT_DOOR,
                    Severity.WARNING,
                    f"night_door:{night.isoformat()}",
                    ev.at,
                    {"local_time": local.strftime("%H:%M")},
                    ev.device_id,
                )
            )
    elif kind is EventKind.BED:
        in_bed = bool(data.get("in_bed"))
        if state.in_bed is None or state.in_bed != in_bed:
            state.in_bed, state.bed_changed_at = in_bed, ev.at
        if not in_bed:
            _activity(state, ev.at)
    elif kind is EventKind.STEPS:
        if data.get("steps", 0) > 0:
            _activity(state, ev.at)
    elif kind is EventKind.WEAR:
        if data.get("worn"):
            state.not_worn_since = None
        elif state.not_worn_since is None:
            state.not_worn_since = ev.at
    elif kind is EventKind.VITALS:
        for metric in ("heart_rate", "spo2", "breathing_rate"):
            if metric in data:
                found = _vital(state, ev, metric, data[metric], p)
                if found:
                    out.append(found)
    elif kind is EventKind.BP:
        found = _vital(state, ev, "bp", [data["systolic"], data["diastolic"]], p)
        if found:
            out.append(found)
    elif kind is EventKind.GLUCOSE:
        found = _vital(state, ev, "glucose", data["mmol_l"], p)
        if found:
            out.append(found)
    elif kind is EventKind.GPS:
        out.extend(_gps(state, ev, p, facts))
    elif kind is EventKind.METER:
        out.extend(_meter(state, ev, p))
    if ev.battery is not None and ev.battery <= p.battery_low:
        urgent = ev.device_type in SAFETY_DEVICES and ev.battery <= p.battery_low // 2
        out.append(
            Finding(
                AlertType.LOW_BATTERY,
                Severity.WARNING if urgent else Severity.INFO,
                f"battery:{ev.device_id}",
                ev.at,
                {"battery": ev.battery, "device_type": ev.device_type.value},
                ev.device_id,
                repeat_counts=False,
            )
        )
    return out


def _gps(state: State, ev: Event, p: Params, facts: Facts) -> list[Finding]:
    point = (float(ev.data["lat"]), float(ev.data["lon"]))
    inside = inside_geofence(point, facts, p)
    if inside is None or not facts.dementia:
        return []
    if inside:
        state.outside_since, state.outside_points = None, 0
        return []
    if state.outside_since is None:
        state.outside_since = ev.at
    state.outside_points += 1
    if state.outside_points < p.geofence_confirm_points:
        return []
    detail: dict[str, Any] = {
        "left_at": state.outside_since.isoformat(),
        "lat": point[0],
        "lon": point[1],
    }
    if facts.home is not None:
        detail["distance_m"] = round(distance_m(point, facts.home))
    return [
        Finding(
            AlertType.WANDERING,
            Severity.CRITICAL,
            f"wandering:{state.outside_since.isoformat()}",
            ev.at,
            detail,
            ev.device_id,
            episodic=True,
        )
    ]


def _meter(state: State, ev: Event, p: Params) -> list[Finding]:
    total = float(ev.data["total_litres"])
    out: list[Finding] = []
    last, last_at = state.last_meter_litres, state.last_meter_at
    if last is not None and last_at is not None and ev.at > last_at and total >= last:
        used = total - last
        hours = (ev.at - last_at).total_seconds() / 3600
        if used >= 0.5:
            state.last_water_use_at = ev.at
            state.last_activity_at = max(state.last_activity_at or ev.at, ev.at)
        if hours > 0 and used / hours >= p.water_flow_min_lph:
            if state.water_running_since is None:
                state.water_running_since = last_at
            running = ev.at - state.water_running_since
            if running >= dt.timedelta(hours=p.water_running_hours):
                out.append(
                    Finding(
                        AlertType.WATER_RUNNING,
                        Severity.WARNING,
                        f"water_running:{state.water_running_since.isoformat()}",
                        ev.at,
                        {
                            "since": state.water_running_since.isoformat(),
                            "hours": round(running.total_seconds() / 3600, 1),
                            "litres_per_hour": round(used / hours, 1),
                        },
                        ev.device_id,
                        repeat_counts=False,
                        episodic=True,
                    )
                )
        else:
            state.water_running_since = None
    elif last is None or total < last:  # first reading, or the meter was replaced / reset
        state.water_running_since = None
        if state.last_water_use_at is None:
            state.last_water_use_at = ev.at
    if last_at is None or ev.at >= last_at:
        state.last_meter_litres, state.last_meter_at = total, ev.at
    return out


# -- the clock ------------------------------------------------------------------------------


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
    out: list[Finding] = []
    local = now.astimezone(tz)
    waking = in_window(local, p.waking_start, p.waking_end)
    last = state.last_activity_at if state.activity_sensed else None
    # Overall inactivity (optionally after asking the elder first)
    if last is not None and waking and now - last >= dt.timedelta(hours=p.inactivity_hours):
        hours = round((now - last).total_seconds() / 3600, 1)
        key = f"inactivity:{last.isoformat()}"
        if p.prewarn_minutes and state.prewarned_at is None:
            state.prewarned_at = now
            out.append(
                Finding(
                    AlertType.INACTIVITY,
                    Severity.INFO,
                    key,
                    now,
                    {"hours": hours},
                    prompt_elder=True,
                )
            )
        elif not p.prewarn_minutes or now - state.prewarned_at >= dt.timedelta(  # type: ignore[operator]
            minutes=p.prewarn_minutes
        ):
            out.append(
                Finding(
                    AlertType.INACTIVITY,
                    Severity.WARNING,
                    key,
                    now,
                    {"hours": hours, "last_activity": last.isoformat()},
                    repeat_counts=False,
                    episodic=True,
                )
            )
    # Morning: no sign of life since the morning window opened
    if (
        p.morning_quiet_minutes
        and last is not None
        and in_window(local, p.morning_start, p.morning_end)
    ):
        start = dt.datetime.combine(local.date(), _hhmm(p.morning_start), tzinfo=tz)
        if last < start and local - start >= dt.timedelta(minutes=p.morning_quiet_minutes):
            out.append(
                Finding(
                    AlertType.MORNING_SILENCE,
                    Severity.WARNING,
                    f"morning:{local.date().isoformat()}",
                    now,
                    {"since": p.morning_start, "local_time": local.strftime("%H:%M")},
                    repeat_counts=False,
                    episodic=True,
                )
            )
    # Water: a live meter that has not moved for a day
    if state.last_meter_at is not None and now - state.last_meter_at <= dt.timedelta(hours=3):
        since = state.last_water_use_at
        if since is not None and now - since >= dt.timedelta(hours=p.water_no_use_hours):
            out.append(
                Finding(
                    AlertType.NO_WATER,
                    Severity.WARNING,
                    f"no_water:{since.isoformat()}",
                    now,
                    {
                        "hours": round((now - since).total_seconds() / 3600),
                        "since": since.isoformat(),
                    },
                    repeat_counts=False,
                    episodic=True,
                )
            )
    # Bed: not back in bed some time after the set hour
    if state.in_bed is False and in_window(local, p.bed_by, p.night_end):
        changed = state.bed_changed_at or now
        bed_by = dt.datetime.combine(night_of(local, p.night_end), _hhmm(p.bed_by), tzinfo=tz)
        if now - max(changed, bed_by) >= dt.timedelta(minutes=p.bed_grace_minutes):
            night = night_of(local, p.night_end)
            out.append(
                Finding(
                    AlertType.NOT_IN_BED,
                    Severity.WARNING,
                    f"not_in_bed:{night.isoformat()}",
                    now,
                    {"bed_by": p.bed_by, "out_since": changed.isoformat()},
                    repeat_counts=False,
                    episodic=True,
                )
            )
    # Watch taken off and left off
    not_worn = state.not_worn_since
    if not_worn is not None and waking and now - not_worn >= dt.timedelta(hours=p.not_worn_hours):
        out.append(
            Finding(
                AlertType.NOT_WORN,
                Severity.INFO,
                f"not_worn:{not_worn.isoformat()}",
                now,
                {"since": not_worn.isoformat()},
                repeat_counts=False,
                episodic=True,
            )
        )
    routine = routine_deviation(state, local, p, motion_today)
    if routine:
        out.append(routine)
    return out


def learn_baseline(days: list[list[int]]) -> list[float]:
    """Hourly motion counts of past days (24 per day) → the median cumulative count by the end
    of each hour: ``result[h]`` is how many events the elder usually has by (h+1):00."""
    if not days:
        return []
    cumulative = []
    for day in days:
        run, total = [], 0
        for count in day[:24]:
            total += count
            run.append(total)
        cumulative.append(run + [total] * (24 - len(run)))
    return [float(statistics.median(c[h] for c in cumulative)) for h in range(24)]


def routine_deviation(
    state: State, local: dt.datetime, p: Params, motion_today: int | None
) -> Finding | None:
    """Today clearly below the elder's usual activity by this hour."""
    base = state.baseline
    if motion_today is None or not base or state.baseline_days < p.routine_min_days:
        return None
    if local.hour == 0:
        return None
    expected = base[local.hour - 1]  # usual count by the start of the current hour
    if expected < p.routine_min_expected or motion_today >= expected * p.routine_ratio:
        return None
    return Finding(
        AlertType.ROUTINE,
        Severity.WARNING,
        f"routine:{local.date().isoformat()}",
        local.astimezone(dt.UTC),
        {"expected": round(expected), "actual": motion_today, "by": f"{local.hour:02d}:00"},
        repeat_counts=False,
        episodic=True,
    )


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
