"""Check-in tasks: made from the rules' ``check_in`` findings (the pipeline calls ``open_tasks``),
taken over by an operator alarm about the same quiet (``supersede``), answered by a community
worker's call (``record_call``), and escalated to an operator alarm when nobody has answered by
the due time or the elder could not be reached (``escalate_due``, run by the pipeline's timer
loop beside the alarms' own escalation).

Services flush, never commit. Every write is audited: the task and each call through the
``Audited`` model hook (who, when, before and after), as the acting user or ``system``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from yiyang.alarms import rules
from yiyang.alarms import service as alarms
from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.models import Alert
from yiyang.alarms.repository import ParamsCache
from yiyang.checkins import decide, repository
from yiyang.checkins.enums import CallOutcome, TaskState
from yiyang.checkins.models import CheckInAttempt, CheckInTask
from yiyang.checkins.permissions import can_handle
from yiyang.checkins.schemas import (
    CheckInAttemptRead,
    CheckInCounts,
    CheckInTaskListItem,
    CheckInTaskRead,
)
from yiyang.core.clock import to_local
from yiyang.core.errors import Conflict, Forbidden, NotFound
from yiyang.core.i18n import gettext as _
from yiyang.core.scoping import Actor
from yiyang.registry.models import Elder
from yiyang.registry.permissions import shown_details
from yiyang.registry.service import shown_contacts

# -- from the pipeline ----------------------------------------------------------------------


def open_tasks(
    session: Session,
    findings: Mapping[int, list[rules.Finding]],
    region_of: Mapping[int, str],
    params: ParamsCache,
    now: dt.datetime,
) -> list[CheckInTask]:
    """A task for each ``check_in`` finding that has none yet (one per elder and key, ever: the
    rules' check-in keys name one quiet each), unless the operators already have an open alarm
    about this elder's quiet. Returns the tasks made."""
    wanted: dict[tuple[int, str], rules.Finding] = {}
    for e, fs in findings.items():
        for f in fs if e in region_of else ():
            wanted.setdefault((e, f.key[:96]), f)  # the first finding of a key in the batch
    if not wanted:
        return []
    known = repository.system_known_keys(session, wanted)
    taken = repository.system_open_silence_alarms(
        session,
        {e for (e, _k), f in wanted.items() if f.alert_type in decide.SILENCE_TYPES},
    )
    made = []
    for (elder_id, key), f in wanted.items():
        if (elder_id, key) in known:
            continue
        if elder_id in taken and f.alert_type in decide.SILENCE_TYPES:
            continue
        region = region_of[elder_id]
        p = params.for_elder(elder_id, region)
        made.append(
            CheckInTask(
                elder_id=elder_id,
                region_path=region,
                alert_type=f.alert_type.value,
                reason=f.reason or str(f.detail.get("reason", "")),
                detail=f.detail,
                dedupe_key=key,
                created_at=now,
                due_at=decide.due_at(now, p),
                state=TaskState.OPEN,
            )
        )
    if made:
        session.add_all(made)
        session.flush()
    return made


def supersede(session: Session, alerts: Sequence[Alert], now: dt.datetime) -> int:
    """Operator alarms just raised take over their elders' open check-in tasks about the same
    quiet (silence-type rules): each such task closes as superseded, linked to the alarm."""
    by_elder: dict[int, Alert] = {}
    for a in alerts:
        if a.alert_type in decide.SILENCE_TYPES and a.elder_id not in by_elder:
            by_elder[a.elder_id] = a
    if not by_elder:
        return 0
    done = 0
    for task in repository.system_open_silence_tasks(session, by_elder):
        alarm = by_elder[task.elder_id]
        if not decide.supersedes(alarm.alert_type, task.alert_type):
            continue
        task.state, task.alert_id, task.closed_at = TaskState.SUPERSEDED, alarm.id, now
        done += 1
    if done:
        session.flush()
    return done


# -- people ---------------------------------------------------------------------------------


def list_tasks(
    session: Session,
    actor: Actor,
    now: dt.datetime,
    state: TaskState | None = TaskState.OPEN,
    limit: int = 100,
    offset: int = 0,
) -> list[CheckInTaskListItem]:
    """The actor's tasks (open ones oldest due first), each with the elder's name and the
    phones to call as the actor may see them."""
    tasks = repository.listed(session, actor, state, limit, offset)
    people = repository.elders_of(session, actor, {t.elder_id for t in tasks})
    return [_item(actor, t, people.get(t.elder_id), now) for t in tasks]


def read_task(session: Session, actor: Actor, task_id: int, now: dt.datetime) -> CheckInTaskRead:
    task = get_task(session, actor, task_id)
    return _read(session, actor, task, now)


def counts(session: Session, actor: Actor, now: dt.datetime) -> CheckInCounts:
    """Open and overdue tasks in the actor's region (the region overview's figure)."""
    open_, overdue = repository.counts(session, actor, now)
    return CheckInCounts(open=open_, overdue=overdue)


def _read(session: Session, actor: Actor, task: CheckInTask, now: dt.datetime) -> CheckInTaskRead:
    people = repository.elders_of(session, actor, {task.elder_id})
    item = _item(actor, task, people.get(task.elder_id), now)
    calls = repository.attempts(session, [task.id])[task.id]
    return CheckInTaskRead(
        **item.model_dump(exclude={"contacts"}),
        contacts=item.contacts,
        detail=task.detail,
        attempts=[CheckInAttemptRead.model_validate(a) for a in calls],
    )


def _item(
    actor: Actor, task: CheckInTask, elder: Elder | None, now: dt.datetime
) -> CheckInTaskListItem:
    shown = shown_details(actor, elder) if elder is not None else None
    return CheckInTaskListItem(
        id=task.id,
        elder_id=task.elder_id,
        elder_name=elder.name if elder is not None else "",
        alert_type=task.alert_type,
        reason=task.reason,
        created_at=task.created_at,
        due_at=task.due_at,
        overdue=decide.overdue(task.state, task.due_at, now),
        state=TaskState(task.state),
        outcome=CallOutcome(task.outcome) if task.outcome else None,
        outcome_note=task.outcome_note,
        outcome_by_name=task.outcome_by_name,
        outcome_at=task.outcome_at,
        closed_at=task.closed_at,
        alert_id=task.alert_id,
        mobile_phone=shown.mobile_phone if shown else None,
        home_phone=shown.home_phone if shown else None,
        contacts=(
            shown_contacts(actor, elder, contact_phones=shown.contact_phones)
            if elder is not None and shown is not None
            else []
        ),
        can_record=task.state == TaskState.OPEN and can_handle(actor, task.region_path),
        version=task.version,
    )


def get_task(session: Session, actor: Actor, task_id: int, *, lock: bool = False) -> CheckInTask:
    task = repository.get(session, actor, task_id, lock=lock)
    if task is None:
        raise NotFound(_("Check-in task not found."))
    return task


def record_call_read(
    session: Session,
    actor: Actor,
    task_id: int,
    outcome: CallOutcome,
    note: str | None,
    now: dt.datetime,
) -> CheckInTaskRead:
    """``record_call``, then the task as the actor sees it."""
    task = record_call(session, actor, task_id, outcome, note, now)
    return _read(session, actor, task, now)


def record_call(
    session: Session,
    actor: Actor,
    task_id: int,
    outcome: CallOutcome,
    note: str | None,
    now: dt.datetime,
    params: ParamsCache | None = None,
) -> CheckInTask:
    """A community worker's call and its outcome (``decide.after_call``): kept as an attempt
    (append-only); reached and well closes the task, reached and in need of help opens an
    operator alarm now with the worker's note, unreachable brings the alarm forward."""
    task = get_task(session, actor, task_id, lock=True)
    if not can_handle(actor, task.region_path):
        raise Forbidden(_("You may read check-in tasks but not record calls."))
    if task.state != TaskState.OPEN:
        raise Conflict(
            _("This check-in is closed already; reload the page to see what happened to it.")
        )
    note = (note or "").strip() or None
    session.add(
        CheckInAttempt(
            task_id=task.id,
            elder_id=task.elder_id,
            region_path=task.region_path,
            at=now,
            outcome=outcome.value,
            note=note,
            by_id=actor.user_id,
            by_name=actor.display_name[:64],
        )
    )
    cache = params or ParamsCache()
    cache.refresh(session)
    step = decide.after_call(
        task.due_at, outcome, now, cache.for_elder(task.elder_id, task.region_path)
    )
    task.outcome, task.outcome_note = outcome.value, note
    task.outcome_by, task.outcome_by_name, task.outcome_at = (
        actor.user_id,
        actor.display_name[:64],
        now,
    )
    task.due_at = step.due_at
    if step.alarm:
        reason = _(
            "reached by phone and needs help: %(note)s (%(by)s, check-in: %(reason)s)",
            note=note or "—",
            by=actor.display_name,
            reason=task.reason,
        )
        _escalate(session, task, reason, cache, now)
    elif step.state is not TaskState.OPEN:
        task.state, task.closed_at = step.state, now
    session.flush()
    return task


# -- the timer loop -------------------------------------------------------------------------


def escalate_due(session: Session, params: ParamsCache, now: dt.datetime, limit: int = 200) -> int:
    """Open tasks past their due time become operator alarms: unanswered, or after a call that
    did not reach the elder. The rows are locked for this run (``FOR UPDATE SKIP LOCKED``), so
    two loops never escalate one task twice; a run whose commit fails leaves the tasks open and
    the next run does it again."""
    params.refresh(session)
    due = repository.system_due(session, now, limit)
    for task in due:
        if task.outcome == CallOutcome.UNREACHABLE:
            at = task.outcome_at or now
            reason = _(
                "could not be reached by phone at %(at)s; check-in: %(reason)s",
                at=to_local(at).strftime("%H:%M"),
                reason=task.reason,
            )
        else:
            minutes = int((task.due_at - task.created_at).total_seconds() // 60)
            reason = _(
                "check-in not answered within %(minutes)s min: %(reason)s",
                minutes=minutes,
                reason=task.reason,
            )
        _escalate(session, task, reason, params, now)
    return len(due)


def _escalate(
    session: Session, task: CheckInTask, reason: str, params: ParamsCache, now: dt.datetime
) -> None:
    """Close the task as escalated and open (or join) the operator alarm for it, linked both
    ways (the alarm's detail names the task). The alarm's key is the one the rule's own alarm
    for the same quiet has (``decide.alarm_key``), so that one merges into it later."""
    key = decide.alarm_key(task.dedupe_key, task.alert_type)
    detail: dict[str, Any] = {
        **task.detail,
        "reason": reason,
        "check_in_task": task.id,
        "check_in_outcome": task.outcome,
    }
    if task.outcome_note:
        detail["check_in_note"] = task.outcome_note
    finding = rules.Finding(
        AlertType(task.alert_type),
        Severity.WARNING,
        key,
        now,
        detail,
        repeat_counts=False,
        reason=reason,
    )
    task.state, task.closed_at = TaskState.ESCALATED, now
    session.flush()
    created = alarms.apply_findings(
        session, {task.elder_id: [finding]}, {task.elder_id: task.region_path}, params, now
    )
    task.alert_id = (
        created[0].id if created else repository.system_alert_for(session, task.elder_id, key)
    )
    session.flush()
    if created:
        supersede(session, created, now)
