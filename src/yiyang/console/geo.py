"""The nearest hospitals and health centres to an elder (pure; distances from ``core.geo``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from yiyang.core.geo import distance_m

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
