"""What travels on the bus: one typed message per kind, the only place their fields are named.

- ``DeviceEvent``: a device message the gateway accepted (validated, bound to an elder).
- ``Tick``: the sweeper's clock for one elder (silence rules; ``routine``: the hourly check
  against the learnt baseline).
- ``Offline``: the sweeper saw a device silent past its reporting interval.
- ``Baseline``: the elder's usual hourly activity, learnt nightly by the sweeper.

Every kind is keyed by its elder (the bus partitions by it, so each elder's messages are
handled in order by one worker). The in-process bus hands the objects over as they are; a
broker bus (JetStream) carries bytes made by ``encode`` and read back by ``decode``.

Wire format (JSON, orjson; dataclasses serialise natively): a two-element array, the kind's tag
and the fields by name::

    ["event", {"elder": 7, "device": 12, "type": "sos_button", "event": "sos", "id": "m-1",
               "at": 1764590400.0, "received": 1764590400.2, "data": {}, "battery": 80,
               "urgent": true}]
    ["tick", {"elder": 7, "now": 1764590400.0, "routine": false}]
    ["offline", {"elder": 7, "device": 12, "type": "pir_motion", "seen": …, "interval": 300,
                 "now": …}]
    ["baseline", {"elder": 7, "base": [0.0, …], "days": 28}]

Times are Unix seconds (floats). ``decode`` also reads the one-letter dicts (``{"k": "msg",
"e": …}``) that the gateway and sweeper published before these types existed, so an alarm still
on the stream during a rolling upgrade is evaluated, not lost (``_from_version_0``; drop it one
release after every site has drained). Anything else raises ``UndecodableMessage``, and the
rule worker keeps it as a dead letter (code ``processing_error``, transport ``bus``) and logs
it, as it does any message it fails on: never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson


class UndecodableMessage(ValueError):
    """Bytes on the bus that are not a message of this version."""


@dataclass(slots=True, frozen=True)
class DeviceEvent:
    """A device message accepted by the gateway."""

    elder: int
    device: int
    type: str  # DeviceType value
    event: str  # EventKind value
    id: str  # the device's message id (with the device: the deduplication key)
    at: float  # the message's own time
    received: float  # when a transport received it
    data: dict[str, Any]
    battery: int | None = None
    urgent: bool = False  # an alarm: travels in the bus's urgent lane

    @property
    def at_time(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.at, dt.UTC)


@dataclass(slots=True, frozen=True)
class Tick:
    """The clock, for one elder's silence rules."""

    elder: int
    now: float
    routine: bool = False


@dataclass(slots=True, frozen=True)
class Offline:
    """A device of the elder has been silent past its reporting interval."""

    elder: int
    device: int
    type: str  # DeviceType value
    seen: float  # its stored last-seen time
    interval: int  # its reporting interval (s)
    now: float


@dataclass(slots=True, frozen=True)
class Baseline:
    """The elder's usual cumulative activity per hour, from ``days`` days of history."""

    elder: int
    base: list[float]
    days: int


Message = DeviceEvent | Tick | Offline | Baseline

TAGS: dict[type[Message], str] = {
    DeviceEvent: "event",
    Tick: "tick",
    Offline: "offline",
    Baseline: "baseline",
}
KINDS: dict[str, type[Message]] = {tag: kind for kind, tag in TAGS.items()}


def encode(message: Message) -> bytes:
    """The message as bytes for a broker bus (see the module docstring)."""
    return orjson.dumps((TAGS[type(message)], message))


def decode(body: bytes) -> Message:
    """Bytes from ``encode`` back into the message; anything else raises
    ``UndecodableMessage`` saying what was wrong."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UndecodableMessage(f"bus message is not JSON: {exc}") from None
    if isinstance(value, dict) and "k" in value:
        return _from_version_0(value)
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], dict)):
        raise UndecodableMessage("bus message is not a [kind, fields] pair")
    tag, fields = value
    kind = KINDS.get(tag) if isinstance(tag, str) else None
    if kind is None:
        raise UndecodableMessage(f"unknown bus message kind {str(tag)[:20]!r}")
    try:
        return kind(**fields)
    except TypeError as exc:
        raise UndecodableMessage(f"bus message {tag!r} has other fields: {exc}") from None


_VERSION_0: dict[str, dict[str, str]] = {
    # old kind → {old key: field}
    "msg": {
        "e": "elder",
        "d": "device",
        "t": "type",
        "ev": "event",
        "id": "id",
        "at": "at",
        "rx": "received",
        "data": "data",
        "b": "battery",
        "u": "urgent",
    },
    "tick": {"e": "elder", "now": "now", "routine": "routine"},
    "offline": {
        "e": "elder",
        "d": "device",
        "t": "type",
        "seen": "seen",
        "iv": "interval",
        "now": "now",
    },
    "baseline": {"e": "elder", "base": "base", "days": "days"},
}
_VERSION_0_KINDS: dict[str, type[Message]] = {
    "msg": DeviceEvent,
    "tick": Tick,
    "offline": Offline,
    "baseline": Baseline,
}


def _from_version_0(value: dict[str, Any]) -> Message:
    """A one-letter dict published by a gateway or sweeper of the previous version."""
    old_kind = value["k"]
    names = _VERSION_0.get(old_kind) if isinstance(old_kind, str) else None
    if names is None:
        raise UndecodableMessage(
            f"bus message in the old one-letter format with unknown kind {str(old_kind)[:20]!r}"
        )
    fields = {field: value[key] for key, field in names.items() if key in value}
    try:
        return _VERSION_0_KINDS[old_kind](**fields)
    except TypeError as exc:
        raise UndecodableMessage(
            f"bus message in the old one-letter format {old_kind!r} is incomplete: {exc}"
        ) from None
