"""Wandering: an elder with dementia outside the home fence (a circle round the home, or a
polygon) for ``geofence_confirm_points`` GPS fixes in a row; critical, once per episode."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules.params import Params
from yiyang.alarms.rules.state import Event, Facts, Finding, State
from yiyang.core.geo import distance_m, in_polygon


def inside_geofence(point: tuple[float, float], facts: Facts, p: Params) -> bool | None:
    """None when the elder has no home fence to test against."""
    if p.geofence_polygon and len(p.geofence_polygon) >= 3:
        return in_polygon(point, list(p.geofence_polygon))
    if facts.home is None:
        return None
    return distance_m(*point, *facts.home) <= p.geofence_radius_m


def on_gps(state: State, ev: Event, p: Params, facts: Facts, tz: ZoneInfo) -> list[Finding]:
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
        detail["distance_m"] = round(distance_m(*point, *facts.home))
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
