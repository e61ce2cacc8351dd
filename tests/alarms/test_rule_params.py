"""Rule parameters have safe ranges, enforced by ``Params`` itself: whatever path makes one (the
API, a region's defaults, a stored row read back), an accepted ``Params`` keeps the critical
alarms live; a stored unsafe row is given up key by key, never crashes the engine."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from yiyang.alarms import limits, rules
from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.settings import param_errors
from yiyang.devices.enums import DeviceType, EventKind

pytestmark = pytest.mark.unit

TZ = ZoneInfo("Asia/Shanghai")
AT = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
HOME = (31.19, 121.44)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "devices.md"


def problems(**values: Any) -> dict[str, str]:
    """field → message of every problem ``Params`` reports for these values."""
    with pytest.raises(ValidationError) as info:
        rules.Params.model_validate(values)
    found: dict[str, str] = {}
    for e in param_errors(info.value, prefix=""):
        found[e["field"]] = " ".join(filter(None, [found.get(e["field"]), e["message"]]))
    return found


def test_defaults_are_safe_and_every_parameter_has_a_documented_range() -> None:
    assert rules.DEFAULTS.problems() == []
    for name, info in rules.Params.model_fields.items():
        safe = limits.safe_of(info)  # a new parameter without a range fails here
        assert safe.source.split(", ")[0] in limits.SOURCES, name
    table = limits.markdown_table(rules.Params, rules.DEFAULTS)
    assert table in DOCS.read_text(encoding="utf-8"), "docs/devices.md: regenerate the table"


@pytest.mark.parametrize(
    ("values", "field", "says"),
    [
        ({"heart_rate_warn": (120, 60)}, "heart_rate_warn", "Lower limit must be between"),
        ({"heart_rate_warn": (45, 45)}, "heart_rate_warn", "Upper limit must be between 90"),
        ({"breathing_rate_crit": (8, 6)}, "breathing_rate_crit", "Upper limit must be"),
        ({"heart_rate_crit": (0, 999)}, "heart_rate_crit", "between 30 and 45 bpm"),
        ({"spo2_crit_below": 50}, "spo2_crit_below", "between 80 and 90 %"),
        ({"bp_crit": (400, 300)}, "bp_crit", "Systolic must be between 160 and 220"),
        ({"glucose_crit": (0.1, 99.0)}, "glucose_crit", "between 2.8 and 3.9"),
        ({"inactivity_hours": math.nan}, "inactivity_hours", "between 2 and 24 h"),
        ({"geofence_radius_m": math.inf}, "geofence_radius_m", "between 50 and 5000 m"),
        ({"sustain": {"heart_rate": 99}}, "sustain.heart_rate", "between 1 and 5"),
        ({"sustain": {"pulse": 2}}, "sustain.pulse", "Unknown key"),
        ({"heart_rate_crit": None}, "heart_rate_crit", "cannot be switched off"),
        ({"spo2_crit_below": None}, "spo2_crit_below", "cannot be switched off"),
        ({"escalation": {"critical": None}}, "escalation", "cannot be removed"),
        ({"escalation": {"critical": []}}, "escalation.critical", "can be moved, not removed"),
        (
            {"escalation": {"critical": [("contacts", 60), ("community", 180)]}},
            "escalation.critical",
            "district duty officer",
        ),
        (
            {"escalation": {"critical": [("contacts", 60), ("community", 180), ("duty", 99999)]}},
            "escalation.critical.duty",
            "between 120 and 900 s",
        ),
        (
            {"escalation": {"critical": [("duty", 300), ("contacts", 60), ("community", 180)]}},
            "escalation.critical.contacts",
            "order of time",
        ),
        ({"escalation": {"panic": []}}, "escalation.panic", "Unknown severity"),
        ({"waking_end": "07:00"}, "waking_end", "between 12 and 20 hours"),
        ({"night_start": "25:00"}, "night_start", "HH:MM"),
        ({"bed_by": "12:00"}, "bed_by", "inside the night"),
        ({"morning_quiet_minutes": 200}, "morning_quiet_minutes", "shorter than the morning"),
        (
            {"geofence_polygon": [(31.0, 121.0), (31.5, 121.0), (31.0, 121.5)]},
            "geofence_polygon",
            "at most 10 km",
        ),
    ],
)
def test_unsafe_values_are_refused_field_by_field(values: dict, field: str, says: str) -> None:
    found = problems(**values)
    assert field in found, found
    assert says in found[field]


def test_a_critical_limit_lies_at_or_beyond_its_warning_limit() -> None:
    found = problems(heart_rate_warn=(35, 130), heart_rate_crit=(40, 150))
    assert "at or beyond the warning limit (35–130)" in found["heart_rate_crit"]
    assert "spo2_crit_below" in problems(spo2_warn_below=88, spo2_crit_below=90)
    assert "bp_crit" in problems(bp_warn=(180, 110), bp_crit=(170, 120))
    # moved within its range, in the right order: accepted
    p = rules.Params(heart_rate_warn=(45, 110), heart_rate_crit=(40, 140), spo2_crit_below=88)
    assert p.heart_rate_crit == (40, 140)


def test_every_problem_is_reported_at_once() -> None:
    found = problems(heart_rate_crit=(0, 999), sustain={"spo2": 0}, escalation={"critical": []})
    assert {"heart_rate_crit", "sustain.spo2", "escalation.critical"} <= set(found)


def test_messages_are_chinese_by_default() -> None:
    from yiyang.core import i18n

    token = i18n.set_locale("zh_CN")
    try:
        switched_off = problems(heart_rate_crit=None)
        found = problems(heart_rate_crit=(20, 150), escalation={"critical": []})
    finally:
        i18n.reset_locale(token)
    assert switched_off["heart_rate_crit"] == "该界限不能关闭，只能调整。"
    assert found["heart_rate_crit"] == "下限须在 30 至 45 次/分 之间。"
    assert "紧急联系人" in found["escalation.critical"]


def test_mappings_name_only_what_they_change() -> None:
    p = rules.Params.layered({"sustain": {"glucose": 2}}, {"escalation": {"warning": []}})
    assert p.sustain == {**rules.DEFAULTS.sustain, "glucose": 2}
    assert p.escalation["critical"] == rules.DEFAULTS.escalation["critical"]
    assert p.escalation["warning"] == []
    # a region's critical ladder survives an elder's row that changes only warnings
    region = {"escalation": {"critical": [["contacts", 30], ["community", 90], ["duty", 200]]}}
    p = rules.Params.layered(region, {"escalation": {"warning": [["contacts", 300]]}})
    assert p.escalation["critical"] == [("contacts", 30), ("community", 90), ("duty", 200)]


def test_a_stored_unsafe_row_gives_up_only_its_unsafe_keys() -> None:
    """Rows written before the ranges existed: the engine neither crashes nor runs them."""
    region = {"inactivity_hours": 10, "heart_rate_warn": [45, 130], "heart_rate_crit": [40, 150]}
    elder = {
        "inactivity_hours": 500,
        "heart_rate_crit": None,
        "heart_rate_warn": [38, 120],  # below the region's critical 40: unsafe there
        "escalation": {"critical": [], "warning": [["contacts", 900]]},
        "sustain": {"spo2": 50, "glucose": 2},
        "battery_low": 30,
        "nonsense": 1,
    }
    rejected: list[tuple[int, str, Any]] = []
    p = rules.Params.layered_safely(region, elder, "garbage", rejected=rejected)
    assert p.inactivity_hours == 10  # the region's
    assert p.heart_rate_warn == (45, 130) and p.heart_rate_crit == (40, 150)
    assert p.escalation["critical"] == rules.DEFAULTS.escalation["critical"]
    assert p.escalation["warning"] == [("contacts", 900)]  # its safe parts still apply
    assert p.sustain["glucose"] == 2 and p.sustain["spo2"] == 3
    assert p.battery_low == 30
    assert {(i, k) for i, k, _ in rejected} == {
        (1, "inactivity_hours"),
        (1, "heart_rate_crit"),
        (1, "heart_rate_warn"),
        (1, "escalation.critical"),
        (1, "sustain.spo2"),
        (1, "nonsense"),
        (2, "*"),
    }
    with pytest.raises(ValidationError):  # the strict form, for writes, refuses the same row
        rules.Params.layered(region, elder)


# -- property: whatever is accepted keeps the critical alarms live ------------------------


def _number(bound: limits.Bound, integer: bool) -> st.SearchStrategy[Any]:
    """Mostly inside the range (so that many examples are accepted), else around and far
    beyond it."""
    span = max(bound.hi - bound.lo, 1)
    if integer:
        inside: st.SearchStrategy[Any] = st.integers(math.ceil(bound.lo), math.floor(bound.hi))
        wide = st.integers(math.floor(bound.lo - span), math.ceil(bound.hi + span))
        return st.one_of(inside, inside, inside, wide, st.sampled_from([0, -1, 10**9]))
    within = st.floats(bound.lo, bound.hi)
    odd = st.sampled_from([0.0, -1.0, 1e12, math.inf, math.nan])
    return st.one_of(within, within, within, st.floats(bound.lo - span, bound.hi + span), odd)


_TIMES = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))


@st.composite
def _ladder(draw: st.DrawFn, severity: str) -> list[tuple[str, int]]:
    """A ladder for one severity: mostly well-formed (known audiences, times inside their
    ranges, sorted), sometimes shortened, shuffled, or with unknown audiences and times."""
    allowed = limits.LADDER[severity]
    audiences = draw(st.lists(st.sampled_from([*allowed, "webhook"]), max_size=4, unique=True))
    rungs = [
        (a, draw(_number(allowed[a], True) if a in allowed else st.integers(-5, 5000)))
        for a in audiences
    ]
    if draw(st.booleans()):
        rungs.sort(key=lambda r: r[1])
    return rungs


_LADDERS = st.fixed_dictionaries(
    {},
    optional={
        "critical": _ladder("critical"),
        "warning": _ladder("warning"),
        "info": _ladder("info"),
        "urgent": st.just([]),
    },
)
_POINT = st.tuples(st.floats(31.0, 31.4), st.floats(121.2, 121.6))


def _value(name: str) -> st.SearchStrategy[Any]:
    """Values for one parameter, mostly inside its safe range, else around and beyond it."""
    info = rules.Params.model_fields[name]
    safe = limits.safe_of(info)
    default = getattr(rules.DEFAULTS, name)
    bound = safe.bound
    if name == "escalation":
        return _LADDERS
    if name == "geofence_polygon":
        return st.none() | st.lists(_POINT, min_size=0, max_size=8)
    if isinstance(default, str):
        return _TIMES | st.just("7am")
    if isinstance(bound, tuple):
        integer = isinstance(default[0], int)
        return st.tuples(_number(bound[0], integer), _number(bound[1], integer)) | st.none()
    if isinstance(bound, dict):
        keys = st.sampled_from([*bound, "pulse"])
        return st.dictionaries(keys, st.integers(-1, 7))
    assert isinstance(bound, limits.Bound), name
    return _number(bound, isinstance(default, int) and not isinstance(default, bool))


# The parameters the critical alarms depend on come up more often than the others.
_CRITICAL = [
    *(n for n in rules.Params.model_fields if n.split("_")[0] in ("heart", "spo2", "breathing")),
    *("bp_warn", "bp_crit", "glucose_warn", "glucose_crit", "sustain", "escalation"),
    *("geofence_radius_m", "geofence_polygon", "geofence_confirm_points"),
]
_NAME = st.sampled_from(_CRITICAL) | st.sampled_from(sorted(rules.Params.model_fields))
_KEYS = st.lists(_NAME, max_size=5, unique=True)
LAYERS = _KEYS.flatmap(lambda keys: st.fixed_dictionaries({k: _value(k) for k in keys}))


def _readings(p: rules.Params, kind: EventKind, data: dict[str, Any]) -> list[rules.Finding]:
    state, out = rules.State(), []
    facts = rules.Facts(1, dementia=True, home=HOME)
    for i in range(5):  # the longest run any accepted ``sustain`` may ask for
        event = rules.Event(7, DeviceType.SMART_WATCH, kind, AT + dt.timedelta(minutes=i), data)
        out += rules.on_event(state, event, p, facts, TZ)
    return out


def assert_critical_alarms_live(p: rules.Params) -> None:
    facts = rules.Facts(1, dementia=True, home=HOME)
    for kind in rules.IMMEDIATE:
        event = rules.Event(7, DeviceType.SOS_BUTTON, kind, AT, {})
        (found,) = rules.on_event(rules.State(), event, p, facts, TZ)
        assert found.severity is Severity.CRITICAL
    # the extremes a device can report are critical, within five readings
    extremes: list[tuple[EventKind, dict[str, Any]]] = [
        (EventKind.VITALS, {"heart_rate": 20}),
        (EventKind.VITALS, {"heart_rate": 250}),
        (EventKind.VITALS, {"spo2": 79}),
        (EventKind.VITALS, {"breathing_rate": 3}),
        (EventKind.VITALS, {"breathing_rate": 41}),
        (EventKind.BP, {"systolic": 221, "diastolic": 90}),
        (EventKind.BP, {"systolic": 150, "diastolic": 131}),
        (EventKind.GLUCOSE, {"mmol_l": 2.7}),
        (EventKind.GLUCOSE, {"mmol_l": 33.4}),
    ]
    for kind, data in extremes:
        vitals = [f for f in _readings(p, kind, data) if f.alert_type is AlertType.VITALS]
        assert any(f.severity is Severity.CRITICAL for f in vitals), (kind, data)
    # a dementia elder 55 km from home (outside any drawn polygon) is raised within five fixes
    far = {"lat": HOME[0] + 0.5, "lon": HOME[1]}
    wandering = _readings(p, EventKind.GPS, far)
    assert any(f.alert_type is AlertType.WANDERING for f in wandering)
    # an unanswered critical alert reaches contacts, community and the duty officer in 15 min
    rungs = p.escalation["critical"]
    assert {a for a, _s in rungs} >= {"contacts", "community", "duty"}
    for step in range(len(rungs)):
        due = rules.escalation_due(AT, "critical", step, p)
        assert due is not None and due[1] - AT <= dt.timedelta(minutes=15)
    assert not rules.throttled([AT] * 100, AT, Severity.CRITICAL, p)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LAYERS)
def test_any_accepted_params_keep_critical_alarms_live(values: dict[str, Any]) -> None:
    try:
        p = rules.Params.model_validate(values)
    except ValidationError:
        return
    assert_critical_alarms_live(p)


def _inside(name: str) -> st.SearchStrategy[Any]:
    """Anywhere inside the parameter's own range (only the cross-field rules may fail)."""
    safe = limits.safe_of(rules.Params.model_fields[name])
    default, bound = getattr(rules.DEFAULTS, name), safe.bound

    def one(b: limits.Bound, integer: bool) -> st.SearchStrategy[Any]:
        if integer:
            return st.integers(math.ceil(b.lo), math.floor(b.hi))
        return st.floats(b.lo, b.hi)

    if name == "escalation":
        ladder = st.permutations(sorted(limits.LADDER["critical"].items())).flatmap(
            lambda rungs: st.tuples(*(st.tuples(st.just(a), one(b, True)) for a, b in rungs))
        )
        return st.fixed_dictionaries({"critical": ladder.map(sorted_by_time)})
    if isinstance(bound, tuple):
        integer = isinstance(default[0], int)
        return st.tuples(one(bound[0], integer), one(bound[1], integer))
    if isinstance(bound, dict):
        return st.fixed_dictionaries({k: one(b, True) for k, b in bound.items()})
    assert isinstance(bound, limits.Bound)
    return one(bound, isinstance(default, int))


def sorted_by_time(rungs: tuple[tuple[str, int], ...]) -> list[tuple[str, int]]:
    return sorted(rungs, key=lambda r: r[1])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({n: _inside(n) for n in _CRITICAL if n != "geofence_polygon"}))
def test_critical_limits_moved_anywhere_in_their_ranges_stay_live(values: dict) -> None:
    try:
        p = rules.Params.model_validate(values)
    except ValidationError as exc:  # only a warning limit beyond its critical limit
        assert {e["type"] for e in param_errors(exc)} == {"safe_range"}
        assert all("beyond the warning limit" in e["message"] for e in param_errors(exc))
        return
    assert_critical_alarms_live(p)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LAYERS | st.sampled_from([None, [], "x", {"escalation": "x"}]), max_size=4))
def test_any_stored_rows_read_back_safely(layers: list[Any]) -> None:
    assert_critical_alarms_live(rules.Params.layered_safely(*layers))
