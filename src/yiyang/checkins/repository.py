"""Check-in task queries: every read a person makes starts from ``readable(actor)`` (the
``checkins.tasks`` rule); the pipeline's and the sweeper's reads are named ``system_*``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session, selectinload

from yiyang.alarms.enums import AlertState
from yiyang.alarms.models import Alert
from yiyang.checkins.decide import CHECK_IN_PREFIX, SILENCE_TYPES
from yiyang.checkins.enums import CallOutcome, TaskState
from yiyang.checkins.models import CheckInAttempt, CheckInTask
from yiyang.checkins.permissions import TASKS
from yiyang.core.scoping import Actor, row_rule
from yiyang.registry import repository as elders
from yiyang.registry.models import Elder


def readable(actor: Actor) -> Select[CheckInTask]:
    return select(CheckInTask).where(
        row_rule(TASKS)(actor, CheckInTask.region_path, CheckInTask.elder_id)
    )


def open_tasks(
    session: Session, actor: Actor, limit: int, offset: int = 0
) -> Sequence[CheckInTask]:
    """The actor's open tasks, oldest due first."""
    return session.scalars(
        readable(actor)
        .where(CheckInTask.state == TaskState.OPEN)
        .order_by(CheckInTask.due_at, CheckInTask.id)
        .limit(limit)
        .offset(offset)
    ).all()


def listed(
    session: Session, actor: Actor, state: TaskState | None, limit: int, offset: int
) -> Sequence[CheckInTask]:
    """Tasks in a state (open: oldest due first; the others: latest first)."""
    query = readable(actor)
    if state is not None:
        query = query.where(CheckInTask.state == state)
    if state is TaskState.OPEN:
        query = query.order_by(CheckInTask.due_at, CheckInTask.id)
    else:
        query = query.order_by(CheckInTask.created_at.desc(), CheckInTask.id.desc())
    return session.scalars(query.limit(limit).offset(offset)).all()


def get(session: Session, actor: Actor, task_id: int, *, lock: bool = False) -> CheckInTask | None:
    """One readable task; ``lock``: for a write (waits for a sweeper or worker holding it, and
    reads it as they left it)."""
    query = readable(actor).where(CheckInTask.id == task_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def attempts(session: Session, task_ids: Iterable[int]) -> dict[int, list[CheckInAttempt]]:
    """The calls made for these (already scoped) tasks, in order."""
    ids = list(task_ids)
    out: dict[int, list[CheckInAttempt]] = {i: [] for i in ids}
    if ids:
        rows = session.scalars(
            select(CheckInAttempt)
            .where(CheckInAttempt.task_id.in_(ids))
            .order_by(CheckInAttempt.task_id, CheckInAttempt.id)
        )
        for a in rows:
            out[a.task_id].append(a)
    return out


def elders_of(session: Session, actor: Actor, elder_ids: Iterable[int]) -> dict[int, Elder]:
    """The tasks' elders as the actor may read them (the registry's scope), with their
    emergency contacts."""
    ids = sorted(set(elder_ids))
    if not ids:
        return {}
    rows = session.scalars(
        elders.readable(actor).where(Elder.id.in_(ids)).options(selectinload(Elder.contacts))
    )
    return {e.id: e for e in rows}


def count_columns(actor: Actor, now: dt.datetime) -> tuple[Any, Any]:
    """(open, overdue) tasks the actor may read, as scalar subqueries for a page that gathers
    its figures in one query (the region overview)."""
    scope = row_rule(TASKS)(actor, CheckInTask.region_path, CheckInTask.elder_id)
    base = (
        select(func.count())
        .select_from(CheckInTask)
        .where(scope, CheckInTask.state == TaskState.OPEN)
    )
    return base.scalar_subquery(), base.where(CheckInTask.due_at <= now).scalar_subquery()


def counts(session: Session, actor: Actor, now: dt.datetime) -> tuple[int, int]:
    """(open, overdue) tasks the actor may read: one query."""
    row = session.execute(select(*count_columns(actor, now))).one()
    return int(row[0]), int(row[1])


# -- system reads (the pipeline and the sweeper; no user) -----------------------------------


def system_known_keys(session: Session, pairs: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
    """Of these (elder, key) pairs, those that have a task in any state: an open one takes the
    repeat, a closed one means the quiet was asked about already (the rules' check-in keys are
    episodic: one per quiet)."""
    wanted = sorted(set(pairs))
    found: set[tuple[int, str]] = set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        found.update(
            session.execute(
                select(CheckInTask.elder_id, CheckInTask.dedupe_key)
                .where(CheckInTask.elder_id.in_({e for e, _ in chunk}))
                .where(tuple_(CheckInTask.elder_id, CheckInTask.dedupe_key).in_(chunk))
            ).all()
        )
    return found


def system_open_silence_alarms(session: Session, elder_ids: Iterable[int]) -> set[int]:
    """Of these elders, those with an open operator alarm of a silence-type rule (a check-in
    stored as an info alert before the task model, key ``check_in:…``, is none)."""
    ids = sorted(set(elder_ids))
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Alert.elder_id).where(
                Alert.elder_id.in_(ids),
                Alert.state != AlertState.RESOLVED,
                Alert.alert_type.in_(sorted(SILENCE_TYPES)),
                Alert.dedupe_key.not_like(f"{CHECK_IN_PREFIX}%"),
            )
        )
    )


def system_open_silence_tasks(session: Session, elder_ids: Iterable[int]) -> Sequence[CheckInTask]:
    ids = sorted(set(elder_ids))
    if not ids:
        return []
    return session.scalars(
        select(CheckInTask)
        .where(
            CheckInTask.elder_id.in_(ids),
            CheckInTask.state == TaskState.OPEN,
            CheckInTask.alert_type.in_(sorted(SILENCE_TYPES)),
        )
        .order_by(CheckInTask.id)
        .with_for_update()
    ).all()


def system_due(session: Session, now: dt.datetime, limit: int) -> Sequence[CheckInTask]:
    """Open tasks past their due time, oldest first, locked for this sweeper: rows another
    sweeper holds are skipped (PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite runs one writer at
    a time anyway)."""
    return session.scalars(
        select(CheckInTask)
        .where(CheckInTask.state == TaskState.OPEN, CheckInTask.due_at <= now)
        .order_by(CheckInTask.due_at, CheckInTask.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()


def system_alert_for(session: Session, elder_id: int, key: str) -> int | None:
    """The operator alert an escalation went into: the open one with this key, else the elder's
    latest open alert (storm control noted it there)."""
    found = session.scalar(
        select(Alert.id)
        .where(Alert.elder_id == elder_id, Alert.dedupe_key == key)
        .where(Alert.state != AlertState.RESOLVED)
        .order_by(Alert.id.desc())
        .limit(1)
    )
    if found is None:
        found = session.scalar(
            select(Alert.id)
            .where(Alert.elder_id == elder_id, Alert.state != AlertState.RESOLVED)
            .order_by(Alert.id.desc())
            .limit(1)
        )
    return found


def reached_well(
    session: Session, elder_ids: list[int], now: dt.datetime
) -> dict[int, dt.datetime]:
    """The latest call in the last day that reached each elder and found them well: a sign of
    life the silence rules count (``alarms.repository.register_life_signs``)."""
    rows = session.execute(
        select(CheckInAttempt.elder_id, func.max(CheckInAttempt.at))
        .where(
            CheckInAttempt.elder_id.in_(elder_ids),
            CheckInAttempt.outcome == CallOutcome.REACHED_WELL.value,
            CheckInAttempt.at >= now - dt.timedelta(days=1),
        )
        .group_by(CheckInAttempt.elder_id)
    ).all()
    return {elder_id: at for elder_id, at in rows if at is not None}
