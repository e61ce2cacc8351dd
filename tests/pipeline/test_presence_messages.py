"""Away and back said in the app reach the rule state through the real pipeline: the sweep
publishes them as the ``away`` / ``home`` messages of an away button (device ``APP_DEVICE``,
message id ``absence-<id>-away``), the worker stores them once and runs the away rule, which
writes ``learned["away"]`` and the return time. A planned absence takes effect at its time with
nobody opening a page; a second sweep sends nothing again; not back as planned becomes a
check-in. The web process never writes the rule state."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from yiyang.accounts.models import User
from yiyang.alarms.models import Alert, ElderState
from yiyang.alarms.rules import DEFAULTS, away
from yiyang.core import audit, db
from yiyang.core.roles import Role
from yiyang.core.scoping import Actor
from yiyang.devices.models import DeviceMessage
from yiyang.pipeline.messages import DeviceEvent, Tick
from yiyang.pipeline.transports import app
from yiyang.presence import service
from yiyang.presence.schemas import AbsenceCreate, AwayCreate

from .conftest import run_pipeline

pytestmark = pytest.mark.pipeline


def _actor(username: str = "community") -> Actor:
    with db.unit_of_work() as session:
        u = session.scalar(select(User).where(User.username == username))
        assert u is not None
        return Actor(u.id, u.username, u.display_name, Role(u.role), u.region_id, u.region_path)


def _as(actor: Actor, fn: Any) -> Any:
    with db.unit_of_work() as session, audit.acting_as(audit.AuditActor(actor.user_id, "t")):
        return fn(session).id


def _learned(elder_id: int) -> dict[str, Any]:
    with db.unit_of_work() as session:
        row = session.get(ElderState, elder_id)
        return dict(row.learned or {}) if row is not None else {}


def _app_messages(now: dt.datetime) -> list[Any]:
    with db.unit_of_work() as session:
        return [m.item for m in app.messages(session, now)]


def test_away_back_and_a_planned_absence_reach_the_rule_state(pipe_engine, kit) -> None:  # type: ignore[no-untyped-def]
    elder = kit()["elder_id"]
    actor = _actor("admin")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    until = now + dt.timedelta(days=2)
    away_id = _as(
        actor,
        lambda s: service.mark_away(s, actor, elder, AwayCreate(until=until, note="daughter")),
    )
    assert away.UNTIL not in _learned(elder)  # nothing written by the web side

    async def sweep(pipeline: Any, at: dt.datetime | None = None) -> None:
        await pipeline.sweep(at)

    run_pipeline(lambda p: sweep(p))
    learned = _learned(elder)
    assert "away" in learned and learned[away.UNTIL] == int(until.timestamp())
    with db.unit_of_work() as session:
        stored = session.scalar(
            select(DeviceMessage).where(
                DeviceMessage.device_id == app.APP_DEVICE,
                DeviceMessage.msg_id == f"absence-{away_id}-away",
            )
        )
        assert stored is not None and stored.elder_id == elder and stored.event == "away"
        assert stored.data["source"] == "app" and stored.data["by"] == actor.user_id
        assert stored.data["as"] == "staff" and stored.data["until"] == until.isoformat()
    # idempotent: what the worker stored is not sent again
    assert [m for m in _app_messages(dt.datetime.now(dt.UTC)) if isinstance(m, DeviceEvent)] == []

    _as(actor, lambda s: service.mark_back(s, actor, elder))
    run_pipeline(lambda p: sweep(p))
    assert "away" not in _learned(elder) and away.UNTIL not in _learned(elder)

    # planned: from tomorrow to the day after; nothing until its time, then away
    start = now + dt.timedelta(days=1)
    back_by = now + dt.timedelta(days=2)
    plan_id = _as(
        actor,
        lambda s: service.plan(s, actor, elder, AbsenceCreate(starts_at=start, until=back_by)),
    )
    run_pipeline(lambda p: sweep(p))
    assert "away" not in _learned(elder)
    run_pipeline(lambda p: sweep(p, start + dt.timedelta(minutes=1)))
    learned = _learned(elder)
    assert learned["away"] == int(start.timestamp())
    assert learned[away.UNTIL] == int(back_by.timestamp())

    # not back as planned: the sweep ticks the elder past the return time, a check-in follows
    late = back_by + dt.timedelta(minutes=DEFAULTS.away_grace_minutes + 10)
    messages = _app_messages(late)
    assert any(isinstance(m, Tick) and m.elder == elder for m in messages)
    run_pipeline(lambda p: sweep(p, late))
    assert _check_in_raised(elder), "no check-in for 'not back as planned'"
    assert plan_id


def _check_in_raised(elder: int) -> bool:
    with db.unit_of_work() as session:
        alert = session.scalar(
            select(Alert.id).where(
                Alert.elder_id == elder, Alert.dedupe_key.like("check_in:away:%")
            )
        )
        if alert is not None:
            return True
        try:
            from yiyang.checkins.models import CheckInTask
        except ImportError:  # pragma: no cover - before the check-in tasks exist
            return False
        task = session.scalar(
            select(CheckInTask.id).where(
                CheckInTask.elder_id == elder, CheckInTask.dedupe_key.like("check_in:away:%")
            )
        )
        return task is not None
