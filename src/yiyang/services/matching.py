"""Dispatch (pure): which caregiver should take a job. Hard rules exclude (skill with a valid
certificate, service area, working hours, a clash with another job, a full day); the rest are
ranked by travel from the previous job and by how loaded their day already is. Every result
says why, so the provider admin can overrule with reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from yiyang.core.geo import distance_m

# A kilometre of travel weighs as much as this fraction of one extra job in the day.
KM_PER_JOB = 3.0
TRAVEL_BUFFER = dt.timedelta(minutes=15)  # between two homes, at least
CITY_SPEED_KMH = 15.0  # door to door in a Chinese city district, on foot/e-bike/bus


@dataclass(frozen=True, slots=True)
class Job:
    start: dt.datetime  # local, aware
    minutes: int
    skill: str | None
    region_path: str
    lat: float | None
    lon: float | None


@dataclass(frozen=True, slots=True)
class Booking:
    start: dt.datetime
    end: dt.datetime
    lat: float | None
    lon: float | None


@dataclass(frozen=True, slots=True)
class Candidate:
    id: int
    name: str
    skills: frozenset[str]
    region_paths: tuple[str, ...]
    work_days: frozenset[int]  # 0 = Monday
    work_start: dt.time
    work_end: dt.time
    home_lat: float | None
    home_lon: float | None
    max_jobs: int
    # that day's jobs that can matter: every one starting before this job ends (+ buffer) —
    # those decide a clash and where the caregiver comes from; later ones cannot
    bookings: tuple[Booking, ...]
    load: int | None = None  # jobs that day in all (None: len(bookings))

    @property
    def jobs(self) -> int:
        return len(self.bookings) if self.load is None else self.load


@dataclass(frozen=True, slots=True)
class Suggestion:
    caregiver_id: int
    name: str
    score: float  # lower is better
    travel_km: float | None
    load: int
    excluded: str | None  # why not, or None when eligible


def valid_skills(
    skills: Iterable[str], certificates: Mapping[str, dt.date | None], on: dt.date
) -> frozenset[str]:
    """Skills that count on ``on``: a skill with a certificate on file counts only while the
    certificate is valid; a skill that needs no certificate always counts."""
    out = set()
    for skill in skills:
        if skill in certificates:
            expiry = certificates[skill]
            if expiry is not None and expiry < on:
                continue
        out.add(skill)
    return frozenset(out)


def _km(
    a_lat: float | None, a_lon: float | None, b_lat: float | None, b_lon: float | None
) -> float | None:
    if None in (a_lat, a_lon, b_lat, b_lon):
        return None
    return distance_m(a_lat, a_lon, b_lat, b_lon) / 1000  # type: ignore[arg-type]


def _exclusion(job: Job, c: Candidate, end: dt.datetime) -> str | None:
    if job.skill and job.skill not in c.skills:
        return "skill"
    if not any(job.region_path.startswith(p) for p in c.region_paths):
        return "area"
    if job.start.weekday() not in c.work_days:
        return "day_off"
    if job.start.time() < c.work_start or (
        end.time() > c.work_end or end.date() != job.start.date()
    ):
        return "hours"
    if c.jobs >= c.max_jobs:
        return "full"
    for b in c.bookings:
        if b.start < end + TRAVEL_BUFFER and job.start < b.end + TRAVEL_BUFFER:
            return "clash"
    return None


def previous_stop(job: Job, c: Candidate) -> tuple[float | None, float | None]:
    """Where the caregiver comes from: the last job ending before this one, else home."""
    before = [b for b in c.bookings if b.end <= job.start]
    if before:
        last = max(before, key=lambda b: b.end)
        return last.lat, last.lon
    return c.home_lat, c.home_lon


def rank(job: Job, candidates: Sequence[Candidate], *, limit: int = 10) -> list[Suggestion]:
    """The ``limit`` best eligible caregivers, best first; when none is eligible, the nearest
    misses with their reason (so the page can say "all bathing-certified staff are busy")."""
    end = job.start + dt.timedelta(minutes=job.minutes)
    eligible: list[Suggestion] = []
    excluded: list[Suggestion] = []
    for c in candidates:
        why = _exclusion(job, c, end)
        lat, lon = previous_stop(job, c)
        km = _km(lat, lon, job.lat, job.lon)
        load = c.jobs
        score = (km if km is not None else 5.0) + KM_PER_JOB * load
        s = Suggestion(
            c.id, c.name, round(score, 3), None if km is None else round(km, 2), load, why
        )
        (excluded if why else eligible).append(s)
    eligible.sort(key=lambda s: (s.score, s.caregiver_id))
    if eligible:
        return eligible[:limit]
    excluded.sort(key=lambda s: (s.score, s.caregiver_id))
    return excluded[:limit]


def travel_minutes(km: float) -> int:
    return max(5, round(km / CITY_SPEED_KMH * 60))


def route_order(
    start_lat: float | None,
    start_lon: float | None,
    stops: Sequence[tuple[int, dt.datetime, float | None, float | None]],
) -> list[int]:
    """Today's jobs for the phone page: by booked time; jobs booked for the same time slot go
    nearest-first from the previous stop (a greedy tie-break; the booked time is a promise)."""
    ordered: list[int] = []
    here = (start_lat, start_lon)
    remaining = sorted(stops, key=lambda s: s[1])
    while remaining:
        slot = remaining[0][1]
        same = [s for s in remaining if s[1] == slot]
        best = min(same, key=lambda s: (_km(here[0], here[1], s[2], s[3]) or 0.0, s[0]))
        ordered.append(best[0])
        here = (best[2], best[3])
        remaining.remove(best)
    return ordered
