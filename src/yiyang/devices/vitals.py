"""Vital signs as people read them: each metric a device reports (``VitalReading.metric``, the
keys ``pipeline.telemetry`` stores) with its name and its unit, in one place for every page
and sentence that shows a reading (the console card, the alert explanations)."""

from __future__ import annotations

from dataclasses import dataclass

from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _


@dataclass(frozen=True)
class Vital:
    label: str  # a message id
    unit: str  # a message id where the unit has a word (bpm → 次/分), else as written
    digits: int = 0


VITALS: dict[str, Vital] = {
    "heart_rate": Vital(N_("Heart rate"), N_("bpm")),
    "spo2": Vital(N_("Blood oxygen (SpO2)"), "%"),
    "breathing_rate": Vital(N_("Breathing rate"), N_("breaths/min")),
    "bp": Vital(N_("Blood pressure"), "mmHg"),
    "bp_systolic": Vital(N_("Blood pressure, systolic"), "mmHg"),
    "bp_diastolic": Vital(N_("Blood pressure, diastolic"), "mmHg"),
    "glucose": Vital(N_("Blood glucose"), "mmol/L", digits=1),
    "temperature": Vital(N_("Body temperature"), "℃", digits=1),
    "steps": Vital(N_("Steps"), N_("steps")),
}


def vital_label(metric: str) -> str:
    """The metric's name in the current language (an unknown key as it came)."""
    return _(VITALS[metric].label) if metric in VITALS else metric


def vital_unit(metric: str) -> str:
    return _(VITALS[metric].unit) if metric in VITALS else ""


def vital_value(metric: str, value: float | int | list[float | int] | None) -> str:
    """One reading with its unit: ``72 bpm``, ``150/95 mmHg``, ``6.4 mmol/L``."""
    if value is None:
        return "—"
    digits = VITALS[metric].digits if metric in VITALS else 1
    parts = value if isinstance(value, list) else [value]
    number = "/".join(f"{float(v):.{digits}f}" for v in parts)
    unit = vital_unit(metric)
    return f"{number} {unit}".strip() if unit not in ("%",) else f"{number}{unit}"
