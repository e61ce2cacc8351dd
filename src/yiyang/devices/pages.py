"""Device pages: the scoped device list with its filters, registering a device, a device with
its binding history and recent messages and — for device managers of its area — binding it to
an elder (searched as typed), unbinding, retiring and issuing its MQTT password (shown once);
and the dead-letter store for administrators.

Writes run as page actions (``web.actions.run_action``: a savepoint, committed with the request);
a refusal is shown beside its field, never as a JSON error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from yiyang.core import i18n
from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.errors import DomainError, field_errors
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.devices import service
from yiyang.devices.enums import (
    EVENT_LABELS,
    PROTOCOL_LABELS,
    STATUS_LABELS,
    TYPE_LABELS,
    DeviceProtocol,
    DeviceStatus,
    DeviceType,
    EventKind,
)
from yiyang.devices.models import Device
from yiyang.devices.schemas import BindingCreate, DeviceCreate, DeviceRetire, DeviceUnbind
from yiyang.web.actions import run_action
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
    DEVICE_STATUS_LABELS=STATUS_LABELS,
    DEVICE_PROTOCOL_LABELS=PROTOCOL_LABELS,
    device_label=_device_label,
    event_label=_event_label,
)
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_DEVICES))]
Manager = Annotated[Actor, Depends(require(Perm.MANAGE_DEVICES))]

# What a field must hold, shown beside it instead of the validator's English sentence.
FIELD_HINTS: dict[str, str] = {
    "serial": i18n.N_(
        "Enter the serial number or IMEI as printed on the device: 1–64 letters, digits or . _ : -"
    ),
    "device_type": i18n.N_("Choose the type of device."),
    "protocol": i18n.N_("Choose how the device reports."),
    "vendor_code": i18n.N_("At most 32 characters."),
    "model": i18n.N_("At most 64 characters."),
    "room": i18n.N_("At most 32 characters."),
    "reason": i18n.N_("Give the reason (at most 255 characters)."),
    "elder_id": i18n.N_("Choose the elder from the search results."),
}
REGISTER_FIELDS = ("device_type", "serial", "protocol", "model", "vendor_code", "room")


def _errors(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in field_errors(exc.errors()):
        key = e["field"].split(".")[0] or "form"
        hint = FIELD_HINTS.get(key)
        out.setdefault(key, i18n.gettext(hint) if hint else e["message"])
    return out


def _refused(exc: DomainError) -> dict[str, str]:
    return {exc.field or "form": exc.message}


def _text(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


@router.get("/devices")
def devices_page(
    request: Request,
    actor: Viewer,
    session: DB,
    device_type: str = "",
    status: str = "",
    serial: str = "",
    bound: str = "",
    offline: str = "",
) -> Response:
    devices = service.search(
        session,
        actor,
        device_type=device_type if device_type in set(DeviceType) else None,
        status=status if status in set(DeviceStatus) else None,
        serial=serial,
        bound={"yes": True, "no": False}.get(bound),
        offline=offline == "1",
        limit=200,
    )
    names = service.elder_names(session, actor, {d.elder_id for d in devices if d.elder_id})
    return render(
        request,
        "devices/list.html",
        devices=devices,
        names=names,
        device_type=device_type,
        status=status,
        serial=serial,
        bound=bound,
        offline=offline == "1",
        types=list(DeviceType),
        statuses=list(DeviceStatus),
    )


def _register_page(
    request: Request, values: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> Response:
    return render(
        request,
        "devices/new.html",
        status_code=status_code,
        values=values,
        errors=errors,
        types=list(DeviceType),
        protocols=list(DeviceProtocol),
    )


@router.get("/devices/new")
def register_page(request: Request, actor: Manager) -> Response:
    return _register_page(request, {"protocol": DeviceProtocol.MQTT.value}, {})


@router.post("/devices/new")
async def register_device(request: Request, actor: Manager, session: DB) -> Response:
    form = await request.form()
    values = {key: _text(form, key) for key in REGISTER_FIELDS}
    try:
        data = DeviceCreate(**{k: v for k, v in values.items() if v})
    except ValidationError as exc:
        return _register_page(request, values, _errors(exc), 422)
    created: list[Device] = []
    refused = await run_in_threadpool(
        run_action, session, lambda: created.append(service.register(session, actor, data))
    )
    if refused is not None:
        return _register_page(request, values, _refused(refused), refused.status_code)
    return RedirectResponse(f"/devices/{created[0].id}", status_code=303)


def _detail_page(
    request: Request,
    actor: Actor,
    session: Session,
    device_id: int,
    status_code: int = 200,
    **context: Any,
) -> Response:
    device = service.get_device(session, actor, device_id)
    detail = service.detail(session, actor, device)
    ids = {b.elder_id for b in detail["bindings"]}
    q = context.pop("q", "")
    can_manage = service.can_manage(actor, device)
    return render(
        request,
        "devices/detail.html",
        status_code=status_code,
        device=device,
        names=service.elder_names(session, actor, ids),
        can_manage=can_manage,
        q=q,
        found=service.find_elders(session, actor, device, q) if can_manage and q else [],
        errors=context.pop("errors", {}),
        step=context.pop("step", ""),
        **detail,
        **context,
    )


@router.get("/devices/{device_id}")
def device_page(
    request: Request, actor: Viewer, session: DB, device_id: Id, step: str = ""
) -> Response:
    """``step``: ``retire`` or ``password`` opens that action's confirmation in place."""
    return _detail_page(
        request, actor, session, device_id, step=step if step in ("retire", "password") else ""
    )


@router.get("/devices/{device_id}/elders")
def elder_options(
    request: Request, actor: Manager, session: DB, device_id: Id, q: str = ""
) -> Response:
    """The elders matching what was typed, as choices of the bind form (an HTMX fragment)."""
    device = service.get_device(session, actor, device_id)
    return render(
        request,
        "devices/_elder_options.html",
        device=device,
        q=q,
        found=service.find_elders(session, actor, device, q),
        errors={},
    )


def _unless_refused(
    request: Request,
    actor: Actor,
    session: Session,
    device_id: int,
    refused: DomainError | None,
    **context: Any,
) -> Response:
    if refused is None:
        return RedirectResponse(f"/devices/{device_id}", status_code=303)
    if refused.status_code == 404:
        raise refused
    return _detail_page(
        request,
        actor,
        session,
        device_id,
        refused.status_code,
        errors=_refused(refused),
        **context,
    )


@router.post("/devices/{device_id}/bind")
async def bind_device(request: Request, actor: Manager, session: DB, device_id: Id) -> Response:
    form = await request.form()
    q, elder_id, room = _text(form, "q"), _text(form, "elder_id"), _text(form, "room")
    if not elder_id and q:  # Enter in the search box (without HTMX): show what it finds
        return _detail_page(request, actor, session, device_id, q=q)
    try:
        data = BindingCreate(elder_id=elder_id or None, room=room or None)
    except ValidationError as exc:
        return _detail_page(request, actor, session, device_id, 422, errors=_errors(exc), q=q)
    device = service.get_device(session, actor, device_id)
    refused = await run_in_threadpool(
        run_action, session, lambda: service.bind(session, actor, device, data)
    )
    return _unless_refused(request, actor, session, device_id, refused, q=q)


def _reason_form(form: Mapping[str, Any], model: type[BaseModel]) -> BaseModel | dict[str, str]:
    try:
        return model(reason=_text(form, "reason"))
    except ValidationError as exc:
        return _errors(exc)


@router.post("/devices/{device_id}/unbind")
async def unbind_device(request: Request, actor: Manager, session: DB, device_id: Id) -> Response:
    data = _reason_form(await request.form(), DeviceUnbind)
    if not isinstance(data, DeviceUnbind):
        return _detail_page(request, actor, session, device_id, 422, errors=data)
    device = service.get_device(session, actor, device_id)
    refused = await run_in_threadpool(
        run_action, session, lambda: service.unbind(session, actor, device, reason=data.reason)
    )
    return _unless_refused(request, actor, session, device_id, refused)


@router.post("/devices/{device_id}/retire")
async def retire_device(request: Request, actor: Manager, session: DB, device_id: Id) -> Response:
    data = _reason_form(await request.form(), DeviceRetire)
    if not isinstance(data, DeviceRetire):
        return _detail_page(request, actor, session, device_id, 422, errors=data, step="retire")
    device = service.get_device(session, actor, device_id)
    refused = await run_in_threadpool(
        run_action, session, lambda: service.retire(session, actor, device, reason=data.reason)
    )
    return _unless_refused(request, actor, session, device_id, refused, step="retire")


@router.post("/devices/{device_id}/mqtt-password")
async def issue_mqtt_password(
    request: Request, actor: Manager, session: DB, device_id: Id
) -> Response:
    """Issue (or, confirmed, replace) the MQTT password and show it on this answer only: the
    page is not cached (no-store) and no later page can show it, only when it was issued."""
    form = await request.form()
    device = service.get_device(session, actor, device_id)
    if device.mqtt_password_hash and _text(form, "confirm") != "1":
        return _detail_page(request, actor, session, device_id, step="password")
    issued: list[dict[str, str]] = []
    refused = await run_in_threadpool(
        run_action,
        session,
        lambda: issued.append(service.issue_mqtt_password(session, actor, device)),
    )
    if refused is not None:
        return _unless_refused(request, actor, session, device_id, refused)
    return _detail_page(request, actor, session, device_id, issued=issued[0])


@router.get("/dead-letters")
def dead_letters_page(
    request: Request,
    actor: Annotated[Actor, Depends(require(Perm.VIEW_DEAD_LETTERS))],
    session: DB,
    code: str = "",
) -> Response:
    rows = service.dead_letters(session, code=code or None, limit=200)
    return render(request, "devices/dead_letters.html", rows=rows, code=code)
