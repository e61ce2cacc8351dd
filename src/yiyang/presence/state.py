"""Pure decisions about absences (no I/O): where an elder is by what was said, whether a new
absence collides with another, which ``away`` / ``home`` messages are due for the alarm engine,
and the sentence that says so ("Away, expected back Sunday 20:00")."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _

# How far back the sweeper looks for an away or back not yet delivered to the rule worker
# (a pipeline down longer than this has older signals overtaken by what devices said since).
DELIVERY_WINDOW = dt.timedelta(days=2)
# The time of day a return said only by its date means ("back on Sunday"): the evening, so a
# "not back as planned" check-in falls in waking hours.
BACK_BY = dt.time(20, 0)
WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)


class Said(enum.StrEnum):
    """Who recorded an absence or the return."""

    ELDER = "elder"
    FAMILY = "family"
    STAFF = "staff"


class AbsenceLike(Protocol):
    """What the decisions read of an absence (the model, or a row of it)."""

    @property
    def id(self) -> int: ...
    @property
    def starts_at(self) -> dt.datetime: ...
    @property
    def until(self) -> dt.datetime | None: ...
    @property
    def ended_at(self) -> dt.datetime | None: ...
    @property
    def cancelled_at(self) -> dt.datetime | None: ...


def is_open(a: AbsenceLike, now: dt.datetime) -> bool:
    """Begun, not over and not called off: the elder is away."""
    return a.cancelled_at is None and a.ended_at is None and a.starts_at <= now


def is_planned(a: AbsenceLike, now: dt.datetime) -> bool:
    """Still to begin (and not called off)."""
    return a.cancelled_at is None and a.ended_at is None and a.starts_at > now


def current(absences: Iterable[AbsenceLike], now: dt.datetime) -> AbsenceLike | None:
    """The absence the elder is on now (the latest begun, if two were ever open)."""
    return max((a for a in absences if is_open(a, now)), key=lambda a: a.starts_at, default=None)


def planned(absences: Iterable[AbsenceLike], now: dt.datetime) -> list[AbsenceLike]:
    """The absences still to begin, soonest first."""
    return sorted((a for a in absences if is_planned(a, now)), key=lambda a: a.starts_at)


def collides(
    absences: Iterable[AbsenceLike],
    starts_at: dt.datetime,
    until: dt.datetime | None,
    now: dt.datetime,
) -> AbsenceLike | None:
    """An open or planned absence that overlaps [starts_at, until) (no until: open-ended)."""
    for a in absences:
        if not (is_open(a, now) or is_planned(a, now)):
            continue
        if (until is None or a.starts_at < until) and (a.until is None or starts_at < a.until):
            return a
    return None


@dataclass(frozen=True, slots=True)
class Signal:
    """A message the rule worker is due to hear: ``away`` (with the return time) or ``home``."""

    absence_id: int
    elder_id: int
    event: str  # "away" | "home"
    at: dt.datetime
    until: dt.datetime | None
    by: int | None
    said: str

    @property
    def msg_id(self) -> str:
        """The message id (with the app's device number: the worker's deduplication key)."""
        return f"absence-{self.absence_id}-{self.event}"


class SignalRow(AbsenceLike, Protocol):
    @property
    def elder_id(self) -> int: ...
    @property
    def recorded_by(self) -> int | None: ...
    @property
    def recorded_as(self) -> str: ...
    @property
    def ended_by(self) -> int | None: ...
    @property
    def ended_as(self) -> str | None: ...


def signals(rows: Iterable[SignalRow], now: dt.datetime) -> list[Signal]:
    """The ``away`` and ``home`` messages the absences call for by ``now`` within the delivery
    window, in time order: an absence's start once it has begun (a planned one at its time),
    its end once the elder is back. Not one for a planned absence called off."""
    since = now - DELIVERY_WINDOW
    out: list[Signal] = []
    for a in rows:
        if a.cancelled_at is not None or a.starts_at > now:
            continue
        if a.starts_at >= since:
            out.append(
                Signal(a.id, a.elder_id, "away", a.starts_at, a.until, a.recorded_by, a.recorded_as)
            )
        if a.ended_at is not None and since <= a.ended_at <= now:
            out.append(
                Signal(a.id, a.elder_id, "home", a.ended_at, None, a.ended_by, a.ended_as or "")
            )
    return sorted(out, key=lambda s: (s.at, s.event != "away"))


def overdue(rows: Iterable[SignalRow], now: dt.datetime) -> list[SignalRow]:
    """Open absences past the return time they said (the rule decides with its grace whether
    that is a check-in yet; the sweeper ticks those elders so it is asked)."""
    return [
        a
        for a in rows
        if is_open(a, now) and a.until is not None and now - DELIVERY_WINDOW <= a.until <= now
    ]


def when_text(at: dt.datetime, now: dt.datetime, tz: ZoneInfo) -> str:
    """A time the elder and family read at a glance: "today 20:00", "Sunday 20:00" within the
    week, else "12-24 20:00"."""
    local, today = at.astimezone(tz), now.astimezone(tz).date()
    hhmm = local.strftime("%H:%M")
    days = (local.date() - today).days
    if days == 0:
        return _("today %(time)s", time=hhmm)
    if days == 1:
        return _("tomorrow %(time)s", time=hhmm)
    if 1 < days < 7:
        return f"{_(WEEKDAYS[local.weekday()])} {hhmm}"
    return local.strftime("%m-%d ") + hhmm


def status_text(
    away: AbsenceLike | None, coming: Sequence[AbsenceLike], now: dt.datetime, tz: ZoneInfo
) -> str:
    """The state in one sentence: "Away, expected back Sunday 20:00", "Away", "At home"."""
    if away is not None:
        if away.until is None:
            return _("Away")
        when = when_text(away.until, now, tz)
        if away.until < now:
            return _("Away, expected back %(when)s (not back yet)", when=when)
        return _("Away, expected back %(when)s", when=when)
    if coming:
        return _("At home; going away %(when)s", when=when_text(coming[0].starts_at, now, tz))
    return _("At home")


def back_on(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """A return said by its date only: that day at ``BACK_BY`` local time, in UTC."""
    return dt.datetime.combine(day, BACK_BY, tzinfo=tz).astimezone(dt.UTC)
