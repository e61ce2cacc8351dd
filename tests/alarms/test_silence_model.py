"""The learned silence model (alarms/rules/silence.py, docs/adr/0014) on synthetic routines: a late
riser, a night owl, a shift worker, an elder who goes out every morning, a cold start, the away
state, a collapse at 11:00, and the graded response (check-in, then alarm)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest

from yiyang.alarms import rules
from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.rules import silence
from yiyang.core.i18n import reset_locale, set_locale
from yiyang.devices.enums import DeviceType, EventKind

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")
P = rules.DEFAULTS
ALONE = rules.Facts(1)
DEMENTIA = rules.Facts(2, dementia=True)
DAY0 = dt.date(2026, 3, 2)
TICK = dt.timedelta(minutes=10)
SILENCE_TYPES = {
    AlertType.INACTIVITY,
    AlertType.MORNING_SILENCE,
    AlertType.NOT_IN_BED,
    AlertType.ROUTINE,
    AlertType.OUT_TOO_LONG,
}


@pytest.fixture(autouse=True)
def english() -> object:
    token = set_locale("en")
    yield
    reset_locale(token)


def at(day: int, h: int, m: int = 0) -> dt.datetime:
    """Local day ``day`` after DAY0 at h:m (h may be ≥ 24: the next day), as UTC."""
    base = dt.datetime.combine(DAY0 + dt.timedelta(days=day), dt.time(), tzinfo=TZ)
    return (base + dt.timedelta(hours=h, minutes=m)).astimezone(dt.UTC)


def ev(kind: EventKind, when: dt.datetime, data: dict | None = None) -> rules.Event:  # type: ignore[type-arg]
    dtype = {
        EventKind.MOTION: DeviceType.PIR_MOTION,
        EventKind.DOOR: DeviceType.DOOR_SENSOR,
        EventKind.BED: DeviceType.BED_SENSOR,
        EventKind.CONTACT: DeviceType.CONTACT_SENSOR,
        EventKind.AWAY: DeviceType.AWAY_BUTTON,
        EventKind.HOME: DeviceType.AWAY_BUTTON,
    }[kind]
    return rules.Event(3, dtype, kind, when, data or {"count": 1})


@dataclass
class Home:
    """A home replayed through the rules: events in time order, a tick every 10 minutes."""

    facts: rules.Facts = ALONE
    p: rules.Params = P
    state: rules.State = field(default_factory=rules.State)
    clock: dt.datetime | None = None
    found: list[rules.Finding] = field(default_factory=list)

    def until(self, when: dt.datetime) -> None:
        t = self.clock or when
        while t + TICK <= when:
            t += TICK
            self.found += rules.on_tick(self.state, t, self.p, self.facts, TZ)
        self.clock = t

    def send(self, kind: EventKind, when: dt.datetime, data: dict | None = None) -> None:  # type: ignore[type-arg]
        self.until(when)
        self.found += rules.on_event(self.state, ev(kind, when, data), self.p, self.facts, TZ)

    def day(
        self,
        d: int,
        wake: tuple[int, int],
        bed: tuple[int, int],
        *,
        out: tuple[tuple[int, int], tuple[int, int]] | None = None,
        kind: EventKind = EventKind.MOTION,
    ) -> None:
        """Up at ``wake``, a sign of life every 25 min, to bed at ``bed`` (hours may pass 24),
        optionally out through the front door in between."""
        t = at(d, *wake)
        end = at(d, *bed)
        leave, back = (at(d, *out[0]), at(d, *out[1])) if out else (None, None)
        while t < end:
            if leave is not None and back is not None and leave <= t < back:
                self.send(EventKind.DOOR, leave, {"open": True})
                self.send(EventKind.DOOR, back, {"open": True})
                t = back + dt.timedelta(minutes=3)
                leave = None
                continue
            self.send(kind, t)
            t += dt.timedelta(minutes=25)

    def silence_findings(self, since: dt.datetime | None = None) -> list[rules.Finding]:
        """The silence-type findings since ``since``, one per dedupe key (as ``plan_alerts``
        opens one alert per key)."""
        first: dict[str, rules.Finding] = {}
        for f in self.found:
            if f.alert_type in SILENCE_TYPES and (since is None or f.at >= since):
                first.setdefault(f.key, f)
        return list(first.values())


def learned_home(days: int, wake: tuple[int, int], bed: tuple[int, int], **kw: object) -> Home:
    home = Home()
    for d in range(days):
        home.day(d, wake, bed, **kw)  # type: ignore[arg-type]
    return home


def test_a_cold_start_keeps_the_fixed_rules() -> None:
    home = Home()
    home.day(0, (7, 0), (22, 0))
    assert home.state.learned["first"]
    assert not silence.warm(home.state.learned, at(2, 8), TZ, P)
    home.until(at(1, 8, 10))  # asleep since 21:35: the fixed morning rule at 08:00
    (f,) = home.silence_findings(at(1, 7))
    assert f.alert_type is AlertType.MORNING_SILENCE and f.response is rules.Response.ALARM
    assert not f.check_in


def test_an_old_state_row_without_the_model_loads_and_starts_cold() -> None:
    s = rules.State(last_activity_at=at(0, 21), activity_sensed=True)
    assert s.learned == {}
    found = rules.on_tick(s, at(1, 8, 5), P, ALONE, TZ)
    assert [f.alert_type for f in found] == [AlertType.MORNING_SILENCE]
    rules.on_event(s, ev(EventKind.MOTION, at(1, 8, 6)), P, ALONE, TZ)
    assert s.learned["days"]  # the night just ended is the first thing learned


def test_the_model_is_replaced_never_edited_in_place() -> None:
    home = learned_home(2, (7, 0), (22, 0))
    before = home.state.learned
    copy = {k: (list(v) if isinstance(v, list) else v) for k, v in before.items()}
    home.day(2, (7, 0), (22, 0))
    assert home.state.learned is not before
    assert before == copy  # a snapshot taken before still compares as it was


def test_a_late_riser_is_not_raised_at_eight_once_learned() -> None:
    home = learned_home(10, (9, 30), (23, 30))
    assert home.silence_findings(at(8, 0)) == []  # learned: no morning alarm at 08:00
    home.day(10, (9, 40), (23, 30))  # a little later than usual: nothing either
    assert home.silence_findings(at(10, 0)) == []


def test_a_late_riser_who_does_not_get_up_is_checked_on_then_alarmed() -> None:
    home = learned_home(10, (9, 30), (23, 30))
    home.until(at(10, 18))
    first = home.silence_findings(at(10, 0))
    check = first[0]
    assert check.response is rules.Response.CHECK_IN and check.severity is Severity.INFO
    assert check.at <= at(10, 12)  # within 2 h 30 min of the usual getting-up time
    assert check.reason.startswith("usually up by 09:")
    assert "no activity since 23:" in check.reason and "yesterday" in check.reason
    assert "on 10 of the last 10 days nothing this quiet at this hour" in check.reason
    alarm = next(f for f in first if f.response is rules.Response.ALARM)
    assert alarm.severity is Severity.WARNING and alarm.alert_type is AlertType.INACTIVITY
    assert alarm.at - check.at >= dt.timedelta(minutes=P.silence_alarm_after_minutes)
    assert alarm.key != check.key  # the alarm opens its own alert, not a repeat of the check-in


def test_a_night_owl_is_left_alone() -> None:
    home = Home()
    for d in range(12):
        home.day(d, (11, 0), (27, 0))  # up at 11:00, to bed at 03:00
        home.send(EventKind.BED, at(d, 27, 1), {"in_bed": True})
        home.send(EventKind.BED, at(d + 1, 11, 0), {"in_bed": False})
    assert home.silence_findings(at(8, 0)) == []
    _beds, wakes = silence.rest_times(home.state.learned, TZ)
    assert silence.clock(silence.usual(wakes, 0.5) or 0) == "11:00"


def test_a_shift_worker_sleeping_by_day_is_left_alone() -> None:
    home = Home()
    for d in range(12):  # home 15:00–21:30, out at work overnight, asleep 08:00–15:00
        home.day(d, (15, 0), (21, 30))
        home.send(EventKind.DOOR, at(d, 21, 40), {"open": True})
        home.send(EventKind.DOOR, at(d, 31, 30), {"open": True})
        home.send(EventKind.MOTION, at(d, 31, 35))
        home.send(EventKind.MOTION, at(d, 31, 55))
    home.until(at(12, 14))
    late = [f for f in home.silence_findings(at(8, 0)) if f.alert_type is not AlertType.ROUTINE]
    assert late == []


def test_an_elder_who_goes_out_every_morning() -> None:
    home = learned_home(10, (7, 0), (22, 0), out=((9, 0), (11, 30)))
    assert home.silence_findings(at(8, 0)) == []
    home.day(10, (7, 0), (9, 0))
    home.send(EventKind.DOOR, at(10, 9, 0), {"open": True})
    home.until(at(10, 11))
    assert silence.away(home.state.learned)  # door then silence: out
    assert home.silence_findings(at(10, 0)) == []


def test_door_then_silence_is_out_and_back_by_door_or_home_button() -> None:
    s = rules.State()
    rules.on_event(s, ev(EventKind.MOTION, at(0, 9, 0)), P, ALONE, TZ)
    rules.on_event(s, ev(EventKind.DOOR, at(0, 9, 1), {"open": True}), P, ALONE, TZ)
    hall = at(0, 9, 1) + dt.timedelta(seconds=20)  # the hall's sensor, leaving
    rules.on_event(s, ev(EventKind.MOTION, hall), P, ALONE, TZ)
    assert silence.away(s.learned)
    rules.on_event(s, ev(EventKind.DOOR, at(0, 12, 0), {"open": True}), P, ALONE, TZ)
    assert not silence.away(s.learned)  # opened again while out: back
    rules.on_event(s, ev(EventKind.DOOR, at(0, 14, 0), {"open": True}), P, ALONE, TZ)
    rules.on_event(s, ev(EventKind.DOOR, at(0, 14, 0), {"open": False}), P, ALONE, TZ)
    assert silence.away(s.learned)
    rules.on_event(s, ev(EventKind.CONTACT, at(0, 14, 30)), P, ALONE, TZ)
    assert not silence.away(s.learned)  # a cupboard opened inside: home
    rules.on_event(s, ev(EventKind.AWAY, at(0, 15, 0)), P, ALONE, TZ)
    rules.on_event(s, ev(EventKind.MOTION, at(0, 15, 30)), P, ALONE, TZ)  # a visitor
    assert silence.away(s.learned)  # the button says out: only door + inside, or home
    rules.on_event(s, ev(EventKind.DOOR, at(0, 18, 0), {"open": True}), P, ALONE, TZ)
    rules.on_event(s, ev(EventKind.MOTION, at(0, 18, 10)), P, ALONE, TZ)
    assert not silence.away(s.learned)
    rules.on_event(s, ev(EventKind.AWAY, at(1, 9, 0)), P, ALONE, TZ)
    rules.on_event(s, ev(EventKind.HOME, at(1, 20, 0)), P, ALONE, TZ)
    assert not silence.away(s.learned) and s.last_activity_at == at(1, 20, 0)


def test_out_holds_the_silence_rules_and_out_too_long_takes_over() -> None:
    home = learned_home(10, (7, 0), (22, 0))
    home.day(10, (7, 0), (10, 0))
    home.send(EventKind.DOOR, at(10, 10, 0), {"open": True})
    home.until(at(10, 23, 50))
    assert home.silence_findings(at(10, 0)) == []  # 14 h out: no silence alarm
    home.until(at(11, 2, 0))
    (f,) = home.silence_findings(at(10, 0))
    assert f.alert_type is AlertType.OUT_TOO_LONG and f.check_in
    assert f.reason.startswith("went out at 10:00 yesterday and not back")
    planned = learned_home(10, (7, 0), (22, 0))
    planned.day(10, (7, 0), (9, 50))
    planned.send(EventKind.AWAY, at(10, 9, 55))
    planned.send(EventKind.DOOR, at(10, 10, 0), {"open": True})
    planned.until(at(12, 12))
    assert planned.silence_findings(at(10, 0)) == []  # at the daughter's: nothing


def test_a_dementia_elder_out_at_night_is_an_alarm_at_once() -> None:
    home = Home(facts=DEMENTIA)
    home.send(EventKind.MOTION, at(0, 1, 50))
    home.send(EventKind.DOOR, at(0, 2, 0), {"open": True})
    home.until(at(0, 2, 30))
    out = [f for f in home.found if f.alert_type is AlertType.OUT_TOO_LONG]
    assert out and out[0].response is rules.Response.ALARM and out[0].at <= at(0, 2, 20)
    assert home.found[0].alert_type is AlertType.NIGHT_DOOR


def test_a_collapse_at_eleven_is_found_within_hours_not_next_morning() -> None:
    home = learned_home(10, (7, 0), (22, 0))
    home.day(10, (7, 0), (11, 0))  # the last sign of life at 10:45
    home.until(at(11, 12))
    found = home.silence_findings(at(10, 0))
    assert found and found[0].at <= at(10, 14, 0)  # a check-in within about 3 h
    assert any(f.response is rules.Response.ALARM and f.at <= at(10, 18) for f in found)


def test_cold_start_inactivity_counts_from_when_the_silence_began() -> None:
    s = rules.State(last_activity_at=at(0, 11), activity_sensed=True)
    found = rules.on_tick(s, at(0, 23, 5), P, ALONE, TZ)  # 12 h after 11:00, outside 07–22
    assert AlertType.INACTIVITY in [f.alert_type for f in found]
    night = rules.State(last_activity_at=at(0, 23), activity_sensed=True)
    assert rules.on_tick(night, at(1, 6, 30), P, ALONE, TZ) == []


def test_routine_never_fires_in_the_small_hours() -> None:
    day = [0] * 7 + [15, 15, 12] + [9] * 12 + [0, 0]
    s = rules.State(baseline=rules.learn_baseline([day] * 10), baseline_days=10)
    for hour in range(1, 10):
        local = at(5, hour).astimezone(TZ)
        assert rules.routine_deviation(s, local, P, motion_today=0) is None
    f = rules.routine_deviation(s, at(5, 11).astimezone(TZ), P, motion_today=0)
    assert f is not None and f.check_in and f.severity is Severity.INFO


def test_a_kit_of_cupboard_contacts_counts_as_activity() -> None:
    home = Home()
    for d in range(10):
        home.day(d, (7, 30), (21, 30), kind=EventKind.CONTACT)
    assert home.state.activity_sensed
    assert home.silence_findings(at(8, 0)) == []
    home.until(at(10, 12))  # not up today
    assert any(f.check_in for f in home.silence_findings(at(10, 0)))


def test_a_flickering_bed_mat_is_not_a_sign_of_life() -> None:
    s = rules.State()
    rules.on_event(s, ev(EventKind.BED, at(0, 23, 0), {"in_bed": True}), P, ALONE, TZ)
    rules.on_event(s, ev(EventKind.BED, at(0, 23, 1), {"in_bed": False}), P, ALONE, TZ)
    assert s.last_activity_at is None  # out a minute after in: the mat
    rules.on_event(s, ev(EventKind.BED, at(0, 23, 2), {"in_bed": True}), P, ALONE, TZ)
    rules.on_event(s, ev(EventKind.BED, at(1, 7, 0), {"in_bed": False}), P, ALONE, TZ)
    assert s.last_activity_at == at(1, 7, 0)  # getting up


def test_usually_up_by_only_for_a_silence_that_began_in_the_night() -> None:
    home = learned_home(10, (7, 0), (22, 0))
    home.day(10, (7, 0), (8, 0))  # up as usual, then nothing from 07:50
    home.until(at(10, 13))
    check = next(f for f in home.silence_findings(at(10, 0)) if f.check_in)
    assert check.reason.startswith("no activity since 07:50 (")
    assert check.detail["reason"] == check.reason  # shown by describe.explain


def test_routine_leaves_a_quiet_already_asked_about_to_the_learned_silence() -> None:
    home = learned_home(10, (7, 0), (22, 0))
    day = [0] * 7 + [10] * 15 + [0, 0]
    home.state.baseline, home.state.baseline_days = rules.learn_baseline([day] * 10), 10
    home.day(10, (7, 0), (8, 0))
    home.until(at(10, 13))
    local = at(10, 13).astimezone(TZ)
    fresh = rules.State(baseline=home.state.baseline, baseline_days=10)
    for s in (home.state, fresh):  # 3 events by 10:00, none since
        rules.routine_deviation(s, at(10, 10).astimezone(TZ), P, motion_today=3)
    assert rules.routine_deviation(home.state, local, P, motion_today=3) is None
    assert rules.routine_deviation(fresh, local, P, motion_today=3) is not None  # cold: asks
