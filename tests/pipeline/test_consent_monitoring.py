"""The consent gate end to end (PIPL art. 29, issue #18): an elder who withdrew the
health-monitoring consent gets no passive monitoring — a sustained high heart rate raises
nothing, stores no reading and keeps no payload — while an SOS, a fall, smoke and gas still
raise their alarms at once. Giving the consent again brings monitoring back with the next
message. Both take effect with the commit that records them (the worker reads the state fresh
every batch), on SQLite and PostgreSQL, over the in-process bus and JetStream."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from yiyang.accounts.models import User
from yiyang.accounts.service import actor_for
from yiyang.alarms.models import Alert
from yiyang.core import db
from yiyang.devices.models import DeviceMessage, VitalReading
from yiyang.registry import consents
from yiyang.registry.models import Elder

from .conftest import message, mqtt_raw, run_pipeline

pytestmark = [pytest.mark.pipeline, pytest.mark.usefixtures("bus_kind")]


def set_monitoring(elder_id: int, action: consents.Action) -> None:
    """Record the change as the platform admin, committed (as the API would)."""
    with db.unit_of_work() as session:
        admin = actor_for(session.scalar(select(User).where(User.username == "admin")))
        elder = session.get(Elder, elder_id)
        assert elder is not None
        if action is consents.Action.GIVEN and not elder.consent_data_processing:
            consents.record(
                session,
                admin,
                elder,
                consents.Change(consents.Purpose.DATA_PROCESSING, consents.Action.GIVEN),
            )
        consents.record(
            session, admin, elder, consents.Change(consents.Purpose.HEALTH_MONITORING, action)
        )


def alert_types(elder_id: int) -> list[str]:
    with db.unit_of_work() as session:
        return list(
            session.scalars(
                select(Alert.alert_type).where(Alert.elder_id == elder_id).order_by(Alert.id)
            )
        )


def heart_rates(watch: str, start: dt.datetime, *values: int) -> list[Any]:
    return [
        mqtt_raw(
            message(
                watch,
                "smart_watch",
                "vitals",
                at=start + dt.timedelta(minutes=i),
                data={"heart_rate": v},
            )
        )
        for i, v in enumerate(values)
    ]


def test_sos_still_raises_after_withdrawal_and_a_heart_rate_does_not(kit) -> None:
    k = kit(need=("sos_button", "smart_watch"))
    elder_id, watch = k["elder_id"], k["smart_watch"]
    set_monitoring(elder_id, consents.Action.WITHDRAWN)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    high = heart_rates(watch, t0, 150, 152, 155, 160)
    sos = message(k["sos_button"], "sos_button", "sos")
    watch_fall = message(watch, "smart_watch", "fall", data={"confidence": 0.9})

    async def go(p: Any) -> None:
        await p.gateway.submit(high)
        await p.gateway.submit([mqtt_raw(sos)])
        await p.gateway.submit([mqtt_raw(watch_fall)])

    run_pipeline(go)
    # the alarms raise, from the SOS button and from the watch alike; the readings raise nothing
    assert sorted(alert_types(elder_id)) == ["fall", "sos"]
    with db.unit_of_work() as session:
        readings = session.scalar(
            select(func.count()).select_from(VitalReading).where(VitalReading.elder_id == elder_id)
        )
        kept = session.execute(
            select(DeviceMessage.event, DeviceMessage.data).where(
                DeviceMessage.elder_id == elder_id
            )
        ).all()
    assert readings == 0
    assert sorted(e for e, _d in kept) == ["fall", "sos", "vitals", "vitals", "vitals", "vitals"]
    assert all(d == {} for e, d in kept if e == "vitals")  # no payload kept
    assert [d for e, d in kept if e == "fall"] == [{"confidence": 0.9}]  # alarms whole


def test_consent_given_again_brings_monitoring_back_at_once(kit) -> None:
    k = kit(need=("smart_watch",))
    elder_id, watch = k["elder_id"], k["smart_watch"]
    set_monitoring(elder_id, consents.Action.WITHDRAWN)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)

    async def go(p: Any) -> list[str]:
        await p.gateway.submit(heart_rates(watch, t0, 150, 152, 155))
        before = alert_types(elder_id)
        set_monitoring(elder_id, consents.Action.GIVEN)  # the pipeline keeps running
        await p.gateway.submit(heart_rates(watch, t0 + dt.timedelta(minutes=10), 150, 152, 155))
        return before

    before = run_pipeline(go)
    assert before == []
    assert alert_types(elder_id) == ["vitals"]
    with db.unit_of_work() as session:
        readings = session.scalar(
            select(func.count()).select_from(VitalReading).where(VitalReading.elder_id == elder_id)
        )
    assert readings == 3  # only those sent with the consent in force
