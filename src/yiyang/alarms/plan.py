"""What a batch of rule findings does to the alerts: the pure decision ``apply_findings`` makes
between reading the elders' open and recent alerts and writing rows.

No I/O: given the findings per elder, the alerts already read (plain rows) and each elder's
parameters, ``plan_alerts`` decides

- which alerts to open (a repeat of the same key in the batch bumps the new alert's count),
- which open alerts a repeat merges into (the count goes up; a re-evaluated tick,
  ``repeat_counts=False``, does not count),
- which episodes stay closed (an ``episodic`` key raised and resolved before never re-opens),
- which findings storm control holds back (noted on the elder's latest open alert instead),
- which restores close their alert (self-clearing types: trouble, tamper) or only go on its
  trail (an alarm: a person decides it is over), and which are ignored (nothing open),
- which elders are asked to check in first (``prompt_elder``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from yiyang.alarms import rules
from yiyang.alarms.enums import SELF_CLEARING, AlertState


class AlertRow(Protocol):
    """An alert as read for planning (a row of ``select(Alert.id, …)``)."""

    @property
    def id(self) -> int: ...
    @property
    def elder_id(self) -> int: ...
    @property
    def dedupe_key(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def created_at(self) -> dt.datetime: ...


@dataclass(slots=True)
class Opening:
    """A new alert to add: the finding that opened it, and the repeats in the same batch."""

    elder_id: int
    finding: rules.Finding
    count: int
    last_at: dt.datetime
    next_escalation_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Restore:
    """A device reported the condition of an open alert over."""

    elder_id: int
    finding: rules.Finding
    alert_id: int
    close: bool  # self-clearing: resolve as recovered; otherwise only a line on the trail


@dataclass(slots=True)
class Plan:
    opened: list[Opening] = field(default_factory=list)
    merged: dict[int, list[rules.Finding]] = field(default_factory=dict)  # alert id → repeats
    suppressed: dict[int, list[rules.Finding]] = field(default_factory=dict)  # alert id → held
    restores: list[Restore] = field(default_factory=list)
    prompts: list[tuple[int, str]] = field(default_factory=list)  # (elder id, finding key)


@dataclass(slots=True)
class _Known:
    """The alerts read, indexed for the decisions."""

    open: dict[tuple[int, str], int] = field(default_factory=dict)  # (elder, key) → alert id
    seen: set[tuple[int, str]] = field(default_factory=set)  # every (elder, key) read
    recent: dict[int, list[dt.datetime]] = field(default_factory=dict)  # created in the window
    latest_open: dict[int, int] = field(default_factory=dict)  # elder → newest open alert id
    closed: set[int] = field(default_factory=set)  # closed by a restore in this batch


def storm_window_start(
    elder_ids: Iterable[int], params_of: Callable[[int], rules.Params], now: dt.datetime
) -> dt.datetime:
    """How far back the alerts for storm control must be read (the widest elder's window)."""
    return now - dt.timedelta(minutes=max(params_of(e).storm_window_minutes for e in elder_ids))


def episodic_keys(findings: Mapping[int, list[rules.Finding]]) -> set[str]:
    """Keys whose resolved alerts must be read too: an episode never re-opens."""
    return {f.key for fs in findings.values() for f in fs if f.episodic}


def plan_alerts(
    findings: Mapping[int, list[rules.Finding]],
    existing: Iterable[AlertRow],
    params_of: Callable[[int], rules.Params],
    now: dt.datetime,
) -> Plan:
    """Decide what the findings do, given the alerts already there (every alert of these
    elders that is open, created within the storm window, or has one of the episodic keys)."""
    params = {e: params_of(e) for e, fs in findings.items() if fs}
    plan = Plan()
    if not params:
        return plan
    known = _index(existing, storm_window_start(params, params.__getitem__, now))
    for elder_id, p in params.items():
        pending: dict[str, Opening] = {}
        for f in findings[elder_id]:
            _decide(plan, known, pending, elder_id, f, p, now)
    return plan


def _index(existing: Iterable[AlertRow], window: dt.datetime) -> _Known:
    known = _Known()
    for r in existing:
        known.seen.add((r.elder_id, r.dedupe_key))
        if r.state != AlertState.RESOLVED:
            known.open[(r.elder_id, r.dedupe_key)] = r.id
            known.latest_open[r.elder_id] = max(known.latest_open.get(r.elder_id, 0), r.id)
        if r.created_at >= window:
            known.recent.setdefault(r.elder_id, []).append(r.created_at)
    return known


def _decide(
    plan: Plan,
    known: _Known,
    pending: dict[str, Opening],
    elder_id: int,
    f: rules.Finding,
    p: rules.Params,
    now: dt.datetime,
) -> None:
    """One finding, in the batch's order."""
    if f.prompt_elder:
        plan.prompts.append((elder_id, f.key))
        return
    if f.restore:
        _restore(plan, known, elder_id, f)
        return
    opening = pending.get(f.key)
    if opening is not None:  # the same thing twice in this batch
        if f.repeat_counts:
            opening.count += 1
            opening.last_at = max(opening.last_at, f.at)
        return
    alert_id = known.open.get((elder_id, f.key))
    if alert_id is not None:
        if f.repeat_counts:
            plan.merged.setdefault(alert_id, []).append(f)
        return
    if f.episodic and (elder_id, f.key) in known.seen:
        return  # that episode was raised and closed already
    recent = known.recent.setdefault(elder_id, [])
    if rules.throttled(recent, now, f.severity, p):
        latest = known.latest_open.get(elder_id)
        if latest is not None:
            plan.suppressed.setdefault(latest, []).append(f)
        return
    first = rules.escalation_due(now, f.severity.value, 0, p)
    opening = Opening(elder_id, f, 1, f.at, first[1] if first else None)
    plan.opened.append(opening)
    pending[f.key] = opening
    recent.append(now)


def _restore(plan: Plan, known: _Known, elder_id: int, f: rules.Finding) -> None:
    alert_id = known.open.get((elder_id, f.key))
    if alert_id is None:
        return  # nothing open for it (already closed, or the alarm was never raised)
    close = f.alert_type in SELF_CLEARING
    if close:
        if alert_id in known.closed:
            return  # a second restore in the batch: closed already
        known.closed.add(alert_id)
    plan.restores.append(Restore(elder_id, f, alert_id, close))
