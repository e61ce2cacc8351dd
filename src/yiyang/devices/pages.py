"""Device pages: the scoped device list, a device with its binding history and recent messages,
and the dead-letter store for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from yiyang.core import i18n
from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.devices import service
from yiyang.devices.enums import (
    EVENT_LABELS,
    STATUS_LABELS,
    TYPE_LABELS,
    DeviceStatus,
    DeviceType,
    EventKind,
)
from yiyang.web.nav import NavEntry, needs, register_nav
from yiyang.web.templating import register_globals, render

router = APIRouter(include_in_schema=False)
register_nav(
    NavEntry(
        "devices",
        "/devices",
        i18n.N_("Devices"),
        needs(
            Perm.VIEW_DEVICES, unless=(Perm.OWN_SERVICES,)
        ),  # their home page says how the devices are
        50,
        ("/dead-letters",),
    )
)


def _device_label(device_type: str) -> str:
    return i18n.gettext(TYPE_LABELS[DeviceType(device_type)])


def _event_label(event: str) -> str:
    if event in EventKind.__members__.values():
        return i18n.gettext(EVENT_LABELS[EventKind(event)])
    return event


register_globals(
    DEVICE_STATUS_LABELS=STATUS_LABELS, device_label=_device_label, event_label=_event_label
)


@router.get("/devices")
def devices_page(
    request: Request,
    actor: Annotated[Actor, Depends(require(Perm.VIEW_DEVICES))],
    session: DB,
    device_type: str = "",
    status: str = "",
    serial: str = "",
) -> Response:
    devices = service.search(
        session,
        actor,
        device_type=device_type if device_type in set(DeviceType) else None,
        status=status if status in set(DeviceStatus) else None,
        serial=serial,
        limit=200,
    )
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
    device_id: Id,
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
    rows = service.dead_letters(session, code=code or None, limit=200)
    return render(request, "devices/dead_letters.html", rows=rows, code=code)
