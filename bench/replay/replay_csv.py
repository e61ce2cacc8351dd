"""The replay CSV of issue #16, shared by the converters and the synthetic generator.

One row per event, header ``ts,sensor,kind,value``: ``ts`` ISO 8601 local time without offset,
``sensor`` a free name (one device per name), ``kind`` one of :data:`KINDS`. A home's absences
go to a sidecar ``<home>.away.csv`` with header ``start,end`` (local times, same format).

Stdlib only: the converters run from a plain checkout (``python bench/replay/convert_*.py``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

HEADER = ("ts", "sensor", "kind", "value")
AWAY_HEADER = ("start", "end")
KINDS = frozenset(
    {"motion", "contact", "door", "bed", "water", "steps", "away", "home", "sos", "fall"}
)


@dataclass(frozen=True)
class Row:
    ts: dt.datetime
    sensor: str
    kind: str
    value: int | float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {sorted(KINDS)}")
        if self.ts.tzinfo is not None:
            raise ValueError("replay timestamps are naive local times")


def iso(ts: dt.datetime) -> str:
    return ts.replace(microsecond=0).isoformat(timespec="seconds")


def interval_rows(start: dt.datetime, end: dt.datetime | None, sensor: str, kind: str) -> list[Row]:
    """Rows for a sensor that fired as an interval: ``door``/``bed`` report the state change at
    both ends (1 then 0), every other kind one event (value 1) at the start."""
    if kind in ("door", "bed"):
        rows = [Row(start, sensor, kind, 1)]
        if end is not None and end >= start:
            rows.append(Row(end, sensor, kind, 0))
        return rows
    return [Row(start, sensor, kind, 1)]


def sort_rows(rows: Iterable[Row]) -> list[Row]:
    """By time; rows with the same second keep their source order (a 1 before its 0)."""
    return sorted(rows, key=lambda r: r.ts)


def merge_intervals(
    intervals: Iterable[tuple[dt.datetime, dt.datetime]],
) -> list[tuple[dt.datetime, dt.datetime]]:
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _fmt_value(value: int | float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3f}".rstrip("0")
    return str(int(value))


def render(rows: Iterable[Row]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    for r in rows:
        w.writerow((iso(r.ts), r.sensor, r.kind, _fmt_value(r.value)))
    return buf.getvalue()


def render_away(intervals: Iterable[tuple[dt.datetime, dt.datetime]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(AWAY_HEADER)
    for start, end in intervals:
        w.writerow((iso(start), iso(end)))
    return buf.getvalue()


def write_home(
    out_dir: Path,
    home: str,
    rows: Iterable[Row],
    away: Iterable[tuple[dt.datetime, dt.datetime]],
) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    events = out_dir / f"{home}.csv"
    sidecar = out_dir / f"{home}.away.csv"
    events.write_text(render(sort_rows(rows)), encoding="utf-8", newline="")
    sidecar.write_text(render_away(merge_intervals(away)), encoding="utf-8", newline="")
    return events, sidecar


def read(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        if tuple(header) != HEADER:
            raise ValueError(f"{path}: header {header!r}, expected {HEADER!r}")
        return [
            Row(dt.datetime.fromisoformat(ts), sensor, kind, float(value))
            for ts, sensor, kind, value in reader
        ]


def summary(path: Path) -> str:
    """One line per home: rows, first/last day, days, sensors by kind, away intervals."""
    rows = read(path)
    if not rows:
        return f"{path.stem}: 0 rows"
    sensors: dict[str, set[str]] = {}
    for r in rows:
        sensors.setdefault(r.kind, set()).add(r.sensor)
    by_kind = ", ".join(f"{k} {len(v)}" for k, v in sorted(sensors.items()))
    events = Counter(r.kind for r in rows)
    first, last = rows[0].ts.date(), rows[-1].ts.date()
    away_path = path.with_name(f"{path.stem}.away.csv")
    away = ""
    if away_path.exists():
        with away_path.open(newline="", encoding="utf-8") as f:
            spans = list(csv.reader(f))[1:]
        hours = (
            sum(
                (dt.datetime.fromisoformat(e) - dt.datetime.fromisoformat(s)).total_seconds()
                for s, e in spans
            )
            / 3600
        )
        away = f"; away {len(spans)} intervals, {hours:.0f} h"
    return (
        f"{path.stem}: {len(rows)} rows, {first} .. {last} ({(last - first).days + 1} days); "
        f"sensors by kind: {by_kind}; rows by kind: "
        + ", ".join(f"{k} {n}" for k, n in sorted(events.items()))
        + away
    )
