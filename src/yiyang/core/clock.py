"""One clock: aware UTC inside, local time (Asia/Shanghai by default) at the edges."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import overload
from zoneinfo import ZoneInfo

from yiyang.core.config import get_settings

# A moment set by ``at`` (the demo data's history): ``now()`` answers it while set.
_SET: ContextVar[dt.datetime | None] = ContextVar("yiyang_clock_at", default=None)


def now() -> dt.datetime:
    return _SET.get() or dt.datetime.now(dt.UTC)


@contextmanager
def at(moment: dt.datetime) -> Iterator[dt.datetime]:
    """Run the block as if it were ``moment`` (aware): every ``now()`` in it, in this context
    only, answers that moment. For loading history through the real service code (the demo
    district's past months); the running system never sets it."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given")
    token = _SET.set(moment.astimezone(dt.UTC))
    try:
        yield moment
    finally:
        _SET.reset(token)


def today_local() -> dt.date:
    return now().astimezone(local_zone()).date()


def local_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


@overload
def to_local(value: dt.datetime) -> dt.datetime: ...
@overload
def to_local(value: None) -> None: ...
@overload
def to_local(value: dt.datetime | None) -> dt.datetime | None: ...


def to_local(value: dt.datetime | None) -> dt.datetime | None:
    """The time in the deployment's zone (``local_zone()``); None stays None. The one
    conversion to local time: templates (the ``localtime`` filter), reports and services."""
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive values; we only ever store UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(local_zone())


def age_on(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
