from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from yiyang.core.types import Id, Input
from yiyang.devices.enums import DeviceProtocol, DeviceStatus, DeviceType


class DeviceCreate(Input):
    model_config = ConfigDict(extra="forbid")
    serial: str = Field(pattern=r"^[A-Za-z0-9._:\-]{1,64}$")
    device_type: DeviceType
    protocol: DeviceProtocol = Field(
        DeviceProtocol.MQTT,
        description="how it reaches the platform: its own MQTT connection (a password of its "
        "own), its vendor's platform (vendor_code required), or SIA DC-09 (alarm panels)",
    )
    vendor_code: str | None = Field(None, max_length=32)
    model: str | None = Field(None, max_length=64)
    elder_id: Id | None = None
    room: str | None = Field(None, max_length=32)
    installed_on: dt.date | None = None
    report_interval_s: int | None = Field(None, ge=30, le=7 * 86400)
    notes: str | None = None


class DeviceUpdate(Input):
    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(None, max_length=64)
    room: str | None = Field(None, max_length=32)
    report_interval_s: int | None = Field(None, ge=30, le=7 * 86400)
    status: DeviceStatus | None = None
    notes: str | None = None

    @field_validator("report_interval_s", "status")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # may be left out (unchanged); null would empty a column that must have a value
        if value is None:
            raise ValueError("must not be null")
        return value


class BindingCreate(Input):
    model_config = ConfigDict(extra="forbid")
    elder_id: Id
    room: str | None = Field(None, max_length=32)
    reason: str | None = Field(None, max_length=255)


class BindingEnd(Input):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=255)


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class DeviceUnbind(Input):
    """Unbinding from the device page: the reason is required there (the binding history)."""

    model_config = ConfigDict(extra="forbid")
    reason: Reason


class DeviceRetire(Input):
    model_config = ConfigDict(extra="forbid")
    reason: Reason = Field(description="why it is taken out of use")


class DeviceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    serial: str
    device_type: DeviceType
    protocol: DeviceProtocol
    vendor_id: int | None
    model: str | None
    elder_id: int | None
    region_path: str
    room: str | None
    installed_on: dt.date | None
    report_interval_s: int
    battery: int | None
    last_seen_at: dt.datetime | None
    status: DeviceStatus
    mqtt_password_issued_at: dt.datetime | None = Field(
        None, description="when its MQTT password was issued (the password is never shown again)"
    )
    version: int


class MqttCredentials(BaseModel):
    username: str = Field(description="the device's serial: its MQTT username")
    password: str = Field(description="shown this once; only a hash is kept")


class BindingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    elder_id: int
    room: str | None
    bound_at: dt.datetime
    bound_by: int | None
    unbound_at: dt.datetime | None
    unbound_by: int | None
    reason: str | None


class DeviceDetail(DeviceRead):
    bindings: list[BindingRead]
    recent: list[dict[str, Any]]


class IngestResult(BaseModel):
    accepted: int
    rejected: list[dict[str, Any]]


class DeadLetterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    received_at: dt.datetime
    transport: str
    source: str
    code: str
    reason: str
    serial: str | None
    msg_id: str | None
    size: int
    payload: str


class AlarmAccountSet(Input):
    """The DC-09 / Contact ID account an alarm panel reports under."""

    account: str = Field(
        pattern=r"^[0-9A-Fa-f]{3,16}$", description="3-16 hex digits, as programmed in the panel"
    )
    aes_key: str | None = Field(
        None,
        pattern=r"^[0-9A-Fa-f]{16}$|^[0-9A-Fa-f]{24}$|^[0-9A-Fa-f]{32}$",
        description="the panel's AES key (16, 24 or 32 hex characters) if it encrypts; "
        "never shown again",
    )
    supervision_s: int = Field(
        3600, ge=180, le=86400, description="line supervision interval: 3 min to 24 h"
    )


class AlarmAccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    device_id: int
    account: str
    encrypted: bool
    supervision_s: int
