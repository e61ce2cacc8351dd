"""A call once recorded is never edited nor removed: the database refuses (migration 0018)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from tests.checkins.helpers import T0, elder_in, make_task
from yiyang.checkins.models import CheckInAttempt

pytestmark = pytest.mark.api


def test_call_attempts_refuse_update_and_delete(session) -> None:
    task = make_task(session, elder_in(session, "community"))
    attempt = CheckInAttempt(
        task_id=task.id,
        elder_id=task.elder_id,
        region_path=task.region_path,
        at=T0,
        outcome="unreachable",
        by_name="test",
    )
    session.add(attempt)
    session.flush()
    for statement in (
        update(CheckInAttempt)
        .where(CheckInAttempt.id == attempt.id)
        .values(outcome="reached_well"),
        delete(CheckInAttempt).where(CheckInAttempt.id == attempt.id),
    ):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(statement)
