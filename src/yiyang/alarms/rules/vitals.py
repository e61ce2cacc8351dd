"""Vitals: heart rate, SpO₂, breathing rate, blood pressure and glucose graded against the warning
and critical ranges; every reading of a run of ``sustain`` must be out before anything is raised."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Event, Facts, Finding, State


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


def on_vitals(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    out: list[Finding] = []
    data = ev.data
    for metric in ("heart_rate", "spo2", "breathing_rate"):
        if metric in data:
            found = _vital(state, ev, metric, data[metric], p)
            if found:
                out.append(found)
    return out


def on_bp(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    found = _vital(state, ev, "bp", [ev.data["systolic"], ev.data["diastolic"]], p)
    return [found] if found else []


def on_glucose(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
    found = _vital(state, ev, "glucose", ev.data["mmol_l"], p)
    return [found] if found else []
