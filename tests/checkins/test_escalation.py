"""Escalation of check-in tasks by the timer loop: unanswered by the due time, or after a call
that did not reach the elder, a task becomes an operator alarm once — also when the run is
repeated, and when a first run's commit failed. A rule's own alarm for the same quiet merges into
the escalated one."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.checkins.helpers import LAST, T0, audit_rows, elder_in, make_task, silence_alarm
from yiyang.alarms import service as alarms
from yiyang.alarms.models import Alert
from yiyang.alarms.repository import ParamsCache
from yiyang.checkins import service
from yiyang.checkins.enums import CallOutcome, TaskState
from yiyang.core.scoping import Actor

pytestmark = pytest.mark.api
MIN = dt.timedelta(minutes=1)


def alarms_of(session, elder_id: int) -> list[Alert]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.elder_id == elder_id, Alert.created_at >= T0)
            .order_by(Alert.id)
        )
    )


def worker_actor(session) -> Actor:  # type: ignore[no-untyped-def]
    from yiyang.accounts.models import User
    from yiyang.core.roles import Role

    user = session.scalar(select(User).where(User.username == "community"))
    return Actor(
        user.id, user.username, user.display_name, Role(user.role), user.region_id, user.region_path
    )


def test_an_unanswered_task_escalates_at_its_due_time_once(session) -> None:
    elder = elder_in(session, "community")
    task = make_task(session, elder)
    params = ParamsCache()
    service.escalate_due(session, params, task.due_at - MIN)
    assert task.state == TaskState.OPEN and alarms_of(session, elder.id) == []
    service.escalate_due(session, params, task.due_at)
    assert task.state == TaskState.ESCALATED and task.closed_at == task.due_at
    (alarm,) = alarms_of(session, elder.id)
    assert task.alert_id == alarm.id
    assert (alarm.alert_type, alarm.severity, alarm.dedupe_key) == (
        "inactivity",
        "warning",
        f"inactivity:{LAST}",
    )
    assert "not answered within 60 min" in alarm.detail["reason"]
    assert alarm.detail["check_in_task"] == task.id
    assert audit_rows(session, "check_in_task", task.id, "update") >= 1
    # the loop again, and again later: nothing more
    service.escalate_due(session, params, task.due_at)
    service.escalate_due(session, params, task.due_at + 10 * MIN)
    assert len(alarms_of(session, elder.id)) == 1
    # the rule's own alarm for the same quiet merges into the escalated one
    later = task.due_at + 60 * MIN
    alarms.apply_findings(
        session, {elder.id: [silence_alarm(later)]}, {elder.id: elder.region_path}, params, later
    )
    assert len(alarms_of(session, elder.id)) == 1


def test_a_run_whose_commit_failed_is_done_again_by_the_next(session) -> None:
    elder = elder_in(session, "community")
    task = make_task(session, elder)
    params = ParamsCache()
    session.flush()
    failed = session.begin_nested()
    service.escalate_due(session, params, task.due_at)
    failed.rollback()  # the commit of that run failed: nothing of it stands
    session.expire_all()
    assert session.get(type(task), task.id).state == TaskState.OPEN
    assert alarms_of(session, elder.id) == []
    service.escalate_due(session, params, task.due_at + MIN)
    service.escalate_due(session, params, task.due_at + 2 * MIN)
    assert session.get(type(task), task.id).state == TaskState.ESCALATED
    assert len(alarms_of(session, elder.id)) == 1


def test_unreachable_escalates_after_the_shorter_grace(session) -> None:
    elder = elder_in(session, "community")
    task = make_task(session, elder)
    params = ParamsCache()
    call = T0 + 5 * MIN
    service.record_call(
        session,
        worker_actor(session),
        task.id,
        CallOutcome.UNREACHABLE,
        "rang 8 times",
        call,
        params,
    )
    assert task.state == TaskState.OPEN and task.due_at == call + 20 * MIN
    service.escalate_due(session, params, call + 19 * MIN)
    assert task.state == TaskState.OPEN
    service.escalate_due(session, params, call + 20 * MIN)
    assert task.state == TaskState.ESCALATED
    (alarm,) = alarms_of(session, elder.id)
    assert "could not be reached by phone" in alarm.detail["reason"]
    assert alarm.detail["check_in_note"] == "rang 8 times"


def test_a_later_call_that_reaches_the_elder_stops_the_escalation(session) -> None:
    elder = elder_in(session, "community")
    task = make_task(session, elder)
    params = ParamsCache()
    actor = worker_actor(session)
    service.record_call(
        session, actor, task.id, CallOutcome.UNREACHABLE, None, T0 + 5 * MIN, params
    )
    service.record_call(
        session, actor, task.id, CallOutcome.REACHED_WELL, "napping", T0 + 15 * MIN, params
    )
    assert task.state == TaskState.DONE
    service.escalate_due(session, params, T0 + 3 * 60 * MIN)
    assert task.state == TaskState.DONE and alarms_of(session, elder.id) == []


def test_needs_help_escalates_at_once_with_the_note(session) -> None:
    elder = elder_in(session, "community")
    task = make_task(session, elder)
    params = ParamsCache()
    service.record_call(
        session,
        worker_actor(session),
        task.id,
        CallOutcome.REACHED_NEEDS_HELP,
        "dizzy, alone",
        T0 + MIN,
        params,
    )
    assert task.state == TaskState.ESCALATED
    (alarm,) = alarms_of(session, elder.id)
    assert task.alert_id == alarm.id and "dizzy, alone" in alarm.detail["reason"]
    service.escalate_due(session, params, T0 + 3 * 60 * MIN)
    assert len(alarms_of(session, elder.id)) == 1


def test_each_task_escalates_once_when_two_loops_take_the_same_rows(session) -> None:
    """Two loops that both read the task before either wrote: the second finds it no longer
    open (the row lock and the state condition), so one alarm."""
    elder = elder_in(session, "community")
    task = make_task(session, elder)
    params = ParamsCache()
    from yiyang.checkins import repository

    first = repository.system_due(session, task.due_at, 200)
    assert task in first
    service.escalate_due(session, params, task.due_at)
    second = repository.system_due(session, task.due_at, 200)
    assert task not in second
    count = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.elder_id == elder.id, Alert.created_at >= T0)
    )
    assert count == 1


@pytest.mark.postgres
def test_two_sweepers_on_postgresql_never_hold_the_same_task(pg_engine) -> None:  # type: ignore[no-untyped-def]
    """Real concurrency: a second loop's read skips the task the first one holds (FOR UPDATE
    SKIP LOCKED) instead of waiting for it or taking it too."""
    from sqlalchemy.orm import Session

    from yiyang.checkins import repository
    from yiyang.checkins.models import CheckInTask

    with Session(pg_engine) as setup:
        elder = elder_in(setup, "community", nth=3)
        task = CheckInTask(
            elder_id=elder.id,
            region_path=elder.region_path,
            alert_type="inactivity",
            reason="test",
            detail={},
            dedupe_key="check_in:two-sweepers",
            created_at=T0,
            due_at=T0,
            state=TaskState.OPEN,
        )
        setup.add(task)
        setup.commit()
        task_id = task.id
    first, second = Session(pg_engine), Session(pg_engine)
    try:
        assert task_id in {t.id for t in repository.system_due(first, T0, 1000)}
        assert task_id not in {t.id for t in repository.system_due(second, T0, 1000)}
        first.rollback()  # the first loop gave up: the next run takes it
        assert task_id in {t.id for t in repository.system_due(second, T0, 1000)}
    finally:
        first.rollback()
        second.rollback()
        first.close()
        second.close()
        with Session(pg_engine) as cleanup:
            cleanup.delete(cleanup.get(CheckInTask, task_id))
            cleanup.commit()


def test_the_pipelines_escalation_loop_escalates_due_check_ins(session) -> None:
    import asyncio

    from yiyang.checkins.models import CheckInTask
    from yiyang.pipeline.runtime import Pipeline

    elder = elder_in(session, "community")
    task = make_task(session, elder)
    session.commit()
    pipeline = Pipeline(loops=False, consume=False, listen=False)
    asyncio.run(pipeline.escalate(task.due_at))
    session.expire_all()
    escalated = session.get(CheckInTask, task.id)
    assert escalated.state == TaskState.ESCALATED and escalated.alert_id is not None
