"""Consent (PIPL, #18) in what alerts say: the family's SMS and e-mail carry the street address
and the readings only with the elder's consent to share with family; an alarm is sent anyway;
an alert's figures are shown through an allowlist of keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.accounts.models import User, UserElderLink
from yiyang.alarms import describe, notices
from yiyang.alarms.models import Alert
from yiyang.core.clock import now
from yiyang.notifications.models import Notification
from yiyang.regions.models import Region
from yiyang.registry.models import Elder, EmergencyContact

STREET = "幸福路88号3栋1单元502室"
DETAILS: dict[str, dict[str, Any]] = {
    "sos": {"device_type": "sos_button", "lat": 31.23456, "lon": 121.47654},
    "vitals": {"metric": "heart_rate", "values": [231.7, 237.3, 243.9], "readings": 3},
}
READINGS = ("231.7", "237.3", "243.9", "31.23456", "121.47654")


def _elder(session: Session, *, shares: bool) -> Elder:
    family = session.scalar(select(User).where(User.username == "family"))
    assert family is not None
    elder = session.get(
        Elder,
        session.scalar(select(UserElderLink.elder_id).where(UserElderLink.user_id == family.id)),
    )
    assert elder is not None
    elder.address = STREET
    elder.consent_share_with_family = shares
    elder.consent_health_monitoring = True
    session.add(
        EmergencyContact(
            elder_id=elder.id,
            priority=9,
            name="李秘",
            relation="女儿",
            phone="13900001234",
            email="daughter@example.org",
            receives_alerts=True,
        )
    )
    session.flush()
    return elder


def _bodies(session: Session, elder: Elder, alert_type: str) -> list[str]:
    t = now() - dt.timedelta(minutes=1)
    alert = Alert(
        elder_id=elder.id,
        region_path=elder.region_path,
        alert_type=alert_type,
        severity="critical",
        dedupe_key=f"consent-notice:{alert_type}",
        detail=DETAILS[alert_type],
        first_at=t,
        last_at=t,
    )
    session.add(alert)
    session.flush()
    sent = notices.enqueue(session, alert, "contacts", 1, elder_name=elder.name, address=STREET)
    assert {r.channel for r in sent} == {"sms", "email"}  # never dropped
    rows = session.scalars(select(Notification).where(Notification.alert_id == alert.id)).all()
    assert len(rows) >= 2  # one per (channel, recipient), deduplicated
    return [f"{n.subject}\n{n.body}\n{n.payload}" for n in rows]


@pytest.mark.parametrize("alert_type", ["sos", "vitals"])
def test_without_sharing_the_contacts_get_no_address_and_no_readings(
    session: Session, alert_type: str
) -> None:
    elder = _elder(session, shares=False)
    community = session.scalar(select(Region.name).where(Region.id == elder.region_id))
    for body in _bodies(session, elder, alert_type):
        assert STREET not in body
        assert [r for r in READINGS if r in body] == []
        assert community and community in body  # where, to the community


@pytest.mark.parametrize("alert_type", ["sos", "vitals"])
def test_with_sharing_the_contacts_get_the_address_and_the_readings(
    session: Session, alert_type: str
) -> None:
    elder = _elder(session, shares=True)
    for body in _bodies(session, elder, alert_type):
        assert STREET in body
        if alert_type == "vitals":
            assert "237.3" in body


def test_an_unknown_detail_key_is_hidden_without_consent() -> None:
    detail = {
        "hours": 3,
        "device_type": "water_meter",
        "litres_per_hour": 42.5,
        "distance_m": 812,
        "expected": 30,
        "actual": 2,
        "some_new_reading": 99.9,
    }
    assert describe.shown_detail(detail, shared=False) == {"hours": 3, "device_type": "water_meter"}
    assert describe.shown_detail(detail, shared=True) == detail
    assert describe.figures_shown(True, True)
    assert not describe.figures_shown(True, False) and not describe.figures_shown(False, True)
