"""Distances on the ground (pure): the nearest hospitals and health centres to an elder."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Near(Generic[T]):
    item: T
    metres: float


def nearest(
    lat: float, lon: float, places: Iterable[tuple[T, float, float]], n: int = 1
) -> Sequence[Near[T]]:
    """The ``n`` nearest of ``(item, lat, lon)`` places, closest first."""
    ranked = sorted(
        (Near(item, distance_m(lat, lon, plat, plon)) for item, plat, plon in places),
        key=lambda x: x.metres,
    )
    return ranked[:n]
