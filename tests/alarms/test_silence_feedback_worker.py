"""The worker path of the operators' verdicts (ADR 0014 §5): "false alarm" outcomes recorded on an
elder's silence alerts reach the rules through the elder facts cache (``ElderFacts`` →
``rules.Facts.outcomes``), so the rule worker raises that elder's check-in later and says why —
with nothing written to the worker's rule state by anyone else."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from yiyang.alarms import engine, repository, rules
from yiyang.alarms.models import Alert, RuleSettings
from yiyang.core import audit
from yiyang.core import clock as core_clock
from yiyang.core.i18n import reset_locale, set_locale
from yiyang.pipeline.messages import Tick
from yiyang.pipeline.worker import RuleWorker
from yiyang.registry import repository as registry
from yiyang.registry.models import Elder

from .test_silence_model import TZ, at, learned_home

pytestmark = pytest.mark.api


def monitored_elders(session, n: int) -> list[Elder]:  # type: ignore[no-untyped-def]
    candidates = session.scalars(select(Elder).order_by(Elder.id).limit(40)).all()
    off = registry.system_unmonitored(session, [e.id for e in candidates])
    found = [e for e in candidates if e.id not in off][:n]
    assert len(found) == n
    return found


def verdict(elder: Elder, when: dt.datetime, alert_type: str, outcome: str) -> Alert:
    return Alert(
        elder_id=elder.id,
        region_path=elder.region_path,
        alert_type=alert_type,
        severity="info",
        state="resolved",
        outcome=outcome,
        dedupe_key=f"check_in:{when.isoformat()}",
        first_at=when,
        last_at=when,
        resolved_at=when + dt.timedelta(hours=1),
    )


def test_false_alarms_in_the_database_widen_the_elders_threshold(session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    token = set_locale("en")
    monkeypatch.setattr(core_clock, "now", lambda: at(10, 13, 5))  # the facts' 28-day window
    try:
        judged, plain = monitored_elders(session, 2)
        home = learned_home(10, (9, 30), (23, 30))  # a late riser; on day 10 nobody gets up
        repository.save_states(session, {judged.id: home.state, plain.id: home.state}, at(9, 23))
        with audit.acting_as(audit.SYSTEM):
            session.add_all(
                [
                    verdict(judged, at(4, 11), "morning_silence", "false_alarm"),
                    verdict(judged, at(7, 11), "inactivity", "false_alarm"),
                    verdict(plain, at(7, 11), "vitals", "false_alarm"),  # not a silence alert
                    # the silence cap as set here, not the code default the scoring work tunes
                    RuleSettings(elder_id=judged.id, params={"silence_max_hours": 20}),
                    RuleSettings(elder_id=plain.id, params={"silence_max_hours": 20}),
                ]
            )
            session.flush()
        found: dict[int, list[rules.Finding]] = {}
        handle_tick = engine.handle_tick

        def recorded(state, now, params, facts, tz, **kw):  # type: ignore[no-untyped-def]
            out = handle_tick(state, now, params, facts, tz, **kw)
            found.setdefault(facts.elder_id, []).extend(out)
            return out

        monkeypatch.setattr(engine, "handle_tick", recorded)
        worker = RuleWorker()
        worker.tz = TZ
        eleven = at(10, 11, 5)
        worker._process_in(
            session, [Tick(e.id, eleven.timestamp()) for e in (judged, plain)], eleven
        )
        (check,) = found[plain.id]  # as before: a check-in at 11:05
        assert check.check_in and "widened" not in check.reason
        assert found.get(judged.id, []) == []  # two false alarms: not yet
        one = at(10, 13, 5)
        worker._process_in(session, [Tick(judged.id, one.timestamp())], one)
        (check,) = found[judged.id]
        assert check.check_in and check.detail["false_alarms"] == 2
        assert check.reason.endswith("threshold widened after 2 false alarms this month")
        worker._pool.shutdown()
    finally:
        reset_locale(token)
