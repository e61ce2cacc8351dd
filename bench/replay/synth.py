"""A synthetic single-resident home in the replay CSV of issue #16, for CI (deterministic, seeded).

    python bench/replay/synth.py [--seed 16] [--days 35] [--out tests/fixtures/replay]

Writes ``synth_home.csv`` (35 days), ``synth_home.away.csv`` (the absences, ``start,end``) and
``synth_home_collapse.csv``: the same home with every event from day 30 at ``COLLAPSE_AT`` on
removed (the resident collapsed; the file simply ends), to measure time to the first alarm.

The resident: wakes 07:30 ± 40 min (bed mat 0), a bathroom visit (motion, flush), breakfast
(fridge, cupboard), goes out through the front door most mornings (door 1/0 each way) for
1–3 h, lunch and dinner in the kitchen, living-room motion through the day, bathroom visits,
sleeps 22:30 ± 45 min (bed mat 1), now and then a late night (to bed 1–2.5 h later) and a
night-time bathroom trip. Sensors: ``bed_mat`` (bed), ``front_door`` (door), ``bathroom_pir``,
``living_pir`` (motion), ``toilet_flush``, ``fridge``, ``kitchen_cupboard`` (contact).

Only ``random.Random(seed)`` and integer arithmetic on datetimes: the same seed gives the same
bytes on every platform.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

from replay_csv import Row, merge_intervals, render, render_away

SEED = 16
DAYS = 35
START = dt.date(2026, 3, 2)  # a Monday
COLLAPSE_DAY = 30  # 1-based: START + 29 days
COLLAPSE_AT = dt.time(15, 0)

Away = tuple[dt.datetime, dt.datetime]


def _at(day: dt.date, minutes: float) -> dt.datetime:
    """``minutes`` after midnight of ``day`` (may exceed 24 h), to the second."""
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=round(minutes * 60))


def _bathroom(rnd: random.Random, t: dt.datetime, rows: list[Row], flush: bool = True) -> None:
    for _ in range(rnd.randint(2, 4)):
        rows.append(Row(t, "bathroom_pir", "motion", rnd.randint(1, 3)))
        t += dt.timedelta(seconds=rnd.randint(40, 150))
    if flush:
        rows.append(Row(t, "toilet_flush", "contact", 1))


def _kitchen(rnd: random.Random, t: dt.datetime, rows: list[Row]) -> None:
    rows.append(Row(t, "living_pir", "motion", 1))
    t += dt.timedelta(seconds=rnd.randint(20, 90))
    rows.append(Row(t, "fridge", "contact", 1))
    for _ in range(rnd.randint(1, 3)):
        t += dt.timedelta(seconds=rnd.randint(30, 300))
        rows.append(Row(t, "kitchen_cupboard", "contact", 1))
    t += dt.timedelta(seconds=rnd.randint(60, 600))
    rows.append(Row(t, "fridge", "contact", 1))


def _door(rnd: random.Random, t: dt.datetime, rows: list[Row]) -> None:
    rows.append(Row(t, "front_door", "door", 1))
    rows.append(Row(t + dt.timedelta(seconds=rnd.randint(4, 25)), "front_door", "door", 0))


def _day(
    rnd: random.Random, day: dt.date, wake: float, sleep: float, next_wake: float
) -> tuple[list[Row], list[Away]]:
    """One day from waking (minutes after midnight) to going to bed (may pass midnight);
    ``next_wake`` is the next morning's, in minutes after this day's midnight."""
    rows: list[Row] = [Row(_at(day, wake), "bed_mat", "bed", 0)]
    away: list[Away] = []
    _bathroom(rnd, _at(day, wake + rnd.uniform(1, 4)), rows)
    _kitchen(rnd, _at(day, wake + rnd.uniform(15, 30)), rows)
    t = wake + 45
    if rnd.random() < 0.8:  # out most mornings
        leave = wake + rnd.uniform(60, 150)
        back = leave + rnd.uniform(60, 180)
        while t < leave - 20:
            rows.append(Row(_at(day, t), "living_pir", "motion", rnd.randint(1, 4)))
            t += rnd.uniform(5, 25)
        _door(rnd, _at(day, leave), rows)
        _door(rnd, _at(day, back), rows)
        away.append((_at(day, leave), _at(day, back)))
        t = back + rnd.uniform(1, 5)
    meals = [12 * 60 + rnd.gauss(0, 30), 18 * 60 + rnd.gauss(0, 30)]
    next_bath = t + rnd.uniform(90, 200)
    while t < sleep - 10:
        if meals and t >= meals[0]:
            _kitchen(rnd, _at(day, t), rows)
            meals.pop(0)
            t += rnd.uniform(20, 40)
            continue
        if t >= next_bath:
            _bathroom(rnd, _at(day, t), rows)
            next_bath = t + rnd.uniform(90, 200)
            t += rnd.uniform(5, 10)
            continue
        rows.append(Row(_at(day, t), "living_pir", "motion", rnd.randint(1, 4)))
        t += rnd.uniform(8, 40) if t < 21 * 60 else rnd.uniform(10, 30)
    _bathroom(rnd, _at(day, sleep - rnd.uniform(4, 8)), rows)
    rows.append(Row(_at(day, sleep), "bed_mat", "bed", 1))
    if rnd.random() < 0.35:  # a night-time bathroom trip, well before the next morning
        trip = sleep + rnd.uniform(120, max(121.0, min(360.0, next_wake - sleep - 60)))
        rows.append(Row(_at(day, trip), "bed_mat", "bed", 0))
        _bathroom(rnd, _at(day, trip + 1), rows)
        rows.append(Row(_at(day, trip + rnd.uniform(5, 9)), "bed_mat", "bed", 1))
    return rows, away


def generate(
    seed: int = SEED, days: int = DAYS, start: dt.date = START
) -> tuple[list[Row], list[Away]]:
    rnd = random.Random(seed)
    rows: list[Row] = []
    away: list[Away] = []
    wakes, sleeps = [], []
    for _ in range(days + 1):
        wakes.append(7 * 60 + 30 + max(-90.0, min(90.0, rnd.gauss(0, 40))))
        sleep = 22 * 60 + 30 + max(-100.0, min(100.0, rnd.gauss(0, 45)))
        if rnd.random() < 0.12:  # a late night now and then
            sleep += rnd.uniform(60, 150)
        sleeps.append(sleep)
    for i in range(days):
        day = start + dt.timedelta(days=i)
        day_rows, day_away = _day(rnd, day, wakes[i], sleeps[i], 24 * 60 + wakes[i + 1])
        rows.extend(day_rows)
        away.extend(day_away)
    rows.sort(key=lambda r: r.ts)
    # strictly increasing timestamps: a row sharing its predecessor's second moves 1 s on
    out: list[Row] = []
    for r in rows:
        if out and r.ts <= out[-1].ts:
            r = Row(out[-1].ts + dt.timedelta(seconds=1), r.sensor, r.kind, r.value)
        out.append(r)
    return out, merge_intervals(away)


def collapse(rows: list[Row], at: dt.datetime) -> list[Row]:
    """The home with every event at or after ``at`` removed."""
    return [r for r in rows if r.ts < at]


def collapse_time(start: dt.date = START) -> dt.datetime:
    return dt.datetime.combine(start + dt.timedelta(days=COLLAPSE_DAY - 1), COLLAPSE_AT)


def write(out: Path, seed: int = SEED, days: int = DAYS) -> list[Path]:
    rows, away = generate(seed, days)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "synth_home.csv": render(rows),
        "synth_home.away.csv": render_away(away),
        "synth_home_collapse.csv": render(collapse(rows, collapse_time())),
    }
    paths = []
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8", newline="")
        paths.append(out / name)
    return paths


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--days", type=int, default=DAYS)
    p.add_argument("--out", type=Path, default=Path("tests/fixtures/replay"))
    a = p.parse_args(argv)
    for path in write(a.out, a.seed, a.days):
        print(f"{path}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
