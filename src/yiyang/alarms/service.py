"""Alerts: raising and merging them from rule findings, the lifecycle (acknowledge → handling →
dispatched → resolved), escalation rungs. Every transition writes the alert's trail and, through
the ``Audited`` hook or ``audit.record``, the audit log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from yiyang.alarms import notices as notify
from yiyang.alarms import plan, rules
from yiyang.alarms.enums import (
    SEVERITY_RANK,
    TRANSITIONS,
    AlertState,
    AlertType,
    Outcome,
    Severity,
)
from yiyang.alarms.models import Alert, AlertEvent
from yiyang.alarms.repository import ParamsCache
from yiyang.core import audit, events
from yiyang.core.errors import Conflict, NotFound, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.scoping import Actor
from yiyang.registry import repository as elders
from yiyang.registry.models import Elder


@dataclass(frozen=True, slots=True)
class ElderRef:
    region_path: str


def _event(
    alert_id: int,
    action: str,
    *,
    at: dt.datetime,
    frm: str | None = None,
    to: str | None = None,
    actor: audit.AuditActor | None = None,
    note: str | None = None,
    data: dict | None = None,
) -> dict:
    actor = actor or audit.current_actor()
    return {
        "alert_id": alert_id,
        "at": at,
        "action": action,
        "from_state": frm,
        "to_state": to,
        "actor_id": actor.user_id,
        "actor_name": actor.shown_name,
        "note": note,
        "data": data or {},
    }


def add_trail(
    session: Session,
    alert: Alert,
    action: str,
    *,
    at: dt.datetime,
    note: str | None = None,
    data: dict | None = None,
) -> None:
    """One line on the alert's trail for something a person did with it (a call, a dispatch),
    and the announcement that the alert changed."""
    session.add(AlertEvent(**_event(alert.id, action, at=at, note=note, data=data)))
    events.emit(
        session,
        "alert.changed",
        {"alert_id": alert.id, "state": str(alert.state), "elder_id": alert.elder_id},
    )


def apply_findings(
    session: Session,
    findings: dict[int, list[rules.Finding]],
    region_of: dict[int, str],
    params: ParamsCache,
    now: dt.datetime,
) -> list[Alert]:
    """Open new alerts or merge into open ones: read the elders' alerts, decide
    (``plan.plan_alerts``, pure), write. Returns the alerts created."""
    findings = {e: fs for e, fs in findings.items() if fs}
    if not findings:
        return []

    def params_of(elder_id: int) -> rules.Params:
        return params.for_elder(elder_id, region_of[elder_id])

    episodic = plan.episodic_keys(findings)
    window = plan.storm_window_start(findings, params_of, now)
    rows = session.execute(
        select(Alert.id, Alert.elder_id, Alert.dedupe_key, Alert.state, Alert.created_at).where(
            Alert.elder_id.in_(list(findings)),
            or_(
                Alert.state != AlertState.RESOLVED,
                Alert.created_at >= window,
                Alert.dedupe_key.in_(episodic) if episodic else Alert.id < 0,
            ),
        )
    ).all()
    decided = plan.plan_alerts(findings, rows, params_of, now)
    created = _open(session, decided.opened, region_of, now)
    _merge(session, decided.merged)
    trail = _trail(decided, created, now)
    trail += _restored(session, decided.restores, now)
    if trail:
        session.execute(insert(AlertEvent.__table__), trail)  # type: ignore[arg-type]
    if decided.prompts:
        _prompt(session, decided.prompts)
    if created:
        _announce(session, created)
    return created


def _open(
    session: Session, opened: list[plan.Opening], region_of: dict[int, str], now: dt.datetime
) -> list[Alert]:
    created = [
        Alert(
            elder_id=o.elder_id,
            region_path=region_of[o.elder_id],
            device_id=o.finding.device_id,
            alert_type=o.finding.alert_type.value,
            severity=o.finding.severity.value,
            state=AlertState.NEW,
            dedupe_key=o.finding.key,
            detail=o.finding.detail,
            count=o.count,
            first_at=o.finding.at,
            last_at=o.last_at,
            created_at=now,
            escalation_step=0,
            next_escalation_at=o.next_escalation_at,
        )
        for o in opened
    ]
    if created:
        session.add_all(created)
        session.flush()
    return created


def _merge(session: Session, merged: dict[int, list[rules.Finding]]) -> None:
    """Repeats bump the open alert's count and last time."""
    for alert_id, fs in merged.items():
        session.execute(
            update(Alert)
            .where(Alert.id == alert_id)
            .values(count=Alert.count + len(fs), last_at=max(f.at for f in fs))
            .execution_options(synchronize_session=False)
        )


def _trail(decided: plan.Plan, created: list[Alert], now: dt.datetime) -> list[dict[str, Any]]:
    """Trail lines for the alerts created, merged into, and the findings storm control held."""
    trail = [
        _event(
            a.id,
            "created",
            at=now,
            to=AlertState.NEW,
            data={"count": a.count, "severity": a.severity, "detail": a.detail},
        )
        for a in created
    ]
    for alert_id, fs in decided.merged.items():
        last = max(f.at for f in fs)
        trail.append(
            _event(
                alert_id, "repeated", at=now, data={"times": len(fs), "last_at": last.isoformat()}
            )
        )
    for alert_id, fs in decided.suppressed.items():
        trail.append(
            _event(
                alert_id,
                "suppressed",
                at=now,
                data={"storm": [{"type": f.alert_type.value, "key": f.key} for f in fs]},
            )
        )
    return trail


def _prompt(session: Session, prompts: list[tuple[int, str]]) -> None:
    phones = {
        r.id: r.mobile_phone
        for r in elders.system_rows(session, [e for e, _ in prompts], Elder.mobile_phone)
    }
    for elder_id, key in prompts:
        notify.prompt_elder(session, elder_id, phones.get(elder_id), key)


def _announce(session: Session, created: list[Alert]) -> None:
    names = _elder_names(session, {a.elder_id for a in created})
    for a in created:
        name, address = names.get(a.elder_id, ("", ""))
        notify.enqueue(session, a, "webhook", 0, elder_name=name, address=address)
        events.emit(
            session,
            "alert.created",
            {
                "alert_id": a.id,
                "elder_id": a.elder_id,
                "severity": a.severity,
                "type": a.alert_type,
                "first_at": a.first_at.timestamp(),
            },
        )


def _restored(
    session: Session, restores: list[plan.Restore], now: dt.datetime
) -> list[dict[str, Any]]:
    """A device reports a condition over. A trouble or tamper alert closes as recovered; an
    alarm (SOS, fire, gas) only notes it on the trail: a person still decides it is over."""
    trail: list[dict[str, Any]] = []
    for r in restores:
        note = {"code": r.finding.detail.get("code"), "label": r.finding.detail.get("label")}
        if r.close:
            alert = session.get(Alert, r.alert_id)
            if alert is None or alert.state == AlertState.RESOLVED:
                continue
            frm = alert.state
            alert.state, alert.outcome, alert.resolved_at = (
                AlertState.RESOLVED,
                Outcome.RECOVERED,
                now,
            )
            alert.next_escalation_at = None
            alert.resolution_note = "device reported the condition restored"
            trail.append(
                _event(
                    r.alert_id,
                    "resolved",
                    at=now,
                    frm=frm,
                    to=AlertState.RESOLVED,
                    note=alert.resolution_note,
                    data=note,
                )
            )
        else:
            trail.append(_event(r.alert_id, "restored", at=now, data=note))
        events.emit(session, "alert.changed", {"alert_id": r.alert_id, "elder_id": r.elder_id})
    return trail


def _elder_names(session: Session, elder_ids: set[int]) -> dict[int, tuple[str, str]]:
    rows = elders.system_rows(session, list(elder_ids), Elder.name, Elder.address)
    return {r.id: (r.name, r.address) for r in rows}


def resolve_recovered(session: Session, device_ids: list[int], now: dt.datetime) -> int:
    """Devices heard from again: their open "offline" alerts close as recovered."""
    if not device_ids:
        return 0
    alerts = session.scalars(
        select(Alert).where(
            Alert.alert_type == AlertType.DEVICE_OFFLINE,
            Alert.state != AlertState.RESOLVED,
            Alert.device_id.in_(device_ids),
        )
    ).all()
    for a in alerts:
        frm = a.state
        a.state, a.outcome, a.resolved_at = AlertState.RESOLVED, Outcome.RECOVERED, now
        a.next_escalation_at = None
        a.resolution_note = "device reported again"
        session.add(
            AlertEvent(
                **_event(
                    a.id,
                    "resolved",
                    at=now,
                    frm=frm,
                    to=AlertState.RESOLVED,
                    note=a.resolution_note,
                )
            )
        )
    return len(alerts)


# -- people acting on alerts --------------------------------------------------------------


def transition(
    session: Session,
    actor: Actor,
    alert: Alert,
    to: AlertState,
    *,
    outcome: Outcome | None = None,
    note: str | None = None,
    version: int | None = None,
    now: dt.datetime,
) -> Alert:
    if version is not None and version != alert.version:
        raise Conflict(_("This alert was changed by someone else; reload it and try again."))
    frm = AlertState(alert.state)
    if to not in TRANSITIONS[frm]:
        raise ValidationFailed(
            _("An alert that is {current} cannot become {target}.").format(current=frm, target=to),
            field="state",
        )
    if to is AlertState.RESOLVED and outcome is None:
        raise ValidationFailed(_("Choose an outcome to resolve the alert."), field="outcome")
    alert.state = to
    alert.next_escalation_at = None  # a person has it: the ladder stops
    if to is AlertState.ACKNOWLEDGED:
        alert.acknowledged_at, alert.acknowledged_by = now, actor.user_id
    elif to is AlertState.HANDLING:
        alert.handling_at = now
    elif to is AlertState.DISPATCHED:
        alert.dispatched_at = now
    elif to is AlertState.RESOLVED:
        alert.resolved_at, alert.resolved_by = now, actor.user_id
        alert.outcome, alert.resolution_note = outcome, note
        if alert.acknowledged_at is None:
            alert.acknowledged_at, alert.acknowledged_by = now, actor.user_id
    session.add(
        AlertEvent(
            **_event(
                alert.id,
                to.value,
                at=now,
                frm=frm,
                to=to,
                note=note,
                data={"outcome": outcome.value} if outcome else {},
            )
        )
    )
    session.flush()
    events.emit(
        session,
        "alert.changed",
        {"alert_id": alert.id, "state": to.value, "elder_id": alert.elder_id},
    )
    return alert


def get_alert(session: Session, actor: Actor, alert_id: int) -> Alert:
    from yiyang.alarms.repository import readable_alerts

    alert = session.scalar(readable_alerts(actor).where(Alert.id == alert_id))
    if alert is None:
        raise NotFound(_("Alert not found."))
    return alert


# -- escalation ----------------------------------------------------------------------------


def escalate_due(session: Session, params: ParamsCache, now: dt.datetime, limit: int = 200) -> int:
    """Run the next rung for every unacknowledged alert whose timer has passed. The timers are
    columns, so they survive restarts; a conditional update makes each rung run once even with
    several processes doing this."""
    params.refresh(session)
    due = session.scalars(
        select(Alert)
        .where(Alert.next_escalation_at <= now, Alert.state == AlertState.NEW)
        .order_by(Alert.next_escalation_at)
        .limit(limit)
    ).all()
    done = 0
    names = _elder_names(session, {a.elder_id for a in due}) if due else {}
    for a in due:
        p = params.for_elder(a.elder_id, a.region_path)
        rung = rules.escalation_due(a.created_at, a.severity, a.escalation_step, p)
        following = rules.escalation_due(a.created_at, a.severity, a.escalation_step + 1, p)
        claimed = session.execute(
            update(Alert)
            .where(
                Alert.id == a.id,
                Alert.state == AlertState.NEW,
                Alert.escalation_step == a.escalation_step,
            )
            .values(
                escalation_step=a.escalation_step + 1,
                next_escalation_at=following[1] if following else None,
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1 or rung is None:  # type: ignore[attr-defined]
            continue
        audience = rung[0]
        name, address = names.get(a.elder_id, ("", ""))
        sent = notify.enqueue(
            session, a, audience, a.escalation_step + 1, elder_name=name, address=address
        )
        notify.enqueue(
            session, a, "webhook", a.escalation_step + 1, elder_name=name, address=address
        )
        session.add(
            AlertEvent(
                **_event(
                    a.id,
                    "escalated",
                    at=now,
                    data={
                        "step": a.escalation_step + 1,
                        "audience": audience,
                        "recipients": [f"{r.label} ({r.channel})" for r in sent],
                    },
                )
            )
        )
        audit.record(
            session,
            "escalate",
            "alert",
            str(a.id),
            elder_id=a.elder_id,
            region_path=a.region_path,
            summary=f"step {a.escalation_step + 1}: {audience}",
        )
        events.emit(
            session,
            "alert.escalated",
            {"alert_id": a.id, "elder_id": a.elder_id, "step": a.escalation_step + 1},
        )
        done += 1
    return done


def severity_order(severity: str) -> int:
    return SEVERITY_RANK.get(Severity(severity), 9)
