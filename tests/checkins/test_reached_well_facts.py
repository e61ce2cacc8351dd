"""A call recorded "reached, well" reaches the rule worker's facts of the elder (through the
life-signs source the check-in domain registers with the alarms), so the silence rules count it
as a sign of life; an unreachable call does not."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.checkins.helpers import T0, elder_in, make_task
from yiyang.accounts.models import User
from yiyang.accounts.service import actor_for
from yiyang.alarms.repository import ElderFacts
from yiyang.checkins import service
from yiyang.checkins.enums import CallOutcome
from yiyang.core import clock

pytestmark = pytest.mark.api


def test_reached_well_is_a_sign_of_life_for_the_worker(session) -> None:  # type: ignore[no-untyped-def]
    worker = actor_for(session.scalars(select(User).where(User.username == "community")).one())
    well, unreachable = elder_in(session, "community", nth=0), elder_in(session, "community", nth=1)
    call_at = T0 + dt.timedelta(minutes=10)
    for elder, outcome in (
        (well, CallOutcome.REACHED_WELL),
        (unreachable, CallOutcome.UNREACHABLE),
    ):
        task = make_task(session, elder)
        service.record_call(session, worker, task.id, outcome, None, call_at)
    session.flush()
    with clock.at(call_at + dt.timedelta(minutes=5)):
        facts = ElderFacts(ttl=0).get(session, {well.id, unreachable.id})
    assert facts[well.id][0].well_at == call_at
    assert facts[unreachable.id][0].well_at is None
