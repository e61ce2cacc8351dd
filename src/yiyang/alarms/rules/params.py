"""Rule parameters (``Params``), their layering (code defaults ← a region's row ← an elder's row)
and the safe ranges every instance keeps (``alarms/limits.py``, docs/devices.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

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
    # Routine deviation (``routine.py``: the last 3 hours against the usual for those hours;
    # defaults chosen leaving one home out, docs/adr/0014)
    routine_min_expected: Annotated[
        int,
        Safe(
            Bound(1, 100),
            "events",
            "reasoned",
            note="usual in the 3 hours: hours usually quieter never fire",
        ),
    ] = 20
    routine_ratio: Annotated[
        float,
        Safe(
            Bound(0.05, 0.8),
            "",
            "reasoned",
            note="the last 3 hours below this share of the usual for those hours",
        ),
    ] = 0.1
    routine_min_days: Annotated[
        int, Safe(Bound(3, 28), "days", "reasoned", note="the baseline is 28 days long")
    ] = 7
    # Learned silence (``silence.py``, docs/adr/0014): once this many days are learned, the
    # home's own silences replace the fixed morning, bedtime and inactivity rules.
    silence_learn_days: Annotated[
        int,
        Safe(
            Bound(3, 28),
            "days",
            "reasoned",
            note="until then the fixed rules; the model keeps 28 days",
        ),
    ] = 7
    silence_check_factor: Annotated[
        float,
        Safe(
            Bound(1.0, 3.0),
            "× usual",
            "reasoned",
            note="check-in at this multiple of the home's longest silence at this hour, plus the "
            "margin",
        ),
    ] = 1.0
    silence_spare_days: Annotated[
        int,
        Safe(
            Bound(0, 3),
            "days",
            "reasoned",
            note="the longest silences at this hour left out as odd days (0: the longest counts)",
        ),
    ] = 0
    silence_check_margin_minutes: Annotated[
        int,
        Safe(Bound(0, 240), "min", "reasoned", note="see silence_check_factor"),
    ] = 90
    silence_alarm_after_minutes: Annotated[
        int,
        Safe(
            Bound(30, 480),
            "min",
            "reasoned",
            note="an unanswered quiet becomes an operator alarm this much later",
        ),
    ] = 120
    silence_max_hours: Annotated[
        float,
        Safe(
            Bound(8, 24),
            "h",
            "reasoned",
            note="an alarm by then whatever the home has learned: none waits a day",
        ),
    ] = 20
    out_max_hours: Annotated[
        float,
        Safe(
            Bound(4, 48),
            "h",
            "reasoned",
            note="out through the front door this long (or not back by bedtime): a check-in",
        ),
    ] = 16
    # Per elder (``feedback.py``, ADR 0014 §5): how soon a quiet home is raised, and how far the
    # operators' "false alarm" verdicts on its silence alerts widen the thresholds.
    silence_sensitivity: Annotated[
        Literal["low", "normal", "high"],
        Safe(
            None,
            "",
            "reasoned",
            choices=("low", "normal", "high"),
            note="scales the silence thresholds (learned, and inactivity_hours): low ×1.5 "
            "waits longer, high ×0.75 sooner; never a check-in under 1 h 30 min, never an alarm "
            "later than silence_max_hours",
        ),
    ] = "normal"
    silence_hours_around: Annotated[
        int,
        Safe(
            Bound(1, 3),
            "h",
            "reasoned",
            note="a silence is compared with the home's own this many hours either side of the "
            "time of day; each false alarm widens it by an hour, to at most 3",
        ),
    ] = 1
    silence_feedback_step: Annotated[
        float,
        Safe(
            Bound(1.0, 1.5),
            "× threshold",
            "reasoned",
            note="each false alarm on a silence alert in the last 28 days widens the elder's "
            "silence thresholds by this factor (1: off); a real emergency starts it afresh",
        ),
    ] = 1.25
    silence_feedback_max: Annotated[
        float,
        Safe(
            Bound(1.0, 2.0),
            "× threshold",
            "reasoned",
            note="the widest false alarms make it; never past silence_max_hours",
        ),
    ] = 1.75
    away_grace_minutes: Annotated[
        int,
        Safe(
            Bound(30, 720),
            "min",
            "reasoned",
            note="away with a return time (the app) and not back this long after it: a check-in",
        ),
    ] = 120
    # Check-in tasks (``checkins``, issue #16): a community worker calls the elder
    check_in_answer_minutes: Annotated[
        int,
        Safe(
            Bound(15, 240),
            "min",
            "reasoned",
            note="a check-in nobody has answered becomes an operator alarm this much later",
        ),
    ] = 60
    check_in_unreachable_minutes: Annotated[
        int,
        Safe(
            Bound(5, 60),
            "min",
            "reasoned",
            note="after a call that did not reach the elder, the operator alarm this much later "
            "unless a later call does",
        ),
    ] = 20
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
            if isinstance(value, str) and not safe.choices:
                times.append(name)
            found = check_value(name, value, safe)
            out += found
            if not found and safe.limit_of:
                warn_safe = safe_of(type(self).model_fields[safe.limit_of])
                warn = getattr(self, safe.limit_of)
                if not check_value(safe.limit_of, warn, warn_safe):
                    out += check_limit(name, value, warn, safe)
        out += check_times(self.model_dump(include={*times, "morning_quiet_minutes"}), times)
        out += check_polygon(self.geofence_polygon, POLYGON_SPAN_M)
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
