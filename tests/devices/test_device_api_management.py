"""The JSON side of device management (#19): retire, the protocol a device reports by; per role
and region."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from yiyang.accounts.models import User
from yiyang.devices import credentials
from yiyang.devices.enums import DeviceStatus
from yiyang.devices.models import Device, DeviceBinding

pytestmark = pytest.mark.api


def _bound_device(session, username: str, inside: bool = True) -> Device:  # type: ignore[no-untyped-def]
    path = session.scalar(select(User.region_path).where(User.username == username))
    where = Device.region_path.startswith(path)
    device = session.scalar(
        select(Device)
        .where(where if inside else ~where, Device.elder_id.is_not(None))
        .order_by(Device.id)
        .limit(1)
    )
    assert device is not None
    return device


def test_retire_unbinds_drops_the_password_and_is_scoped(client, login, session) -> None:
    device = _bound_device(session, "community")
    device.mqtt_password_hash = credentials.mosquitto_hash("old-secret")
    session.flush()
    url = f"/api/devices/{device.id}/retire"
    assert (
        client.post(url, json={"reason": "x"}, headers=login("operator").headers).status_code == 403
    )
    other = _bound_device(session, "community", inside=False)
    who = login("community")
    outside = client.post(
        f"/api/devices/{other.id}/retire", json={"reason": "x"}, headers=who.headers
    )
    assert outside.status_code == 404
    blank = client.post(url, json={"reason": "  "}, headers=who.headers)
    assert blank.status_code == 422
    elder_id = device.elder_id
    r = client.post(url, json={"reason": "broken"}, headers=who.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["elder_id"], body["mqtt_password_issued_at"]) == (
        "retired",
        None,
        None,
    )
    session.refresh(device)
    assert device.mqtt_password_hash is None
    ended = session.scalar(
        select(DeviceBinding)
        .where(DeviceBinding.device_id == device.id, DeviceBinding.elder_id == elder_id)
        .order_by(DeviceBinding.id.desc())
        .limit(1)
    )
    assert ended.unbound_at is not None and ended.reason == "broken"
    again = client.post(url, json={"reason": "broken"}, headers=who.headers)
    assert again.status_code == 409
    bind = client.post(
        f"/api/devices/{device.id}/bind", json={"elder_id": elder_id}, headers=who.headers
    )
    assert bind.status_code == 409  # a retired device is not bound again


def test_patch_to_retired_goes_the_same_way(client, login, session) -> None:
    device = _bound_device(session, "street")
    device.mqtt_password_hash = credentials.mosquitto_hash("old-secret")
    session.flush()
    r = client.patch(
        f"/api/devices/{device.id}", json={"status": "retired"}, headers=login("street").headers
    )
    assert r.status_code == 200 and r.json()["elder_id"] is None
    session.refresh(device)
    assert device.status == DeviceStatus.RETIRED and device.mqtt_password_hash is None


def test_the_protocol_decides_what_may_be_registered(client, login) -> None:
    who = login("street")
    dc09 = {"serial": "SOS-API-1", "device_type": "sos_button", "protocol": "dc09"}
    r = client.post("/api/devices", json=dc09, headers=who.headers)
    assert r.status_code == 422 and r.json()["detail"]["field"] == "protocol"
    vendor = {"serial": "SOS-API-1", "device_type": "sos_button", "protocol": "vendor"}
    r = client.post("/api/devices", json=vendor, headers=who.headers)
    assert r.status_code == 422 and r.json()["detail"]["field"] == "vendor_code"
    plain = client.post(
        "/api/devices",
        json={"serial": "SOS-API-1", "device_type": "sos_button"},
        headers=who.headers,
    )
    assert plain.status_code == 201 and plain.json()["protocol"] == "mqtt"
    panel = {"serial": "PANEL-API-1", "device_type": "alarm_panel", "protocol": "dc09"}
    created = client.post("/api/devices", json=panel, headers=who.headers).json()
    refused = client.post(f"/api/devices/{created['id']}/mqtt-password", headers=who.headers)
    assert refused.status_code == 409 and refused.json()["detail"]["field"] == "protocol"
