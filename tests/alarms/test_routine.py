"""The routine rule (alarms/rules/routine.py, issue #16 item 4): the last hours' motion against
the elder's usual rate for those hours of the day, on synthetic routines — a late riser, a night
owl, a shift worker, an elder who goes out every morning, a cold start — fed as the sweeper feeds
it (the count since midnight on the first tick of each hour, the baseline each midnight)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest

from yiyang.alarms import rules
from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules import routine
from yiyang.core.i18n import reset_locale, set_locale
from yiyang.devices.enums import DeviceType, EventKind

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")
P = rules.DEFAULTS
DAY0 = dt.date(2026, 3, 2)
TICK = dt.timedelta(minutes=10)


@pytest.fixture(autouse=True)
def english() -> object:
    token = set_locale("en")
    yield
    reset_locale(token)


def at(day: int, h: int, m: int = 0) -> dt.datetime:
    """Local day ``day`` after DAY0 at h:m (h may be ≥ 24: the next day), as UTC."""
    base = dt.datetime.combine(DAY0 + dt.timedelta(days=day), dt.time(), tzinfo=TZ)
    return (base + dt.timedelta(hours=h, minutes=m)).astimezone(dt.UTC)


def rates(*spans: tuple[float, float, int]) -> dict[int, int]:
    """Motion events per local hour (may run past 24: the next morning) from (start, end, per
    hour) spans."""
    out: dict[int, int] = {}
    for start, end, n in spans:
        for h in range(int(start), int(end)):
            out[h] = n
    return out


@dataclass
class Home:
    """A home fed to the rules as the worker and the sweeper feed them: motion events, a tick
    every 10 minutes with today's count since midnight on the first tick of each hour, and the
    baseline learned at midnight from the days before (as ``engine.learn_baselines``)."""

    state: rules.State = field(default_factory=rules.State)
    clock: dt.datetime | None = field(default_factory=lambda: at(0, 0))  # ticks on :00
    hourly: dict[dt.date, list[int]] = field(default_factory=dict)
    found: list[rules.Finding] = field(default_factory=list)

    def until(self, when: dt.datetime) -> None:
        t = self.clock or when
        while t + TICK <= when:
            t += TICK
            local = t.astimezone(TZ)
            motion = None
            if local.minute < 10:
                today = local.date()
                if local.hour == 0:
                    past = [v for d, v in sorted(self.hourly.items()) if d < today][-28:]
                    self.state.baseline = rules.learn_baseline(past) if past else None
                    self.state.baseline_days = len(past)
                motion = sum(self.hourly.get(today, [0] * 24)[: local.hour])
            self.found += rules.on_tick(self.state, t, P, rules.Facts(1), TZ, motion_today=motion)
        self.clock = t

    def send(self, kind: EventKind, when: dt.datetime, data: dict[str, object]) -> None:
        self.until(when)
        dtype = DeviceType.PIR_MOTION if kind is EventKind.MOTION else DeviceType.DOOR_SENSOR
        ev = rules.Event(3, dtype, kind, when, data)
        self.found += rules.on_event(self.state, ev, P, rules.Facts(1), TZ)
        if kind is EventKind.MOTION:
            local = when.astimezone(TZ)
            self.hourly.setdefault(local.date(), [0] * 24)[local.hour] += 1

    def day(self, d: int, motion: dict[int, int], out: tuple[float, float] | None = None) -> None:
        """One day's motion (events spread evenly in each hour) and an outing by the door."""
        events: list[tuple[dt.datetime, EventKind]] = []
        for h, n in motion.items():
            events += [(at(d, h, 60 * i // n + 2), EventKind.MOTION) for i in range(n)]
        if out is not None:
            leave, back = (at(d, int(x), round(60 * (x % 1))) for x in out)
            events = [e for e in events if not leave <= e[0] < back]
            events += [(leave, EventKind.DOOR), (back, EventKind.DOOR)]
            events.append((back + dt.timedelta(minutes=6), EventKind.MOTION))
        for when, kind in sorted(events):
            data: dict[str, object] = {"count": 1} if kind is EventKind.MOTION else {"open": True}
            self.send(kind, when, data)

    def slow(self, d: int, start: int, end: int) -> None:
        """One motion event an hour, at ten to (up, but slow)."""
        for h in range(start, end):
            self.send(EventKind.MOTION, at(d, h, 50), {"count": 1})

    def routine(self, since: dt.datetime | None = None) -> list[rules.Finding]:
        """The routine findings, the first of each key (one alert: ``plan_alerts`` merges)."""
        first: dict[str, rules.Finding] = {}
        for f in self.found:
            if f.alert_type is AlertType.ROUTINE and (since is None or f.at >= since):
                first.setdefault(f.key, f)
        return list(first.values())


def lived(days: int, motion: dict[int, int], out: tuple[float, float] | None = None) -> Home:
    home = Home()
    for d in range(days):
        home.day(d, motion, out)
    return home


# An ordinary elder: up at 07:00, 20 motion events an hour, in bed at 22:00
ORDINARY = rates((7, 22, 20))


def test_a_slow_afternoon_after_a_busy_morning_is_asked_about() -> None:
    """Unwell after lunch, up once an hour: counted since getting up, the busy morning hid it
    all day (103 of the usual 160 by 15:00); the last three hours' rate does not."""
    home = lived(14, ORDINARY)
    home.day(14, rates((7, 12, 20)))
    home.slow(14, 12, 18)
    home.until(at(14, 16))
    (f,) = home.routine(at(14, 0))
    assert f.check_in and f.severity is Severity.INFO
    assert f.at == at(14, 15)
    assert f.detail == {"expected": 60, "actual": 3, "since": "12:00", "by": "15:00"}
    assert f.reason == "usually 60 motion events between 12:00 and 15:00, today 3"
    assert not [f for f in home.found if f.alert_type is AlertType.INACTIVITY]


def test_a_silence_is_left_to_the_learned_silence() -> None:
    """Once learned, no sign of life for an hour is a silence: the learned silence judges it
    (it knows this home's quiet hours), the routine does not ask about it as well."""
    home = lived(14, ORDINARY)
    home.day(14, rates((7, 12, 20)))  # nothing after 11:59
    home.until(at(14, 18))
    assert home.routine() == []
    assert any(f.check_in for f in home.found if f.alert_type is AlertType.INACTIVITY)


def test_ordinary_days_and_an_hour_late_are_not_asked_about() -> None:
    home = lived(14, ORDINARY)
    home.day(14, rates((8, 23, 20)))  # up an hour late
    home.until(at(15, 9))
    assert home.routine() == []


def test_never_in_the_small_hours_or_a_quiet_evening() -> None:
    home = lived(14, ORDINARY)
    home.day(14, rates((7, 19, 20)))  # an early night: nothing after 19:00
    home.until(at(15, 7))  # and a night, to 07:00
    assert home.routine() == []  # after 22:00 past bedtime; the night is usually quiet
    home = lived(14, ORDINARY)
    for hour in range(24):
        local = at(14, hour).astimezone(TZ)
        found = rules.routine_deviation(home.state, local, P, motion_today=0)
        assert found is None or 10 <= hour <= 22  # a full window of the day, before bedtime


def test_late_riser() -> None:
    """Up at 10:30, to bed at 01:00: her quiet mornings are hers, a slow evening is not."""
    late = rates((10, 25, 20))
    home = lived(14, late)
    home.until(at(14, 13))
    assert home.routine() == []
    home.day(14, rates((10, 17, 20)))
    home.slow(14, 17, 24)
    home.until(at(15, 12))
    (f,) = home.routine()
    assert f.at == at(14, 20) and f.detail["since"] == "17:00"


def test_night_owl() -> None:
    """Active 12:00 to 03:00: the morning's usual is nothing, so a quiet morning never asks,
    nor do his small hours; his evening still counts."""
    owl = rates((12, 27, 20))
    home = lived(14, owl)
    home.until(at(14, 12))
    assert home.routine() == []
    home.day(14, rates((12, 17, 20)))
    home.slow(14, 17, 27)  # a slow evening and night
    home.until(at(15, 12))
    (f,) = home.routine()
    assert f.at == at(14, 20)


def test_shift_worker() -> None:
    """Out on nights 22:05–06:30, asleep 07:00–15:00, up 15:00–22:00: the hours she sleeps
    never ask, nor does the night she works."""
    home = Home()
    for d in range(14):
        home.day(d, rates((15, 22, 20)))
        home.send(EventKind.DOOR, at(d, 22, 5), {"open": True})  # off to work
        home.send(EventKind.DOOR, at(d, 30, 30), {"open": True})  # back at 06:30
        home.send(EventKind.MOTION, at(d, 30, 36), {"count": 1})
        home.send(EventKind.MOTION, at(d, 30, 50), {"count": 1})
    home.until(at(15, 0))
    assert home.routine() == []
    up, bed = routine.day_span(home.state, at(14, 12).astimezone(TZ), P)
    assert (up, bed) == (15 * 60 + 2, 24 * 60)  # her day: from 15:02 (learned) to midnight


def test_out_every_morning() -> None:
    """Out 08:30–11:30 every day: the morning's usual at home is low, so it never asks; a
    longer outing is an outing, not a slow day."""
    home = lived(14, ORDINARY, out=(8.5, 11.5))
    home.until(at(14, 0))
    assert home.routine() == []
    home.day(14, ORDINARY, out=(8.5, 16))  # lunch with a friend
    home.until(at(15, 0))
    assert home.routine() == []


def test_cold_start() -> None:
    """Nothing the first week (no baseline of 7 days); a baseline without a learned day is
    read in the fixed day 07:00–22:00."""
    home = Home()
    for d in range(5):
        home.day(d, ORDINARY)
    home.day(5, {7: 20})  # a still day in the first week
    home.until(at(6, 12))
    assert home.routine() == []
    day = [0] * 7 + [10] * 15 + [0, 0]
    s = rules.State(baseline=rules.learn_baseline([day] * 10), baseline_days=10)
    hours = [h for h in range(24) if rules.routine_deviation(s, at(3, h).astimezone(TZ), P, 0)]
    assert hours == list(range(10, 23))


def test_counts_are_remembered_only_when_they_change() -> None:
    s = rules.State()
    day = at(0, 0).astimezone(TZ).date().toordinal()
    routine.remember(s, at(0, 3).astimezone(TZ), 0)
    assert "routine" not in s.recent  # a quiet night writes nothing
    before = s.recent
    routine.remember(s, at(0, 9).astimezone(TZ), 12)
    assert s.recent["routine"] == [day, *([None] * 9), 12, *([None] * 14)]
    kept = s.recent["routine"]
    routine.remember(s, at(0, 10).astimezone(TZ), 12)
    assert s.recent["routine"] is kept  # unchanged: not rewritten
    routine.remember(s, at(1, 9).astimezone(TZ), 5)  # a new day starts afresh
    assert s.recent["routine"][0] == day + 1 and s.recent["routine"][10] == 5
    assert before is s.recent  # the entry is replaced, the list never edited
    assert kept == [day, *([None] * 9), 12, *([None] * 14)]


def test_a_missed_hour_can_only_make_today_look_busier() -> None:
    """The count at the window's start not remembered (a missed tick, the first day): the last
    one before it is used, which can only be lower, so today's count only larger."""
    day = [0] * 7 + [10] * 15 + [0, 0]
    s = rules.State(baseline=rules.learn_baseline([day] * 10), baseline_days=10)
    assert rules.routine_deviation(s, at(0, 8).astimezone(TZ), P, 10) is None
    # 12:00–15:00 had 2 events (52 by 15:00), but 12:00's 50 was never seen: 42 are counted
    assert rules.routine_deviation(s, at(0, 15).astimezone(TZ), P, 52) is None
    s2 = rules.State(baseline=s.baseline, baseline_days=10)
    rules.routine_deviation(s2, at(0, 12).astimezone(TZ), P, 50)
    f = rules.routine_deviation(s2, at(0, 15).astimezone(TZ), P, 52)
    assert f is not None and f.detail["actual"] == 2


@pytest.mark.parametrize(
    ("start", "end", "usual"),
    [(7, 10, 20.0), (12, 15, 30.0), (20, 23, 10.0), (0, 3, 0.0)],
)
def test_usual_span_takes_an_hour_of_slack(start: int, end: int, usual: float) -> None:
    day = [0] * 7 + [10] * 15 + [0, 0]  # 07:00–22:00
    assert routine.usual_span(rules.learn_baseline([day] * 5), start, end) == usual
