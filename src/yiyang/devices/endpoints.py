"""JSON API: device registry and dead letters (vendor ingest: pipeline.transports.http)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id, Offset, Text
from yiyang.devices import service
from yiyang.devices.enums import DeviceStatus, DeviceType
from yiyang.devices.models import DeadLetter, Device
from yiyang.devices.schemas import (
    AlarmAccountRead,
    AlarmAccountSet,
    BindingCreate,
    BindingEnd,
    DeadLetterRead,
    DeviceCreate,
    DeviceDetail,
    DeviceRead,
    DeviceRetire,
    DeviceUpdate,
    MqttCredentials,
)

router = APIRouter(prefix="/api", tags=["devices"])
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_DEVICES))]
Manager = Annotated[Actor, Depends(require(Perm.MANAGE_DEVICES))]


@router.get("/devices", response_model=list[DeviceRead], summary="List devices in your area")
def list_devices(
    actor: Viewer,
    session: DB,
    device_type: DeviceType | None = None,
    status: DeviceStatus | None = None,
    elder_id: Id | None = None,
    serial: Text | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[Offset, Query()] = 0,
) -> list[Device]:
    return service.search(
        session,
        actor,
        device_type=device_type,
        status=status,
        elder_id=elder_id,
        serial=serial,
        limit=limit,
        offset=offset,
    )


@router.post("/devices", response_model=DeviceRead, status_code=201, summary="Register a device")
def create_device(actor: Manager, session: DB, data: DeviceCreate) -> Device:
    return service.register(session, actor, data)


@router.get(
    "/devices/{device_id}",
    response_model=DeviceDetail,
    summary="A device, its bindings and recent messages",
)
def get_device(actor: Viewer, session: DB, device_id: Id) -> dict:
    device = service.get_device(session, actor, device_id)
    return {
        **DeviceRead.model_validate(device).model_dump(),
        **service.detail(session, actor, device),
    }


@router.patch(
    "/devices/{device_id}", response_model=DeviceRead, summary="Change or retire a device"
)
def update_device(actor: Manager, session: DB, device_id: Id, data: DeviceUpdate) -> Device:
    return service.update_device(
        session, actor, service.get_device(session, actor, device_id), data
    )


@router.post("/devices/{device_id}/bind", response_model=DeviceRead, summary="Bind to an elder")
def bind_device(actor: Manager, session: DB, device_id: Id, data: BindingCreate) -> Device:
    return service.bind(session, actor, service.get_device(session, actor, device_id), data)


@router.post(
    "/devices/{device_id}/unbind", response_model=DeviceRead, summary="Unbind from its elder"
)
def unbind_device(actor: Manager, session: DB, device_id: Id, data: BindingEnd) -> Device:
    device = service.get_device(session, actor, device_id)
    return service.unbind(session, actor, device, reason=data.reason)


@router.post(
    "/devices/{device_id}/retire",
    response_model=DeviceRead,
    summary="Retire a device: unbound, its messages refused, its MQTT password dropped; its open "
    "alerts stay open for the operators",
)
def retire_device(actor: Manager, session: DB, device_id: Id, data: DeviceRetire) -> Device:
    device = service.get_device(session, actor, device_id)
    return service.retire(session, actor, device, reason=data.reason)


@router.put(
    "/devices/{device_id}/alarm-account",
    response_model=AlarmAccountRead,
    summary="Set an alarm panel's DC-09 / Contact ID account, AES key and supervision interval",
)
def set_alarm_account(
    actor: Manager, session: DB, device_id: Id, data: AlarmAccountSet
) -> dict[str, object]:
    device = service.get_device(session, actor, device_id)
    return service.set_alarm_account(session, actor, device, data)


@router.post(
    "/devices/{device_id}/mqtt-password",
    response_model=MqttCredentials,
    summary="Issue the device a new MQTT password (shown once; the broker learns it from "
    "`yiyang mqtt-auth`)",
)
def issue_mqtt_password(actor: Manager, session: DB, device_id: Id) -> dict[str, str]:
    device = service.get_device(session, actor, device_id)
    return service.issue_mqtt_password(session, actor, device)


@router.get(
    "/dead-letters", response_model=list[DeadLetterRead], summary="Rejected device messages"
)
def dead_letters(
    actor: Annotated[Actor, Depends(require(Perm.VIEW_DEAD_LETTERS))],
    session: DB,
    code: Text | None = None,
    serial: Text | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeadLetter]:
    return service.dead_letters(session, code=code, serial=serial, limit=limit)
