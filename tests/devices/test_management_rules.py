"""The pure decisions of device management (devices/rules.py), every case."""

from __future__ import annotations

import pytest

from yiyang.devices import rules
from yiyang.devices.enums import DeviceProtocol, DeviceStatus, DeviceType

P, S, T = DeviceProtocol, DeviceStatus, DeviceType


@pytest.mark.parametrize("kind", list(DeviceType))
def test_registration_over_mqtt_is_open_to_every_type(kind: DeviceType) -> None:
    assert rules.check_registration(kind, P.MQTT, None) is None
    assert rules.check_registration(kind, P.VENDOR, "HS") is None


@pytest.mark.parametrize("kind", sorted(set(DeviceType) - {T.ALARM_PANEL}))
def test_only_an_alarm_panel_calls_the_dc09_receiver(kind: DeviceType) -> None:
    refusal = rules.check_registration(kind, P.DC09, None)
    assert refusal is not None and refusal.field == "protocol" and not refusal.conflict
    assert rules.check_registration(T.ALARM_PANEL, P.DC09, None) is None


def test_a_device_reporting_through_its_vendor_names_the_vendor() -> None:
    for vendor in (None, ""):
        refusal = rules.check_registration(T.SMART_WATCH, P.VENDOR, vendor)
        assert refusal is not None and refusal.field == "vendor_code"


@pytest.mark.parametrize("status", list(DeviceStatus))
def test_retire_once(status: DeviceStatus) -> None:
    refusal = rules.check_retire(status)
    if status is S.RETIRED:
        assert refusal is not None and refusal.conflict
    else:
        assert refusal is None


@pytest.mark.parametrize("status", list(DeviceStatus))
@pytest.mark.parametrize("protocol", list(DeviceProtocol))
def test_an_mqtt_password_only_for_a_device_in_use_on_its_own_mqtt_connection(
    status: DeviceStatus, protocol: DeviceProtocol
) -> None:
    refusal = rules.check_mqtt_password(status, protocol)
    if status is not S.RETIRED and protocol is P.MQTT:
        assert refusal is None
    else:
        assert refusal is not None and refusal.conflict
        assert refusal.field == ("status" if status is S.RETIRED else "protocol")
