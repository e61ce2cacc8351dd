"""Alerts, devices and dead letters through the API: scoped by role and region on every list
and detail, the alert lifecycle with its trail and audit, rule settings validated, dead letters
for admins only (and each look audited)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from yiyang.accounts.models import User
from yiyang.alarms.models import Alert
from yiyang.audit.models import AuditEvent
from yiyang.devices.models import DeadLetter, Device
from yiyang.registry.models import Elder

pytestmark = pytest.mark.api


def make_alerts(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """One open SOS alert for an elder inside the demo community and one in another street."""
    community = session.scalar(select(User.region_path).where(User.username == "community"))
    street = session.scalar(select(User.region_path).where(User.username == "street"))
    inside = session.scalar(select(Elder).where(Elder.region_path == community).limit(1))
    outside = session.scalar(
        select(Elder).where(~Elder.region_path.startswith(street)).order_by(Elder.id).limit(1)
    )
    now = dt.datetime.now(dt.UTC)
    out = {}
    for name, elder in (("inside", inside), ("outside", outside)):
        alert = Alert(
            elder_id=elder.id,
            region_path=elder.region_path,
            alert_type="sos",
            severity="critical",
            dedupe_key="sos",
            detail={"device_type": "sos_button"},
            first_at=now,
            last_at=now,
            created_at=now,
            next_escalation_at=now + dt.timedelta(seconds=60),
        )
        session.add(alert)
        session.flush()
        out[name] = alert.id
    session.commit()
    return out


@pytest.mark.parametrize("username", ["street", "community", "operator", "district"])
def test_alert_lists_and_details_stay_in_the_region(client, login, session, username) -> None:
    ids = make_alerts(session)
    who = login(username)
    listed = {a["id"] for a in client.get("/api/alerts", headers=who.headers).json()}
    assert ids["inside"] in listed
    outside_visible = username in ("operator", "district")  # district-wide roles
    assert (ids["outside"] in listed) is outside_visible
    r = client.get(f"/api/alerts/{ids['outside']}", headers=who.headers)
    assert r.status_code == (200 if outside_visible else 404)
    page = client.get("/alerts", headers=who.headers)
    assert page.status_code == 200
    assert (f'href="/alerts/{ids["outside"]}"' in page.text) is outside_visible


def test_person_scoped_and_unpermitted_roles(client, login, session) -> None:
    ids = make_alerts(session)
    for username in ("caregiver", "provider", "volunteer"):
        assert client.get("/api/alerts", headers=login(username).headers).status_code == 403
    family = login("family")
    listed = {a["id"] for a in client.get("/api/alerts", headers=family.headers).json()}
    assert ids["outside"] not in listed
    assert client.get(f"/api/alerts/{ids['outside']}", headers=family.headers).status_code == 404


def test_lifecycle_is_ordered_trailed_and_audited(client, login, session) -> None:
    ids = make_alerts(session)
    op = login("operator")
    url = f"/api/alerts/{ids['inside']}/transition"
    bad = client.post(url, json={"state": "dispatched"}, headers=op.headers)
    assert bad.status_code == 422 and "cannot become" in bad.json()["detail"]["message"]
    r = client.post(url, json={"state": "acknowledged", "version": 1}, headers=op.headers)
    assert r.status_code == 200 and r.json()["next_escalation_at"] is None
    stale = client.post(url, json={"state": "handling", "version": 1}, headers=op.headers)
    assert stale.status_code == 409
    no_outcome = client.post(url, json={"state": "resolved"}, headers=op.headers)
    assert no_outcome.status_code == 422 and no_outcome.json()["detail"]["field"] == "outcome"
    done = client.post(
        url,
        json={"state": "resolved", "outcome": "false_alarm", "note": "按错了"},
        headers=op.headers,
    ).json()
    assert done["state"] == "resolved" and done["outcome"] == "false_alarm"
    name = session.scalar(select(User.display_name).where(User.username == "operator"))
    assert [(e["action"], e["actor_name"]) for e in done["trail"]] == [  # by name (#19)
        ("acknowledged", name),
        ("resolved", name),
    ]
    changes = session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "alert", AuditEvent.entity_id == str(ids["inside"])
        )
    ).all()
    assert [c.after.get("state") for c in changes if c.action == "update"] == [
        "acknowledged",
        "resolved",
    ]
    assert (
        client.post(
            url, json={"state": "acknowledged"}, headers=login("community").headers
        ).status_code
        == 422
    )
    other = f"/api/alerts/{ids['outside']}/transition"
    assert (
        client.post(
            other, json={"state": "acknowledged"}, headers=login("community").headers
        ).status_code
        == 404
    )


def test_devices_are_scoped(client, login, session) -> None:
    street = session.scalar(select(User.region_path).where(User.username == "street"))
    outside = session.scalar(
        select(Device).where(~Device.region_path.startswith(street)).order_by(Device.id).limit(1)
    )
    who = login("street")
    listed = client.get("/api/devices", params={"limit": 500}, headers=who.headers).json()
    assert listed and all(d["region_path"].startswith(street) for d in listed)
    assert client.get(f"/api/devices/{outside.id}", headers=who.headers).status_code == 404
    assert client.get(f"/devices/{outside.id}", headers=who.headers).status_code == 404
    assert (
        client.get("/api/devices", params={"serial": outside.serial}, headers=who.headers).json()
        == []
    )
    detail = client.get(f"/api/devices/{outside.id}", headers=login("district").headers).json()
    assert detail["bindings"][0]["elder_id"] == outside.elder_id


def test_register_bind_unbind_keeps_history(client, login, session) -> None:
    who = login("community")
    community = session.scalar(select(User.region_path).where(User.username == "community"))
    a, b = session.scalars(select(Elder.id).where(Elder.region_path == community).limit(2)).all()
    r = client.post(
        "/api/devices",
        json={"serial": "TEST-SOS-1", "device_type": "sos_button", "elder_id": a, "room": "卧室"},
        headers=who.headers,
    )
    assert r.status_code == 201, r.text
    device_id = r.json()["id"]
    dup = client.post(
        "/api/devices",
        json={"serial": "TEST-SOS-1", "device_type": "sos_button"},
        headers=who.headers,
    )
    assert dup.status_code == 409
    assert (
        client.post(
            f"/api/devices/{device_id}/bind", json={"elder_id": b}, headers=who.headers
        ).status_code
        == 200
    )
    far = session.scalar(select(Elder.id).where(~Elder.region_path.startswith(community)).limit(1))
    refused = client.post(
        f"/api/devices/{device_id}/bind", json={"elder_id": far}, headers=who.headers
    )
    assert refused.status_code == 422 and refused.json()["detail"]["field"] == "elder_id"
    client.post(f"/api/devices/{device_id}/unbind", json={"reason": "回收"}, headers=who.headers)
    detail = client.get(f"/api/devices/{device_id}", headers=who.headers).json()
    assert detail["elder_id"] is None
    assert [(x["elder_id"], x["unbound_at"] is not None) for x in detail["bindings"]] == [
        (b, True),
        (a, True),
    ]


def test_dead_letters_for_admins_only_and_each_look_audited(client, login, session) -> None:
    session.add(
        DeadLetter(
            transport="mqtt",
            source="t",
            code="bad_json",
            reason="not valid JSON",
            size=3,
            payload="{x",
        )
    )
    session.commit()
    assert client.get("/api/dead-letters", headers=login("street").headers).status_code == 403
    rows = client.get(
        "/api/dead-letters", params={"code": "bad_json"}, headers=login("district").headers
    ).json()
    assert rows and rows[0]["reason"] == "not valid JSON"
    looks = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "read_dead_letters")
    ).all()
    assert looks and looks[-1].actor_username == "district"
    assert client.get("/dead-letters", headers=login("district").headers).status_code == 200


def test_rule_settings_are_validated_and_scoped(client, login, session) -> None:
    defaults = client.get("/api/rule-settings/defaults", headers=login("operator").headers).json()
    assert defaults["heart_rate_warn"] == [40, 130]
    district = login("district")
    bad = client.put(
        "/api/rule-settings/region",
        json={"params": {"inactivity_hours": -1}},
        headers=district.headers,
    )
    assert bad.status_code == 422
    unknown = client.put(
        "/api/rule-settings/region", json={"params": {"nonsense": 1}}, headers=district.headers
    )
    assert unknown.status_code == 422
    ok = client.put(
        "/api/rule-settings/region",
        json={"params": {"inactivity_hours": 14}},
        headers=district.headers,
    )
    assert ok.status_code == 200 and ok.json()["params"] == {"inactivity_hours": 14}
    assert (
        client.put(
            "/api/rule-settings/region",
            params={"region_path": "/999999999999/"},
            json={"params": {}},
            headers=district.headers,
        ).status_code
        == 403  # outside the district (tests/api/test_rule_settings_api.py has the rest)
    )


def test_device_mqtt_password_is_shown_once_kept_hashed_and_scoped(client, login, session) -> None:
    from yiyang.devices import credentials

    street = session.scalar(select(User.region_path).where(User.username == "street"))
    inside = session.scalar(
        select(Device).where(Device.region_path.startswith(street)).order_by(Device.id).limit(1)
    )
    outside = session.scalar(
        select(Device).where(~Device.region_path.startswith(street)).order_by(Device.id).limit(1)
    )
    who = login("street")
    r = client.post(f"/api/devices/{inside.id}/mqtt-password", headers=who.headers)
    assert r.status_code == 200, r.text
    issued = r.json()
    assert issued["username"] == inside.serial and len(issued["password"]) >= 20
    session.refresh(inside)
    assert inside.mqtt_password_hash != issued["password"]
    assert credentials.verify(issued["password"], inside.mqtt_password_hash)
    again = client.post(f"/api/devices/{inside.id}/mqtt-password", headers=who.headers).json()
    assert again["password"] != issued["password"]  # a new one replaces the old
    session.refresh(inside)
    assert not credentials.verify(issued["password"], inside.mqtt_password_hash)
    trail = session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "device", AuditEvent.entity_id == str(inside.id)
        )
    ).all()
    assert trail and all(issued["password"] not in str(e.after) for e in trail)
    assert any((e.after or {}).get("mqtt_password_hash") == "********" for e in trail)
    url = f"/api/devices/{outside.id}/mqtt-password"
    assert client.post(url, headers=who.headers).status_code == 404  # another street's device
    from yiyang.devices.enums import DeviceStatus

    inside.status = DeviceStatus.RETIRED
    session.flush()
    retired = client.post(f"/api/devices/{inside.id}/mqtt-password", headers=who.headers)
    assert retired.status_code == 409 and "retired" in str(retired.json()["detail"]).lower()
    session.refresh(inside)
    assert credentials.verify(again["password"], inside.mqtt_password_hash)  # left as it was
    assert client.post(url, headers=login("doctor").headers).status_code == 403
