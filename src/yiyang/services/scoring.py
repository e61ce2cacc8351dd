"""Scores for providers and caregivers (pure): a Bayesian average, so that two five-star
reviews do not outrank two hundred reviews averaging 4.8 (the IMDb / 大众点评 approach)."""

from __future__ import annotations

from dataclasses import dataclass

PRIOR_WEIGHT = 10  # reviews' worth of belief in the platform-wide mean


@dataclass(frozen=True, slots=True)
class Score:
    score: float
    count: int
    mean: float | None  # the plain mean, shown beside the score


def bayesian(
    total: float, count: int, prior_mean: float, prior_weight: int = PRIOR_WEIGHT
) -> Score:
    """(C·m + Σ stars) / (C + n): with few reviews the score stays near the platform mean ``m``;
    with many it approaches the subject's own mean."""
    if count < 0 or prior_weight < 0:
        raise ValueError("counts are never negative")
    score = (
        (prior_weight * prior_mean + total) / (prior_weight + count)
        if prior_weight + count
        else prior_mean
    )
    return Score(round(score, 3), count, round(total / count, 3) if count else None)
