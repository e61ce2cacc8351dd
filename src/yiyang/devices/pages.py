"""Device pages: the scoped device list, a device with its binding history and recent messages,
and the dead-letter store for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.core import audit
from yiyang.core.auth import require
from yiyang.core.db import get_session
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.devices import service
from yiyang.devices.enums import DeviceStatus, DeviceType
from yiyang.devices.models import DeadLetter, Device
from yiyang.web.templating import render

router = APIRouter(include_in_schema=False)
DB = Annotated[Session, Depends(get_session)]


@router.get("/devices")
def devices_page(
    request: Request,
    actor: Annotated[Actor, Depends(require(Perm.VIEW_DEVICES))],
    session: DB,
    device_type: str = "",
    status: str = "",
    serial: str = "",
) -> Response:
    query = service.readable(actor)
    if device_type in DeviceType.__members__.values():
        query = query.where(Device.device_type == device_type)
    if status in DeviceStatus.__members__.values():
        query = query.where(Device.status == status)
    if serial:
        query = query.where(Device.serial == serial.strip())
    devices = session.scalars(query.order_by(Device.id).limit(200)).all()
    return render(
        request,
        "devices/list.html",
        devices=devices,
        device_type=device_type,
        status=status,
        serial=serial,
        types=list(DeviceType),
        statuses=list(DeviceStatus),
    )


@router.get("/devices/{device_id}")
def device_page(
    request: Request,
    actor: Annotated[Actor, Depends(require(Perm.VIEW_DEVICES))],
    session: DB,
    device_id: int,
) -> Response:
    device = service.get_device(session, actor, device_id)
    return render(
        request, "devices/detail.html", device=device, **service.detail(session, actor, device)
    )


@router.get("/dead-letters")
def dead_letters_page(
    request: Request,
    actor: Annotated[Actor, Depends(require(Perm.VIEW_DEAD_LETTERS))],
    session: DB,
    code: str = "",
) -> Response:
    query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(200)
    if code:
        query = query.where(DeadLetter.code == code)
    rows = session.scalars(query).all()
    audit.record(
        session,
        "read_dead_letters",
        "dead_letter",
        None,
        summary=f"{len(rows)} rows, code={code or '*'}",
    )
    return render(request, "devices/dead_letters.html", rows=rows, code=code)
