"""JSON API: check-in tasks in the reader's region, one task with its calls, and recording a
call's outcome."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from yiyang.checkins import service
from yiyang.checkins.enums import TaskState
from yiyang.checkins.schemas import CheckInCall, CheckInCounts, CheckInTaskListItem, CheckInTaskRead
from yiyang.core.auth import require
from yiyang.core.clock import now
from yiyang.core.db import DB
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id, Offset

router = APIRouter(prefix="/api", tags=["check-ins"])
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_CHECK_INS))]
Caller = Annotated[Actor, Depends(require(Perm.HANDLE_CHECK_INS))]


@router.get(
    "/check-ins",
    response_model=list[CheckInTaskListItem],
    summary="Check-in tasks in your area (open ones oldest due first)",
)
def list_check_ins(
    actor: Viewer,
    session: DB,
    state: TaskState | None = TaskState.OPEN,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[Offset, Query()] = 0,
) -> list[CheckInTaskListItem]:
    return service.list_tasks(session, actor, now(), state, limit, offset)


@router.get("/check-ins/counts", response_model=CheckInCounts, summary="Open and overdue tasks")
def check_in_counts(actor: Viewer, session: DB) -> CheckInCounts:
    return service.counts(session, actor, now())


@router.get("/check-ins/{task_id}", response_model=CheckInTaskRead, summary="A check-in task")
def get_check_in(actor: Viewer, session: DB, task_id: Id) -> CheckInTaskRead:
    return service.read_task(session, actor, task_id, now())


@router.post(
    "/check-ins/{task_id}/calls",
    response_model=CheckInTaskRead,
    summary="Record a call and its outcome (reached and well closes the task; reached, needs "
    "help opens an operator alarm now; unreachable brings the alarm forward)",
)
def record_call(actor: Caller, session: DB, task_id: Id, body: CheckInCall) -> CheckInTaskRead:
    return service.record_call_read(session, actor, task_id, body.outcome, body.note, now())
