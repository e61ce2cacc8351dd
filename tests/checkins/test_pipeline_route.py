"""The pipeline's graded response: the rule worker turns a ``check_in`` finding into a check-in
task (no info alert any more), one per quiet, and an operator alarm about the same elder's quiet
takes the open task over (superseded, linked to the alarm)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.checkins.helpers import (
    LAST,
    REASON,
    T0,
    audit_rows,
    check_in,
    elder_in,
    silence_alarm,
)
from yiyang.alarms import engine
from yiyang.alarms.models import Alert
from yiyang.checkins.enums import TaskState
from yiyang.checkins.models import CheckInTask
from yiyang.pipeline.messages import Tick
from yiyang.pipeline.worker import RuleWorker

pytestmark = pytest.mark.api


def tick(worker: RuleWorker, session, monkeypatch, elder_id: int, at: dt.datetime, found) -> None:  # type: ignore[no-untyped-def]
    """One sweeper tick through the real worker, the rules answering ``found``."""
    monkeypatch.setattr(engine, "handle_tick", lambda *a, **k: list(found))
    worker._process_in(session, [Tick(elder_id, at.timestamp())], at)
    session.flush()


def tasks_of(session, elder_id: int) -> list[CheckInTask]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(CheckInTask).where(CheckInTask.elder_id == elder_id)))


def alerts_of(session, elder_id: int) -> list[Alert]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(Alert).where(Alert.elder_id == elder_id).order_by(Alert.id)))


def test_a_check_in_finding_becomes_one_task_not_an_alert(session, monkeypatch) -> None:
    elder = elder_in(session, "community")
    before = len(alerts_of(session, elder.id))
    worker = RuleWorker(clock=lambda: T0)
    tick(worker, session, monkeypatch, elder.id, T0, [check_in()])
    # re-evaluated on the next ticks: still one task
    for minutes in (5, 10):
        at = T0 + dt.timedelta(minutes=minutes)
        tick(worker, session, monkeypatch, elder.id, at, [check_in(at=at)])
    (task,) = tasks_of(session, elder.id)
    assert len(alerts_of(session, elder.id)) == before  # no info alert
    assert task.state == TaskState.OPEN
    assert (task.reason, task.alert_type, task.dedupe_key) == (
        REASON,
        "inactivity",
        f"check_in:{LAST}",
    )
    assert task.region_path == elder.region_path
    assert task.due_at == T0 + dt.timedelta(minutes=60)
    assert task.detail["last_activity"] == LAST
    assert audit_rows(session, "check_in_task", task.id, "create") == 1


def test_the_silence_alarm_supersedes_the_open_task(session, monkeypatch) -> None:
    elder = elder_in(session, "community")
    worker = RuleWorker(clock=lambda: T0)
    tick(worker, session, monkeypatch, elder.id, T0, [check_in()])
    later = T0 + dt.timedelta(minutes=30)
    tick(worker, session, monkeypatch, elder.id, later, [check_in(at=later), silence_alarm(later)])
    (task,) = tasks_of(session, elder.id)
    alarm = alerts_of(session, elder.id)[-1]
    assert (alarm.alert_type, alarm.dedupe_key, alarm.severity) == (
        "inactivity",
        f"inactivity:{LAST}",
        "warning",
    )
    assert task.state == TaskState.SUPERSEDED
    assert task.alert_id == alarm.id and task.closed_at == later
    assert audit_rows(session, "check_in_task", task.id, "update") == 1
    # the quiet goes on: no new task while the alarm is there, nor for the same quiet later
    again = later + dt.timedelta(minutes=5)
    tick(worker, session, monkeypatch, elder.id, again, [check_in(at=again), silence_alarm(again)])
    assert len(tasks_of(session, elder.id)) == 1


def test_no_task_while_the_operators_have_the_elders_quiet(session, monkeypatch) -> None:
    elder = elder_in(session, "community")
    worker = RuleWorker(clock=lambda: T0)
    tick(worker, session, monkeypatch, elder.id, T0, [silence_alarm()])
    routine = check_in("check_in:routine:2026-12-01")
    tick(worker, session, monkeypatch, elder.id, T0 + dt.timedelta(minutes=5), [routine])
    assert tasks_of(session, elder.id) == []


def test_an_alarm_that_is_no_silence_leaves_the_task_open(session, monkeypatch) -> None:
    from yiyang.alarms import rules
    from yiyang.alarms.enums import AlertType, Severity

    elder = elder_in(session, "community")
    worker = RuleWorker(clock=lambda: T0)
    tick(worker, session, monkeypatch, elder.id, T0, [check_in()])
    offline = rules.Finding(AlertType.DEVICE_OFFLINE, Severity.WARNING, "offline:1", T0)
    tick(worker, session, monkeypatch, elder.id, T0 + dt.timedelta(minutes=1), [offline])
    (task,) = tasks_of(session, elder.id)
    assert task.state == TaskState.OPEN
