"""A device retired on the device pages (#19) is refused by the gateway from then on, while the
alert it raised before stays open for the operator to close."""

from __future__ import annotations

from sqlalchemy import select

from yiyang.accounts.models import User
from yiyang.accounts.service import actor_for
from yiyang.alarms.enums import AlertState
from yiyang.alarms.models import Alert
from yiyang.core import audit, db
from yiyang.devices import service
from yiyang.devices.models import DeadLetter, Device

from .conftest import message, mqtt_raw, run_pipeline


def test_a_retired_device_is_refused_and_its_open_alert_stays_open(kit) -> None:
    k = kit(need=("sos_button",))
    serial = k["sos_button"]

    async def send(p, body):  # type: ignore[no-untyped-def]
        return await p.gateway.submit([mqtt_raw(body, serial)])

    before = run_pipeline(lambda p: send(p, message(serial, "sos_button", "sos")))
    assert before[0].accepted

    with db.unit_of_work() as session:
        admin = actor_for(session.scalar(select(User).where(User.username == "admin")))
        with audit.acting_as(audit.AuditActor(admin.user_id, admin.username)):
            device = session.scalar(select(Device).where(Device.serial == serial))
            service.retire(session, admin, device, reason="replaced")

    after = run_pipeline(lambda p: send(p, message(serial, "sos_button", "sos")))
    assert not after[0].accepted
    assert [r["code"] for r in after[0].rejected] == ["device_retired"]
    with db.unit_of_work() as session:
        alerts = session.scalars(select(Alert).where(Alert.elder_id == k["elder_id"])).all()
        dead = session.scalars(select(DeadLetter).where(DeadLetter.serial == serial)).all()
    assert [(a.alert_type, a.state) for a in alerts] == [("sos", AlertState.NEW)]
    assert [d.code for d in dead] == ["device_retired"]
