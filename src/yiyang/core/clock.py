"""One clock: aware UTC inside, local time (Asia/Shanghai by default) at the edges."""

from __future__ import annotations

import datetime as dt
from typing import overload
from zoneinfo import ZoneInfo

from yiyang.core.config import get_settings


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
