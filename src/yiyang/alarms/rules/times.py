"""Local time-of-day windows (``"22:00"``–``"06:00"`` may wrap midnight) and nights."""

from __future__ import annotations

import datetime as dt


def hhmm(value: str) -> dt.time:
    hours, minutes = value.split(":")
    return dt.time(int(hours), int(minutes))


def in_window(local: dt.datetime, start: str, end: str) -> bool:
    """``local`` time of day in [start, end), windows may wrap midnight."""
    t, a, b = local.time(), hhmm(start), hhmm(end)
    return a <= t < b if a <= b else (t >= a or t < b)


def night_of(local: dt.datetime, end: str) -> dt.date:
    """The date a night started on (02:00 on the 5th belongs to the night of the 4th)."""
    return local.date() - dt.timedelta(days=1) if local.time() < hhmm(end) else local.date()
