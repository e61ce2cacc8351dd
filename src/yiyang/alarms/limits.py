"""Safe ranges of the rule parameters: where a district, a street or a person tuning one elder may
move a parameter, and the checks ``rules.Params`` runs on every path (API, region defaults,
stored overrides read back by the engine).

Each parameter of ``Params`` carries a ``Safe`` in its annotation; a new parameter without one
fails a test, and docs/devices.md holds the same table (``markdown_table``; a test keeps them
equal). Critical limits and critical escalation rungs can be *moved* within their range, never
removed: a limit is a number that cannot be None, the range of a critical limit is bounded on
both sides, and the critical ladder must keep every audience of ``REQUIRED_RUNGS``.

Pure: no I/O. Messages are translated (zh-CN by default) when a check fails.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from yiyang.core.geo import distance_m
from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _


@dataclass(frozen=True, slots=True)
class Bound:
    lo: float
    hi: float

    def holds(self, value: Any) -> bool:
        """Inside [lo, hi]. NaN and infinities are outside (they compare false)."""
        return isinstance(value, int | float) and self.lo <= value <= self.hi

    def text(self) -> str:
        return f"{_num(self.lo)}–{_num(self.hi)}"


# What a pair holds: the two ends of a normal range, or two thresholds of one reading.
RANGE = (N_("Lower limit"), N_("Upper limit"))
BP = (N_("Systolic"), N_("Diastolic"))


@dataclass(frozen=True, slots=True)
class Safe:
    """The safe range of one parameter, with where it comes from (a key of ``SOURCES``).

    ``bound`` is one ``Bound`` for a number (for a list: its length), one per element for a
    pair, one per key for a mapping, or None when the parameter is checked by its own rule
    (times of day, the escalation ladder). ``limit_of`` names the warning parameter a critical
    limit must lie at or beyond; ``kind`` says which way "beyond" is: ``range`` (low, high: the
    critical range contains the warning range), ``below`` (alarm below the value), ``above``
    (alarm at or above each element)."""

    bound: Bound | tuple[Bound, Bound] | Mapping[str, Bound] | None
    unit: str
    source: str
    kind: str = ""
    parts: tuple[str, str] = RANGE
    limit_of: str | None = None
    optional: bool = False  # None is allowed (the rule's other form), not "off"
    note: str = ""
    choices: tuple[str, ...] = ()  # a setting of named steps (the type is a ``Literal`` of them)


SOURCES: dict[str, str] = {
    "NEWS2": "Royal College of Physicians, National Early Warning Score (NEWS) 2, 2017",
    "WHO": "WHO Pulse Oximetry Training Manual, 2011",
    "BTS": "BTS guideline for oxygen use in healthcare and emergency settings, 2017",
    "CN-HTN": "中国高血压防治指南（2018年修订版）; 2017 ACC/AHA guideline",
    "CN-DM": "中国2型糖尿病防治指南（2020年版）; ADA Standards of Care, section 6",
    "CN-HGC": "中国高血糖危象诊断与治疗指南（2012）",
    "reasoned": "our own reasoned bound, see the note",
}

VITALS = ("heart_rate", "spo2", "breathing_rate", "bp", "glucose")
VITAL_LABELS = {
    "heart_rate": N_("heart rate"),
    "spo2": N_("SpO2"),
    "breathing_rate": N_("breathing rate"),
    "bp": N_("blood pressure"),
    "glucose": N_("blood glucose"),
}
# Readings in a row before a vitals alarm: every reading of the run must be out of range, so a
# long run delays the alarm by (run - 1) × the device's reporting interval (1–5 min).
SUSTAIN = {
    "heart_rate": Bound(1, 5),
    "spo2": Bound(1, 5),
    "breathing_rate": Bound(1, 5),
    "bp": Bound(1, 3),
    "glucose": Bound(1, 2),
}

# Escalation while nobody acknowledges: seconds after the alert was created, per rung.
AUDIENCES = {
    "contacts": N_("emergency contacts"),
    "community": N_("community worker"),
    "duty": N_("district duty officer"),
}
_LATER = {"contacts": Bound(60, 3600), "community": Bound(300, 14400), "duty": Bound(300, 14400)}
LADDER: dict[str, dict[str, Bound]] = {
    "critical": {"contacts": Bound(30, 300), "community": Bound(60, 600), "duty": Bound(120, 900)},
    "warning": _LATER,
    "info": _LATER,
}
REQUIRED_RUNGS = {"critical": ("contacts", "community", "duty")}

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# (start, end, shortest, longest in hours, label): windows of the day the rules run in.
WINDOWS = (
    ("waking_start", "waking_end", 12, 20, N_("Waking hours")),
    ("morning_start", "morning_end", 1, 6, N_("The morning window")),
    ("night_start", "night_end", 4, 12, N_("The night")),
)


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str


class ParamError(ValueError):
    """Raised from ``Params``' validator with every problem found; ``field`` and ``message``
    are the first one's (what ``core.errors.field_errors`` reads)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems
        self.field = problems[0].field
        self.message = problems[0].message


def _num(value: float) -> str:
    return f"{value:g}"


# The units the ranges are given in, listed so that their translations are extracted.
UNITS = (
    N_("bpm"),
    N_("%"),
    N_("/min"),
    N_("mmHg"),
    N_("mmol/L"),
    N_("readings"),
    N_("m"),
    N_("corners"),
    N_("fixes"),
    N_("h"),
    N_("min"),
    N_("L/h"),
    N_("events"),
    N_("days"),
    N_("× interval"),
    N_("alerts"),
    N_("s"),
    N_("× threshold"),
)


def _between(bound: Bound, unit: str, part: str | None = None) -> str:
    values = {
        "lo": _num(bound.lo),
        "hi": _num(bound.hi),
        "unit": _(unit) if unit else "",  # gettext("") is the catalogue's header
    }
    if part:
        text = _("%(part)s must be between %(lo)s and %(hi)s %(unit)s.") % {
            "part": _(part),
            **values,
        }
    else:
        text = _("Must be between %(lo)s and %(hi)s %(unit)s.") % values
    return text.replace("  ", " ").replace(" .", ".")  # no unit: no gap for it


def check_value(name: str, value: Any, safe: Safe) -> list[Problem]:
    """One parameter against its own range (no other parameter involved)."""
    bound = safe.bound
    if bound is None or (value is None and safe.optional):
        return []
    if value is None:
        return [Problem(name, _("This limit cannot be switched off; move it instead."))]
    if isinstance(bound, Bound):
        subject = len(value) if isinstance(value, list | tuple) else value
        return [] if bound.holds(subject) else [Problem(name, _between(bound, safe.unit))]
    if isinstance(bound, tuple):
        out = [
            Problem(name, _between(b, safe.unit, part))
            for b, v, part in zip(bound, value, safe.parts, strict=True)
            if not b.holds(v)
        ]
        if not out and safe.kind == "range" and not value[0] < value[1]:
            out.append(Problem(name, _("The lower limit must be below the upper limit.")))
        return out
    out = []
    for key, v in value.items():
        if key not in bound:
            out.append(Problem(f"{name}.{key}", _("Unknown key %(key)s.") % {"key": key}))
        elif not bound[key].holds(v):
            out.append(Problem(f"{name}.{key}", _between(bound[key], safe.unit)))
    return out


def check_limit(name: str, value: Any, warn: Any, safe: Safe) -> list[Problem]:
    """A critical limit lies at or beyond its warning limit (else the warning band is empty or
    a warning could never fire before the critical alarm)."""
    if safe.kind == "range":
        ok = value[0] <= warn[0] and warn[1] <= value[1]
        shown = f"{_num(warn[0])}–{_num(warn[1])}"
    elif safe.kind == "below":
        ok, shown = value <= warn, _num(warn)
    else:  # above, element by element
        ok = all(v >= w for v, w in zip(value, warn, strict=True))
        shown = "/".join(_num(w) for w in warn)
    if ok:
        return []
    return [
        Problem(
            name,
            _("The critical limit must lie at or beyond the warning limit (%(warn)s).")
            % {"warn": shown},
        )
    ]


def check_ladder(ladder: Mapping[str, Any]) -> list[Problem]:
    """The escalation ladder: known severities and audiences, each rung once and within its
    range, in order of time, and the critical rungs all there."""
    out: list[Problem] = []
    for severity, rungs in ladder.items():
        where = f"escalation.{severity}"
        allowed = LADDER.get(severity)
        if allowed is None:
            out.append(Problem(where, _("Unknown severity %(key)s.") % {"key": severity}))
            continue
        seen: list[str] = []
        last = -1.0
        for audience, seconds in rungs:
            at = f"{where}.{audience}"
            if audience not in allowed:
                out.append(Problem(at, _("Unknown audience %(key)s.") % {"key": audience}))
                continue
            if audience in seen:
                out.append(Problem(at, _("Each audience can appear only once.")))
                continue
            seen.append(audience)
            if not allowed[audience].holds(seconds):
                out.append(Problem(at, _between(allowed[audience], N_("s"))))
            elif seconds < last:
                out.append(Problem(at, _("The rungs must be in order of time.")))
            else:
                last = seconds
        for audience in REQUIRED_RUNGS.get(severity, ()):
            if audience not in seen:
                out.append(
                    Problem(
                        where,
                        _(
                            "A critical alert must still reach %(audience)s: a rung can be "
                            "moved, not removed."
                        )
                        % {"audience": _(AUDIENCES[audience])},
                    )
                )
    for severity in REQUIRED_RUNGS:
        if severity not in ladder:
            out.append(Problem(f"escalation.{severity}", _("This ladder cannot be removed.")))
    return out


def _minutes(value: str) -> int:
    return int(value[:2]) * 60 + int(value[3:])


def window_minutes(start: str, end: str) -> int:
    """Length of [start, end) in minutes, wrapping midnight (equal ends: an empty window)."""
    return (_minutes(end) - _minutes(start)) % 1440


def check_times(values: Mapping[str, Any], time_fields: Iterable[str]) -> list[Problem]:
    """Times of day: the HH:MM form, each window of a sensible length, the morning check able
    to fire inside its window, bedtime inside the night."""
    bad = [n for n in time_fields if not HHMM.match(str(values[n]))]
    out = [Problem(n, _("Use the 24-hour form HH:MM.")) for n in bad]
    if bad:
        return out
    for start, end, shortest, longest, label in WINDOWS:
        length = window_minutes(values[start], values[end])
        if not shortest * 60 <= length <= longest * 60:
            out.append(
                Problem(
                    end,
                    _("%(window)s must last between %(lo)s and %(hi)s hours.")
                    % {"window": _(label), "lo": shortest, "hi": longest},
                )
            )
    quiet = values["morning_quiet_minutes"]
    if quiet and quiet >= window_minutes(values["morning_start"], values["morning_end"]):
        out.append(
            Problem(
                "morning_quiet_minutes",
                _("Must be shorter than the morning window, or 0 to switch the check off."),
            )
        )
    night = window_minutes(values["night_start"], values["night_end"])
    if window_minutes(values["night_start"], values["bed_by"]) >= night:
        out.append(Problem("bed_by", _("Bedtime must fall inside the night.")))
    return out


def check_polygon(
    polygon: list[tuple[float, float]] | None,
    longest_m: float,
) -> list[Problem]:
    """A home polygon: real coordinates, and no two corners further apart than ``longest_m``
    (a fence the size of a city never sees anyone leave)."""
    if not polygon:
        return []
    for lat, lon in polygon:
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat + lon):
            return [Problem("geofence_polygon", _("A corner is not a valid coordinate."))]
    span = max(distance_m(*a, *b) for a in polygon for b in polygon)
    if span > longest_m:
        return [
            Problem(
                "geofence_polygon",
                _("The home area may span at most %(km)s km.") % {"km": _num(longest_m / 1000)},
            )
        ]
    return []


# -- the documented table -----------------------------------------------------------------


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, tuple | list):
        return "/".join(_shown(v) for v in value)
    if isinstance(value, float):
        return _num(value)
    return str(value)


def rows(params_cls: Any, defaults: Any) -> list[dict[str, str]]:
    """The safe-range table, one row per parameter (per key of a mapping, per rung)."""
    out: list[dict[str, str]] = []

    def add(name: str, default: str, safe: str, unit: str, source: str, note: str) -> None:
        out.append(
            {
                "parameter": name,
                "default": default,
                "safe": safe,
                "unit": unit,
                "source": source,
                "note": note,
            }
        )

    for name, info in params_cls.model_fields.items():
        safe = safe_of(info)
        default = getattr(defaults, name)
        bound = safe.bound
        if name == "escalation":
            for severity, audiences in LADDER.items():
                ladder = dict(default.get(severity, []))
                for audience, b in audiences.items():
                    required = audience in REQUIRED_RUNGS.get(severity, ())
                    note = "required, " if required else "optional, "
                    add(
                        f"escalation.{severity}.{audience}",
                        _shown(ladder[audience]) if audience in ladder else "—",
                        b.text(),
                        "s",
                        safe.source,
                        note + "rungs in order of time" + (f"; {safe.note}" if required else ""),
                    )
        elif isinstance(bound, Mapping):
            for key, b in bound.items():
                add(
                    f"{name}.{key}",
                    _shown(default[key]),
                    b.text(),
                    safe.unit,
                    safe.source,
                    safe.note,
                )
        else:
            if isinstance(bound, tuple):
                shown = " / ".join(
                    f"{part.lower()} {b.text()}" for part, b in zip(safe.parts, bound, strict=True)
                )
            elif isinstance(bound, Bound):
                shown = bound.text()
            elif safe.choices:
                shown = " / ".join(safe.choices)
            else:
                shown = "HH:MM"
            add(name, _shown(default), shown, safe.unit, safe.source, safe.note)
    return out


def markdown_table(params_cls: Any, defaults: Any) -> str:
    """The table as it appears in docs/devices.md (English; a test keeps the two equal)."""
    columns = ("parameter", "default", "safe", "unit", "source", "note")
    lines = [
        "| parameter | default | safe range | unit | source | note |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows(params_cls, defaults):
        cells = [f"`{row['parameter']}`", *(row[c] for c in columns[1:])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def safe_of(info: Any) -> Safe:
    """The ``Safe`` in a pydantic field's metadata."""
    for item in info.metadata:
        if isinstance(item, Safe):
            return item
    raise LookupError("parameter without a safe range")
