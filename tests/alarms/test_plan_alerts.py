"""``plan_alerts``: what a batch of findings does to the alerts, decided without a database —
dedupe into an open alert, repeats within the batch, episodes that never re-open, storm control,
restores, and asking the elder first."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import pytest

from yiyang.alarms import rules
from yiyang.alarms.enums import AlertState, AlertType, Severity
from yiyang.alarms.plan import Plan, Restore, plan_alerts

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
P = rules.DEFAULTS  # storm: at most 5 new non-critical alerts per elder per 10 min
ELDER, OTHER = 1, 2


class Row(NamedTuple):
    id: int
    elder_id: int
    dedupe_key: str
    state: str
    created_at: dt.datetime


def ago(minutes: float) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


def finding(
    key: str,
    *,
    alert_type: AlertType = AlertType.DEVICE_TROUBLE,
    severity: Severity = Severity.WARNING,
    at: dt.datetime = NOW,
    **flags: bool,
) -> rules.Finding:
    return rules.Finding(alert_type, severity, key, at, {"code": "300"}, 5, **flags)


def plan(
    findings: dict[int, list[rules.Finding]],
    existing: list[Row] | None = None,
    params: dict[int, rules.Params] | None = None,
) -> Plan:
    return plan_alerts(findings, existing or [], lambda e: (params or {}).get(e, P), NOW)


def opened(p: Plan) -> list[tuple[int, str, int]]:
    return [(o.elder_id, o.finding.key, o.count) for o in p.opened]


def test_a_new_finding_opens_an_alert_with_its_first_escalation_rung() -> None:
    sos = finding("sos", alert_type=AlertType.SOS, severity=Severity.CRITICAL, at=ago(1))
    p = plan({ELDER: [sos], OTHER: []})
    (o,) = p.opened
    assert (o.elder_id, o.finding, o.count, o.last_at) == (ELDER, sos, 1, ago(1))
    assert o.next_escalation_at == NOW + dt.timedelta(seconds=60)  # contacts after 1 min
    assert not (p.merged or p.suppressed or p.restores or p.prompts)
    info = finding("battery:5", alert_type=AlertType.LOW_BATTERY, severity=Severity.INFO)
    assert plan({ELDER: [info]}).opened[0].next_escalation_at is None  # info has no ladder


def test_nothing_to_plan() -> None:
    assert plan({}) == Plan()
    assert plan({ELDER: []}, [Row(9, ELDER, "sos", AlertState.NEW, ago(1))]) == Plan()


def test_repeats_in_one_batch_count_on_the_new_alert() -> None:
    first, again = finding("sos", at=ago(3)), finding("sos", at=ago(1))
    p = plan({ELDER: [first, again, finding("sos", at=ago(2))]})
    assert opened(p) == [(ELDER, "sos", 3)]
    assert p.opened[0].last_at == ago(1) and p.opened[0].finding is first


def test_a_repeat_merges_into_the_open_alert() -> None:
    existing = [
        Row(9, ELDER, "sos", AlertState.ACKNOWLEDGED, ago(60)),
        Row(10, OTHER, "sos", AlertState.NEW, ago(60)),
    ]
    a, b = finding("sos", at=ago(2)), finding("sos", at=ago(1))
    p = plan({ELDER: [a, b]}, existing)
    assert p.opened == [] and p.merged == {9: [a, b]}
    # same key, another elder: that elder's own alert
    assert plan({OTHER: [a]}, existing).merged == {10: [a]}
    # a resolved alert with the key is not open: a new one opens (not episodic)
    resolved = [Row(9, ELDER, "sos", AlertState.RESOLVED, ago(60))]
    assert opened(plan({ELDER: [a]}, resolved)) == [(ELDER, "sos", 1)]


def test_a_re_evaluated_tick_does_not_count() -> None:
    tick = finding("offline:5", repeat_counts=False)
    existing = [Row(9, ELDER, "offline:5", AlertState.NEW, ago(60))]
    assert plan({ELDER: [tick]}, existing) == Plan()
    p = plan({ELDER: [tick, tick]})
    assert opened(p) == [(ELDER, "offline:5", 1)]


def test_a_resolved_episode_never_re_opens() -> None:
    episode = finding("wandering:2026-11-23T01:00:00+00:00", episodic=True)
    closed = [Row(9, ELDER, episode.key, AlertState.RESOLVED, ago(600))]
    assert plan({ELDER: [episode]}, closed) == Plan()
    # another elder's closed episode with the same key does not hold this one back
    assert opened(plan({OTHER: [episode]}, closed)) == [(OTHER, episode.key, 1)]
    # while it is open, an episodic repeat merges like any other
    still_open = [Row(9, ELDER, episode.key, AlertState.HANDLING, ago(600))]
    assert plan({ELDER: [episode]}, still_open).merged == {9: [episode]}


def test_storm_control_holds_back_non_critical_alerts_in_the_window() -> None:
    existing = [Row(10 + i, ELDER, f"trouble:{i}", AlertState.NEW, ago(9)) for i in range(4)]
    fresh = [finding(f"new:{i}") for i in range(3)]
    critical = finding("sos", alert_type=AlertType.SOS, severity=Severity.CRITICAL)
    p = plan({ELDER: [*fresh, critical]}, existing)
    # four in the window + one new = five: the next two are held, noted on the latest open alert
    assert opened(p) == [(ELDER, "new:0", 1), (ELDER, "sos", 1)]
    assert p.suppressed == {13: fresh[1:]}
    # the window is the elder's own: outside ten minutes they do not count
    older = [r._replace(created_at=ago(11)) for r in existing]
    assert len(plan({ELDER: fresh}, older).opened) == 3
    # a wider window for this elder counts them
    wide = rules.Params.layered({"storm_window_minutes": 15, "storm_max_new": 4})
    p = plan({ELDER: fresh}, older, {ELDER: wide})
    assert p.opened == [] and p.suppressed == {13: fresh}


def test_storm_with_nothing_open_drops_the_note() -> None:
    closed = [Row(10 + i, ELDER, f"t:{i}", AlertState.RESOLVED, ago(1)) for i in range(5)]
    assert plan({ELDER: [finding("new")]}, closed) == Plan()


def test_a_restore_closes_self_clearing_alerts_only() -> None:
    existing = [
        Row(9, ELDER, "trouble:5:300:", AlertState.NEW, ago(30)),
        Row(10, ELDER, "tamper:5", AlertState.ACKNOWLEDGED, ago(30)),
        Row(11, ELDER, "smoke", AlertState.NEW, ago(30)),
    ]
    trouble = finding("trouble:5:300:", restore=True)
    tamper = finding("tamper:5", alert_type=AlertType.TAMPER, restore=True)
    smoke = finding("smoke", alert_type=AlertType.SMOKE, severity=Severity.CRITICAL, restore=True)
    p = plan({ELDER: [trouble, tamper, smoke, trouble, smoke]}, existing)
    assert p.restores == [
        Restore(ELDER, trouble, 9, close=True),
        Restore(ELDER, tamper, 10, close=True),
        Restore(ELDER, smoke, 11, close=False),  # an alarm: a person decides it is over
        Restore(ELDER, smoke, 11, close=False),  # every restore of an alarm goes on its trail
    ]  # the second trouble restore: closed already in this batch
    assert p.opened == [] and p.merged == {}


def test_a_restore_with_nothing_open_is_ignored() -> None:
    restore = finding("trouble:5:300:", restore=True)
    assert plan({ELDER: [restore]}) == Plan()
    resolved = [Row(9, ELDER, restore.key, AlertState.RESOLVED, ago(30))]
    assert plan({ELDER: [restore]}, resolved) == Plan()
    # raised in this very batch: the restore does not close the alert being opened
    raised = finding("trouble:5:300:")
    assert opened(plan({ELDER: [raised, restore]})) == [(ELDER, raised.key, 1)]


def test_prompt_elder_findings_ask_first_and_open_nothing() -> None:
    ask = finding("inactivity:x", alert_type=AlertType.INACTIVITY, prompt_elder=True)
    existing = [Row(9, ELDER, "inactivity:x", AlertState.NEW, ago(30))]
    p = plan({ELDER: [ask], OTHER: [ask]}, existing)
    assert p.prompts == [(ELDER, "inactivity:x"), (OTHER, "inactivity:x")]
    assert p.opened == [] and p.merged == {}


def test_each_elder_uses_its_own_parameters() -> None:
    calls: list[int] = []

    def params_of(elder_id: int) -> rules.Params:
        calls.append(elder_id)
        return P

    plan_alerts({ELDER: [finding("a")], OTHER: [finding("b")], 3: []}, [], params_of, NOW)
    assert calls == [ELDER, OTHER]  # once each, and not for an elder with nothing found
