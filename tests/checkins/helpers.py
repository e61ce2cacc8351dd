"""Shared set-up of the check-in tests: elders in and outside the demo community worker's
community, a task made the way the pipeline makes it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.accounts.models import User
from yiyang.alarms import rules
from yiyang.alarms.enums import AlertType, Severity
from yiyang.alarms.repository import ParamsCache
from yiyang.audit.models import AuditEvent
from yiyang.checkins import service
from yiyang.checkins.models import CheckInTask
from yiyang.registry.models import Elder

T0 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
LAST = "2026-11-30T13:10:00+00:00"
REASON = (
    "no activity since 21:10 yesterday (12 h 50 min); on 28 of the last 28 days nothing this "
    "quiet at this hour"
)


def region_of(session: Session, username: str) -> str:
    return str(session.scalar(select(User.region_path).where(User.username == username)))


def elder_in(session: Session, username: str, *, outside: bool = False, nth: int = 0) -> Elder:
    """An elder inside the user's region (or, ``outside``, in another street)."""
    path = region_of(session, username)
    cond = ~Elder.region_path.startswith(path) if outside else Elder.region_path.startswith(path)
    elder = session.scalar(select(Elder).where(cond).order_by(Elder.id).offset(nth).limit(1))
    assert elder is not None
    return elder


def check_in(key: str = f"check_in:{LAST}", at: dt.datetime = T0) -> rules.Finding:
    return rules.Finding(
        AlertType.INACTIVITY,
        Severity.INFO,
        key,
        at,
        {"reason": REASON, "hours": 12.8, "last_activity": LAST, "learned": True},
        repeat_counts=False,
        episodic=True,
        response=rules.Response.CHECK_IN,
        reason=REASON,
    )


def silence_alarm(at: dt.datetime = T0) -> rules.Finding:
    return rules.Finding(
        AlertType.INACTIVITY,
        Severity.WARNING,
        f"inactivity:{LAST}",
        at,
        {"reason": REASON, "last_activity": LAST, "learned": True},
        repeat_counts=False,
        episodic=True,
        reason=REASON,
    )


def make_task(
    session: Session, elder: Elder, at: dt.datetime = T0, key: str | None = None
) -> CheckInTask:
    finding = check_in(key or f"check_in:{LAST}", at)
    (task,) = service.open_tasks(
        session, {elder.id: [finding]}, {elder.id: elder.region_path}, ParamsCache(), at
    )
    return task


def audit_rows(
    session: Session, entity_type: str, entity_id: int, action: str | None = None
) -> int:
    """Audit rows of one row. (A "create" row carries the new id in ``after`` only: the audit
    hook runs before the row's identity is known, so its ``entity_id`` is empty.)"""
    query = select(AuditEvent).where(AuditEvent.entity_type == entity_type)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return sum(
        1
        for a in session.scalars(query)
        if a.entity_id == str(entity_id) or (a.after or {}).get("id") == entity_id
    )
