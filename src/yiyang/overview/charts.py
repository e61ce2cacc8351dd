"""Trend charts as plain SVG geometry, drawn on the server: no chart library, no script (the
Content-Security-Policy allows none inline). Pure: readings in, coordinates and labels out; the
template ``overview/_trend.html`` writes the ``<svg>``.

Time runs left to right over the chart's window, values bottom to top over a range padded a
little beyond the readings and widened to include the metrics' usual ranges, so that a steady
series in the usual range does not look like a cliff; a chart of one metric shades its usual
range."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from yiyang.core.clock import to_local
from yiyang.core.i18n import N_
from yiyang.devices.vitals import VITALS

WIDTH = 600
HEIGHT = 180
LEFT = 44  # room for the value labels
RIGHT = 8
TOP = 10
BOTTOM = 24  # room for the date labels


@dataclass(frozen=True)
class Metric:
    key: str  # the vital_reading.metric value
    label: str  # a message id
    unit: str  # shown beside each value, through gettext (a word, "bpm") or as written ("mmHg")
    normal: tuple[float, float] | None  # the usual adult range, drawn as a band
    digits: int = 0


@dataclass(frozen=True)
class Chart:
    """One trend chart: a metric group (blood pressure draws two lines) over a window."""

    key: str
    label: str
    unit: str
    lines: list[Line]
    band: tuple[float, float] | None  # y of the normal band (top, bottom), or None
    y_ticks: list[tuple[float, str]]  # (y, label)
    x_ticks: list[tuple[float, str, str]]  # (x, label, text-anchor: the ends stay inside)
    latest: str  # the latest reading as text, with its unit
    latest_at: dt.datetime
    count: int
    low: str
    high: str


@dataclass(frozen=True)
class Line:
    key: str
    points: str  # "x,y x,y …" for a <polyline>
    dots: list[tuple[float, float]]  # the readings, when few enough to mark each one


# Units that are words come from devices.vitals (message ids: "bpm" reads 次/分 in zh-CN).
BPM = VITALS["heart_rate"].unit
PER_MIN = VITALS["breathing_rate"].unit

# The groups a chart is drawn for, in the order shown. Blood pressure is two metrics on one chart.
GROUPS: tuple[tuple[str, str, str, tuple[Metric, ...]], ...] = (
    (
        "bp",
        N_("Blood pressure"),
        "mmHg",
        (
            Metric("bp_systolic", N_("systolic"), "mmHg", (90, 140)),
            Metric("bp_diastolic", N_("diastolic"), "mmHg", (60, 90)),
        ),
    ),
    ("heart_rate", N_("Heart rate"), BPM, (Metric("heart_rate", "", BPM, (60, 100)),)),
    ("spo2", N_("Blood oxygen (SpO2)"), "%", (Metric("spo2", "", "%", (95, 100)),)),
    (
        "glucose",
        N_("Blood glucose"),
        "mmol/L",
        (Metric("glucose", "", "mmol/L", (3.9, 7.8), digits=1),),
    ),
    (
        "temperature",
        N_("Body temperature"),
        "℃",
        (Metric("temperature", "", "℃", (36.0, 37.3), digits=1),),
    ),
    (
        "breathing_rate",
        N_("Breathing rate"),
        PER_MIN,
        (Metric("breathing_rate", "", PER_MIN, (12, 20)),),
    ),
    ("steps", N_("Steps"), "", (Metric("steps", "", "", None),)),
)
METRICS = {m.key for _k, _l, _u, ms in GROUPS for m in ms}
DOTS_UP_TO = 60  # mark each reading while there are this few


def fmt(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


def _nice_range(values: Sequence[float], normal: tuple[float, float] | None) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if normal is not None:
        lo, hi = min(lo, normal[0]), max(hi, normal[1])
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.05, 1.0)
    return lo - pad, hi + pad


def _x(at: dt.datetime, start: dt.datetime, end: dt.datetime) -> float:
    span = (end - start).total_seconds() or 1.0
    share = min(max((at - start).total_seconds() / span, 0.0), 1.0)
    return round(LEFT + share * (WIDTH - LEFT - RIGHT), 1)


def _y(value: float, lo: float, hi: float) -> float:
    share = (value - lo) / ((hi - lo) or 1.0)
    return round(HEIGHT - BOTTOM - share * (HEIGHT - TOP - BOTTOM), 1)


def _band(normal: tuple[float, float] | None, lo: float, hi: float) -> tuple[float, float] | None:
    return (_y(normal[1], lo, hi), _y(normal[0], lo, hi)) if normal else None


def _day_ticks(
    start: dt.datetime, end: dt.datetime, count: int = 4
) -> list[tuple[float, str, str]]:
    """``count`` + 1 evenly spaced local dates along the window."""
    out = []
    for i in range(count + 1):
        at = start + (end - start) * i / count
        local = to_local(at)
        anchor = "start" if i == 0 else "end" if i == count else "middle"
        out.append((_x(at, start, end), local.strftime("%m-%d") if local else "", anchor))
    return out


def chart(
    key: str,
    label: str,
    unit: str,
    metrics: Sequence[Metric],
    series: dict[str, list[tuple[dt.datetime, float]]],
    start: dt.datetime,
    end: dt.datetime,
) -> Chart | None:
    """The chart of one group from ``series`` (metric → readings, oldest first), or None when
    the group has no reading in the window."""
    present = [m for m in metrics if series.get(m.key)]
    if not present:
        return None
    values = [v for m in present for _at, v in series[m.key]]
    bands = [m.normal for m in present if m.normal is not None]
    normal = (min(b[0] for b in bands), max(b[1] for b in bands)) if bands else None
    lo, hi = _nice_range(values, normal)
    digits = max(m.digits for m in present)
    lines = []
    for m in present:
        pts = [(_x(at, start, end), _y(v, lo, hi)) for at, v in series[m.key]]
        lines.append(
            Line(
                key=m.key,
                points=" ".join(f"{x},{y}" for x, y in pts),
                dots=pts if len(pts) <= DOTS_UP_TO else [],
            )
        )
    last_at = max(series[m.key][-1][0] for m in present)
    latest = "/".join(
        fmt(series[m.key][-1][1], m.digits) for m in present if series[m.key][-1][0] == last_at
    )
    ticks = [lo + (hi - lo) * i / 3 for i in range(4)]
    return Chart(
        key=key,
        label=label,
        unit=unit,
        lines=lines,
        # one band per chart: for two lines (blood pressure) neither's band would read right
        band=_band(present[0].normal, lo, hi) if len(present) == 1 else None,
        y_ticks=[(_y(t, lo, hi), fmt(t, digits)) for t in ticks],
        x_ticks=_day_ticks(start, end),
        latest=latest,
        latest_at=last_at,
        count=sum(len(series[m.key]) for m in present),
        low=fmt(min(values), digits),
        high=fmt(max(values), digits),
    )


def charts(
    series: dict[str, list[tuple[dt.datetime, float]]], start: dt.datetime, end: dt.datetime
) -> list[Chart]:
    """A chart per group with readings, in ``GROUPS`` order."""
    out = []
    for key, label, unit, metrics in GROUPS:
        drawn = chart(key, label, unit, metrics, series, start, end)
        if drawn is not None:
            out.append(drawn)
    return out
