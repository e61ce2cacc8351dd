"""Pure decisions of device management (no I/O): may this device be registered so, retired,
given an MQTT password. Each answers ``None`` (allowed) or a ``Refusal`` naming the form field
it belongs beside; the service raises it, the pages show it there."""

from __future__ import annotations

from dataclasses import dataclass

from yiyang.core.i18n import gettext as _
from yiyang.devices.enums import DeviceProtocol, DeviceStatus, DeviceType


@dataclass(frozen=True, slots=True)
class Refusal:
    field: str
    message: str
    conflict: bool = False  # the device's state forbids it (409), not the input (422)


def check_registration(
    device_type: DeviceType, protocol: DeviceProtocol, vendor_code: str | None
) -> Refusal | None:
    """Only an alarm panel calls the DC-09 receiver; a device sending through its vendor's
    platform must name the vendor, whose signature or gateway login vouches for it."""
    if protocol is DeviceProtocol.DC09 and device_type is not DeviceType.ALARM_PANEL:
        return Refusal(
            "protocol", _("Only an alarm panel reports over SIA DC-09; choose MQTT or the vendor.")
        )
    if protocol is DeviceProtocol.VENDOR and not vendor_code:
        return Refusal(
            "vendor_code", _("Name the vendor whose platform forwards this device's messages.")
        )
    return None


def check_retire(status: DeviceStatus) -> Refusal | None:
    if status is DeviceStatus.RETIRED:
        return Refusal("status", _("This device is already retired."), conflict=True)
    return None


def check_mqtt_password(status: DeviceStatus, protocol: DeviceProtocol) -> Refusal | None:
    """Only a device with its own MQTT connection logs in to the broker; a retired one never
    again."""
    if status is DeviceStatus.RETIRED:
        return Refusal("status", _("A retired device gets no credentials."), conflict=True)
    if protocol is not DeviceProtocol.MQTT:
        return Refusal(
            "protocol",
            _(
                "This device does not connect to the MQTT broker itself: it reports through "
                "its vendor's platform or the DC-09 receiver, so it has no password of its own."
            ),
            conflict=True,
        )
    return None
