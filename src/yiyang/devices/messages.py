"""The device message format (v1) and its validation: pure functions, no I/O.

A message is one JSON object; a vendor gateway may send a JSON array of them in one MQTT
payload, and the HTTP ingest takes ``{"messages": [...]}``. Every problem becomes a
``Rejection`` with a code and a sentence a person can act on; nothing here raises on bad input.
docs/devices.md documents the format; docs/schema/device-message-v1.json is generated from the
models below (``schema_document``) and a test keeps the two equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from yiyang.devices.enums import EVENTS, DeviceType, EventKind
from yiyang.devices.protocols import codes

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 256 * 1024  # a vendor batch of ~1,000 messages fits comfortably
MAX_BATCH = 1000
MAX_DEPTH = 8  # deeper JSON than the format ever needs is refused before validation
MAX_FUTURE = dt.timedelta(minutes=5)  # device clocks drift; more than this is a broken clock
MAX_PAST = dt.timedelta(hours=72)  # devices buffer while offline; older than this is refused

Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:\-]{1,64}$")]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Empty(_Data):
    """sos, smoke, test, tamper, heartbeat, away, home: the event is the message."""


class FallData(_Data):
    confidence: float | None = Field(None, ge=0, le=1)


class GasData(_Data):
    ppm: float | None = Field(None, ge=0, le=100_000)


class VitalsData(_Data):
    heart_rate: int | None = Field(None, ge=20, le=250, description="beats per minute")
    spo2: int | None = Field(None, ge=50, le=100, description="blood oxygen saturation, %")
    breathing_rate: int | None = Field(None, ge=3, le=60, description="breaths per minute")
    temperature: float | None = Field(None, ge=30, le=43, description="°C")

    @model_validator(mode="after")
    def _one_at_least(self) -> VitalsData:
        if not any(v is not None for v in self.__dict__.values()):
            raise ValueError("vitals need at least one of heart_rate, spo2, breathing_rate")
        return self


class GpsData(_Data):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy: float | None = Field(None, ge=0, le=10_000, description="metres")


class StepsData(_Data):
    steps: int = Field(ge=0, le=200_000, description="steps today so far")


class WearData(_Data):
    worn: bool


class PresenceData(_Data):
    present: bool


class DoorData(_Data):
    open: bool


class MotionData(_Data):
    count: int = Field(ge=1, le=10_000, description="motion detections since the last report")


class MeterData(_Data):
    total_litres: float = Field(ge=0, le=1e9, description="cumulative reading")


class BpData(_Data):
    systolic: int = Field(ge=50, le=300)
    diastolic: int = Field(ge=30, le=200)
    pulse: int | None = Field(None, ge=20, le=250)

    @model_validator(mode="after")
    def _order(self) -> BpData:
        if self.diastolic >= self.systolic:
            raise ValueError("diastolic must be lower than systolic")
        return self


class GlucoseData(_Data):
    mmol_l: float = Field(ge=0.5, le=40, description="mmol/L")


class BedData(_Data):
    in_bed: bool


class ContactData(_Data):
    active: bool = Field(
        True, description="true: opened / pressed / on (the object in use); false: put back"
    )


class PanelData(_Data):
    """What an alarm panel's event carries (filled in from the protocol code)."""

    protocol: Literal["contact_id", "sia_dcs"] | None = None
    code: str | None = Field(None, max_length=8)
    label: str | None = Field(None, max_length=64)
    zone: str | None = Field(None, max_length=8)
    partition: str | None = Field(None, max_length=4)
    restore: bool | None = None
    status_report: bool | None = None


class CidData(_Data):
    frame: str = Field(
        max_length=40, description="Contact ID frame ACCT 18 QXYZ GG CCC S, checksum included"
    )


EVENT_DATA: dict[EventKind, type[_Data]] = {
    EventKind.HEARTBEAT: Empty,
    EventKind.SOS: Empty,
    EventKind.FALL: FallData,
    EventKind.SMOKE: Empty,
    EventKind.GAS: GasData,
    EventKind.TEST: Empty,
    EventKind.TAMPER: Empty,
    EventKind.VITALS: VitalsData,
    EventKind.GPS: GpsData,
    EventKind.STEPS: StepsData,
    EventKind.WEAR: WearData,
    EventKind.PRESENCE: PresenceData,
    EventKind.DOOR: DoorData,
    EventKind.MOTION: MotionData,
    EventKind.METER: MeterData,
    EventKind.BP: BpData,
    EventKind.GLUCOSE: GlucoseData,
    EventKind.BED: BedData,
    EventKind.CONTACT: ContactData,
    EventKind.AWAY: Empty,
    EventKind.HOME: Empty,
    EventKind.TROUBLE: PanelData,
    EventKind.CID: CidData,
}

# Events an alarm panel sends with protocol details rather than an empty body.
PANEL_EVENTS = frozenset({EventKind.SOS, EventKind.SMOKE, EventKind.GAS, EventKind.TAMPER})


class WireMessage(BaseModel):
    """One device message as sent on the wire (format version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = Field(description="format version")
    id: Ident = Field(description="message id, unique per device; redeliveries repeat it")
    device: Ident = Field(description="device serial number or IMEI")
    type: DeviceType
    event: EventKind
    ts: AwareDatetime = Field(description="when it happened, ISO 8601 with offset")
    battery: int | None = Field(None, ge=0, le=100, description="battery, %")
    data: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused: a stable code and a sentence a person can act on."""

    code: str
    reason: str
    serial: str | None = None
    msg_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """A valid message, typed."""

    msg_id: str
    serial: str
    device_type: DeviceType
    event: EventKind
    at: dt.datetime
    data: dict[str, Any] = field(default_factory=dict)
    battery: int | None = None


def _depth(value: Any, limit: int) -> bool:
    """True when ``value`` nests deeper than ``limit`` (iterative: safe on hostile input)."""
    if isinstance(value, dict) and limit >= 2:
        # the usual message: an object whose values nest at most one level (``data``)
        flat = True
        for v in value.values():
            inner: Iterable[Any]
            if isinstance(v, dict):
                inner = v.values()
            elif isinstance(v, list):
                inner = v
            else:
                continue
            if any(isinstance(w, dict | list) for w in inner):
                flat = False
                break
        if flat:
            return False
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return False


def decode(raw: bytes, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> list[Any] | Rejection:
    """Bytes → a list of candidate message objects (one, or a gateway's batch)."""
    if len(raw) > max_bytes:
        return Rejection("too_large", f"payload is {len(raw)} bytes, the limit is {max_bytes}")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejection("bad_json", f"not valid JSON: {exc}")
    if isinstance(value, dict):
        value = [value]
    elif not isinstance(value, list):
        return Rejection("not_object", "a message must be a JSON object (or an array of them)")
    if len(value) > MAX_BATCH:
        return Rejection(
            "too_many", f"{len(value)} messages in one payload, the limit is {MAX_BATCH}"
        )
    return value


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "message"


def _ident(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value[:64] if isinstance(value, str) else None


def validate(
    obj: Any,
    *,
    now: dt.datetime,
    max_future: dt.timedelta = MAX_FUTURE,
    max_past: dt.timedelta = MAX_PAST,
) -> Reading | Rejection:
    """One decoded object → a ``Reading``, or the first thing wrong with it."""
    if not isinstance(obj, dict):
        return Rejection("not_object", f"a message must be a JSON object, got {type(obj).__name__}")
    serial, msg_id = _ident(obj, "device"), _ident(obj, "id")
    if _depth(obj, MAX_DEPTH):
        return Rejection("too_deep", f"JSON nested deeper than {MAX_DEPTH} levels", serial, msg_id)
    try:
        wire = WireMessage.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        return Rejection("schema", f"{_where(err['loc'])}: {err['msg']}", serial, msg_id)
    if wire.event not in EVENTS[wire.type]:
        allowed = ", ".join(sorted(EVENTS[wire.type]))
        return Rejection(
            "wrong_event",
            f"a {wire.type} does not send '{wire.event}' (it sends: {allowed})",
            serial,
            msg_id,
        )
    model = EVENT_DATA[wire.event]
    if wire.type is DeviceType.ALARM_PANEL and wire.event in PANEL_EVENTS | {EventKind.TEST}:
        model = PanelData
    try:
        data = model.model_validate(wire.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        return Rejection("schema", f"data.{_where(err['loc'])}: {err['msg']}", serial, msg_id)
    try:
        at = wire.ts.astimezone(dt.UTC)
        skew = at - now
    except OverflowError:  # e.g. 9999-12-31T23:59:59-23:59: valid ISO 8601, no UTC instant
        return Rejection(
            "bad_time",
            f"ts {wire.ts.isoformat()} is outside the years 1–9999 in UTC",
            serial,
            msg_id,
        )
    if skew > max_future:
        return Rejection(
            "clock_skew",
            f"device clock is {_span(skew)} ahead of the platform (limit {_span(max_future)})",
            serial,
            msg_id,
        )
    if -skew > max_past:
        return Rejection(
            "clock_skew",
            f"message is {_span(-skew)} old (limit {_span(max_past)}); check the device clock",
            serial,
            msg_id,
        )
    event, fields = wire.event, data.model_dump(exclude_none=True)
    if isinstance(data, CidData):
        try:
            frame = codes.parse_frame(data.frame)
        except codes.CidError as exc:
            return Rejection(exc.code, exc.reason, serial, msg_id)
        mapped = codes.map_cid(frame.qualifier, frame.code, frame.partition, frame.zone)
        if mapped is None:
            return Rejection(
                "unsupported_code",
                f"Contact ID event {frame.code} is not one Yiyang handles (docs/protocols.md)",
                serial,
                msg_id,
            )
        event, fields = mapped.event, mapped.data
    return Reading(
        msg_id=wire.id,
        serial=wire.device,
        device_type=wire.type,
        event=event,
        at=at,
        data=fields,
        battery=wire.battery,
    )


def _span(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def schema_document() -> dict[str, Any]:
    """JSON Schema (2020-12) of format v1: the envelope plus, per event, the shape of ``data``
    and, per device type, the events it may send."""
    envelope = WireMessage.model_json_schema(ref_template="#/$defs/{model}")
    defs = envelope.pop("$defs", {})
    rules: list[dict[str, Any]] = []
    panel = {"properties": {"type": {"const": DeviceType.ALARM_PANEL.value}}}
    panel_events = sorted(e.value for e in PANEL_EVENTS | {EventKind.TEST})
    for kind, model in EVENT_DATA.items():
        sub = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(sub.pop("$defs", {}))
        name = f"{kind.value}_data"
        defs[name] = sub
        condition: dict[str, Any] = {"properties": {"event": {"const": kind.value}}}
        if kind.value in panel_events:  # an alarm panel's alarms carry protocol details
            condition = {**condition, "not": panel}
        rules.append(
            {"if": condition, "then": {"properties": {"data": {"$ref": f"#/$defs/{name}"}}}}
        )
    rules.append(
        {
            "if": {**panel, "properties": {**panel["properties"], "event": {"enum": panel_events}}},
            "then": {"properties": {"data": {"$ref": "#/$defs/trouble_data"}}},
        }
    )
    for dtype, events in EVENTS.items():
        rules.append(
            {
                "if": {"properties": {"type": {"const": dtype.value}}},
                "then": {"properties": {"event": {"enum": sorted(e.value for e in events)}}},
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://yiyang.example/schema/device-message-v1.json",
        **envelope,
        "allOf": rules,
        "$defs": dict(sorted(defs.items())),
    }
