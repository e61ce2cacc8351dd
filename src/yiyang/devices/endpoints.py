"""JSON API: device registry, vendor ingest over HTTP, dead letters."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request

from yiyang.core.auth import require
from yiyang.core.bus import BusClosed
from yiyang.core.clock import now as clock_now
from yiyang.core.db import DB
from yiyang.core.errors import DomainError, NotAuthenticated
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.transient import is_transient
from yiyang.core.types import Id, Offset, Text
from yiyang.devices import ingest, service
from yiyang.devices.enums import DeviceStatus, DeviceType
from yiyang.devices.gateway import RawMessage
from yiyang.devices.models import DeadLetter, Device
from yiyang.devices.schemas import (
    AlarmAccountRead,
    AlarmAccountSet,
    Bind,
    DeadLetterRead,
    DeviceCreate,
    DeviceDetail,
    DeviceRead,
    DeviceUpdate,
    IngestResult,
    MqttCredentials,
    Unbind,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["devices"])
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_DEVICES))]
Manager = Annotated[Actor, Depends(require(Perm.MANAGE_DEVICES))]
MAX_INGEST = 1024 * 1024


class Unavailable(DomainError):
    status_code = 503
    code = "unavailable"


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
def bind_device(actor: Manager, session: DB, device_id: Id, data: Bind) -> Device:
    return service.bind(session, actor, service.get_device(session, actor, device_id), data)


@router.post(
    "/devices/{device_id}/unbind", response_model=DeviceRead, summary="Unbind from its elder"
)
def unbind_device(actor: Manager, session: DB, device_id: Id, data: Unbind) -> Device:
    device = service.get_device(session, actor, device_id)
    return service.unbind(session, actor, device, reason=data.reason)


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


@router.post(
    "/ingest",
    response_model=IngestResult,
    summary="Vendor cloud ingest (HMAC-signed batch of device messages)",
    description=(
        'Body: a message, an array of messages, or {"messages": [...]} (format v1, see '
        "docs/devices.md). Headers: X-Yiyang-Vendor, X-Yiyang-Timestamp (Unix seconds), "
        "X-Yiyang-Signature = hex HMAC-SHA256(secret, timestamp + '.' + body). A 200 means every "
        "accepted message is stored; rejected ones are listed with reasons and kept as dead "
        "letters. 503: not stored, retry."
    ),
)
async def ingest_messages(
    request: Request,
    x_yiyang_vendor: Annotated[str | None, Header()] = None,
    x_yiyang_timestamp: Annotated[str | None, Header()] = None,
    x_yiyang_signature: Annotated[str | None, Header()] = None,
) -> IngestResult:
    received = clock_now()
    vendor = x_yiyang_vendor or ""
    try:
        ingest.check_headers(x_yiyang_vendor, x_yiyang_timestamp, x_yiyang_signature)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_INGEST:
            raise ingest.TooLarge(
                f"request body is {declared} bytes, over {MAX_INGEST}", size=int(declared)
            )
        body = await ingest.read_limited(request.stream(), MAX_INGEST)
    except (ingest.TooLarge, NotAuthenticated) as exc:
        # refused before the body was read (or while): kept, with what little we have
        size = exc.extra.get("size", 0)
        await asyncio.to_thread(ingest.keep_refused, vendor, b"", exc, received, size)
        raise
    try:
        vendor_id = await asyncio.to_thread(
            ingest.verify, x_yiyang_vendor, x_yiyang_timestamp, x_yiyang_signature, body
        )
    except NotAuthenticated as exc:
        await asyncio.to_thread(ingest.keep_refused, vendor, body, exc, received)
        raise
    pipeline = getattr(request.app.state, "pipeline", None)
    if pipeline is None:
        raise Unavailable("the device pipeline is not running here; retry later", retry_after=30)
    assert x_yiyang_signature is not None
    raw = RawMessage("http", vendor, ingest.unwrap(body), vendor_id=vendor_id, received_at=received)
    with ingest.claim(vendor_id, x_yiyang_signature):
        try:
            (outcome,) = await pipeline.gateway.submit([raw])
            result = IngestResult(accepted=len(outcome.accepted), rejected=outcome.rejected)
        except Exception as exc:
            if is_transient(exc) or isinstance(exc, BusClosed):
                # nothing recorded: the retry of this very request is welcome
                raise Unavailable(
                    f"not stored ({type(exc).__name__}); retry", retry_after=5
                ) from exc
            # a payload our code cannot store: kept as a dead letter (logged), never a 500
            await pipeline.gateway.store([raw])
            result = IngestResult(
                accepted=0,
                rejected=[{"id": None, "code": "processing_error", "reason": str(exc)[:200]}],
            )
        await _record_nonce(vendor_id, x_yiyang_signature)
    return result


async def _record_nonce(vendor_id: int, sig: str) -> None:
    """The request is stored: from now on its signature is a replay. If the database cannot
    take the nonce just now, the answer is still 200 (the messages are stored); a replay would
    be stored again and deduplicated by (device, message id)."""
    try:
        await asyncio.to_thread(ingest.record, vendor_id, sig)
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("could not record an ingest nonce (%r); relying on message ids", exc)


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
