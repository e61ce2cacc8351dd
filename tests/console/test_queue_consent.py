"""The console's queue shows an alert's readings only while the elder's monitoring consent is in
force (the ``elder.monitored`` rule, issue #18): an alert raised before a withdrawal keeps its
record, but its figures leave the operator's screen at once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.accounts.models import User
from yiyang.accounts.service import actor_for
from yiyang.alarms import describe
from yiyang.alarms.models import Alert
from yiyang.console import repository
from yiyang.core.clock import now
from yiyang.registry.models import Elder

pytestmark = pytest.mark.api

READINGS = [231.7, 237.3, 243.9]


def _queue_detail(session: Session, alert: Alert) -> dict:
    operator = session.scalars(select(User).where(User.username == "operator")).one()
    rows = repository.queue(session, actor_for(operator), repository.QueueFilters(), limit=5000)
    (row,) = [r for r in rows if r.id == alert.id]
    assert row.detail == repository.rows_by_id(session, [alert.id])[0].detail  # pushed alike
    return row.detail


def test_withdrawn_monitoring_hides_the_readings_of_an_earlier_alert(session: Session) -> None:
    elder = session.scalars(select(Elder).order_by(Elder.id).limit(1)).one()
    elder.consent_health_monitoring = True
    t = now() - dt.timedelta(minutes=3)
    alert = Alert(
        elder_id=elder.id,
        region_path=elder.region_path,
        alert_type="vitals",
        severity="warning",
        dedupe_key="queue-consent",
        detail={"metric": "heart_rate", "values": READINGS, "readings": 3},
        first_at=t,
        last_at=t,
    )
    session.add(alert)
    session.flush()
    shown = _queue_detail(session, alert)
    assert shown["values"] == READINGS
    assert "231.7" in describe.explain("vitals", shown)

    elder.consent_health_monitoring = False  # withdrawn after the alert was raised
    session.flush()
    hidden = _queue_detail(session, alert)
    assert "values" not in hidden and hidden["readings"] == 3
    text = describe.explain("vitals", hidden)
    assert "231.7" not in text and "  " not in text  # no reading, no gap where it was
    assert session.get(Alert, alert.id).detail["values"] == READINGS  # the record is kept
