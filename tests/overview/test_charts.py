"""The trend charts' geometry (overview/charts.py): pure, no database."""

from __future__ import annotations

import datetime as dt

import pytest

from yiyang.overview import charts

pytestmark = pytest.mark.unit

END = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
START = END - dt.timedelta(days=30)


def _points(line: charts.Line) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in line.points.split())]


def test_time_runs_left_to_right_and_values_bottom_to_top() -> None:
    series = {
        "heart_rate": [(START + dt.timedelta(days=d), 60.0 + d) for d in range(0, 30, 3)],
    }
    (chart,) = charts.charts(series, START, END)
    assert chart.key == "heart_rate" and chart.unit == "bpm"
    pts = _points(chart.lines[0])
    xs, ys = [x for x, _y in pts], [y for _x, y in pts]
    assert xs == sorted(xs) and xs[0] == charts.LEFT
    assert ys == sorted(ys, reverse=True)  # rising values go up the chart (smaller y)
    assert all(charts.TOP <= y <= charts.HEIGHT - charts.BOTTOM for y in ys)
    assert all(charts.LEFT <= x <= charts.WIDTH - charts.RIGHT for x in xs)
    assert chart.latest == "87" and chart.low == "60" and chart.high == "87"
    assert chart.count == 10
    assert chart.band is not None and chart.band[0] < chart.band[1]  # the usual 60–100 bpm
    assert [label for _x, label, _a in chart.x_ticks] == [
        "11-01",
        "11-09",
        "11-16",
        "11-24",
        "12-01",
    ]
    assert [a for _x, _l, a in chart.x_ticks] == ["start", "middle", "middle", "middle", "end"]


def test_blood_pressure_is_one_chart_of_two_lines_without_a_band() -> None:
    at = END - dt.timedelta(hours=1)
    series = {"bp_systolic": [(at, 150.0)], "bp_diastolic": [(at, 95.0)]}
    (chart,) = charts.charts(series, START, END)
    assert chart.key == "bp" and chart.unit == "mmHg"
    assert [line.key for line in chart.lines] == ["bp_systolic", "bp_diastolic"]
    assert chart.latest == "150/95"
    assert chart.band is None
    systolic, diastolic = (_points(line)[0][1] for line in chart.lines)
    assert systolic < diastolic  # the higher pressure is drawn higher


def test_a_flat_series_and_decimals_and_the_order_of_groups() -> None:
    at = END - dt.timedelta(days=1)
    series = {
        "temperature": [(at, 36.6), (END, 36.6)],
        "glucose": [(at, 6.25)],
        "unknown_metric": [(at, 1.0)],
    }
    drawn = charts.charts(series, START, END)
    assert [c.key for c in drawn] == ["glucose", "temperature"]
    glucose, temperature = drawn
    assert glucose.unit == "mmol/L" and glucose.latest == "6.2"
    assert temperature.unit == "℃" and temperature.latest == "36.6"
    ys = {y for _x, y in _points(temperature.lines[0])}
    assert len(ys) == 1 and charts.TOP < ys.pop() < charts.HEIGHT - charts.BOTTOM


def test_nothing_to_draw() -> None:
    assert charts.charts({}, START, END) == []
    assert charts.charts({"heart_rate": []}, START, END) == []


def test_many_readings_are_a_line_without_dots() -> None:
    series = {"spo2": [(START + dt.timedelta(hours=h), 97.0) for h in range(charts.DOTS_UP_TO + 1)]}
    (chart,) = charts.charts(series, START, END)
    assert chart.lines[0].dots == [] and chart.count == charts.DOTS_UP_TO + 1
