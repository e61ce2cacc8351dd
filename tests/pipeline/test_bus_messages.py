"""The typed bus messages (pipeline/messages.py): every kind survives the wire, anything else is
refused with a clear error (which the rule worker dead-letters)."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from yiyang.pipeline.bus import BusMessage
from yiyang.pipeline.messages import (
    KINDS,
    TAGS,
    Baseline,
    DeviceEvent,
    Message,
    Offline,
    Tick,
    UndecodableMessage,
    decode,
    encode,
)

pytestmark = pytest.mark.unit

EXAMPLES: list[Message] = [
    DeviceEvent(
        7, 12, "sos_button", "sos", "m-1", 1764590400.25, 1764590400.5, {}, 80, urgent=True
    ),
    DeviceEvent(
        8,
        13,
        "smart_watch",
        "vitals",
        "m-2",
        1764590400.0,
        1764590401.0,
        {"heart_rate": 72, "spo2": 97.5},
    ),
    Tick(7, 1764590400.0),
    Tick(7, 1764590400.0, routine=True),
    Offline(7, 12, "pir_motion", 1764580000.0, 300, 1764590400.0),
    Baseline(7, [0.0, 1.5] + [2.0] * 22, 28),
]


def test_every_kind_has_an_example_and_a_tag() -> None:
    assert {type(m) for m in EXAMPLES} == set(TAGS) == set(KINDS.values())


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_every_kind_encodes_and_decodes_to_an_equal_object(message: Message) -> None:
    body = encode(message)
    assert decode(body) == message
    assert type(decode(body)) is type(message)
    # the wire: [tag, fields by name]
    tag, fields = orjson.loads(body)
    assert tag == TAGS[type(message)]
    assert fields == dataclasses.asdict(message)


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_a_bus_message_carries_the_object_or_its_bytes(message: Message) -> None:
    handed_over = BusMessage.of(message)
    assert handed_over.key == message.elder
    assert handed_over.urgent == (isinstance(message, DeviceEvent) and message.urgent)
    assert handed_over.decoded() is message
    through_a_broker = BusMessage(handed_over.key, handed_over.payload())
    assert through_a_broker.decoded() == message


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"u": true, "k": "msg", "e": 7, "id": "sos-1"}', "old one-letter format 'msg' is"),
        (b'{"k": "alarm", "e": 7, "now": 1.0}', "old one-letter format with unknown kind"),
        (b'["alarm", {"elder": 7}]', "unknown bus message kind 'alarm'"),
        (b'[3, {"elder": 7}]', "unknown bus message kind '3'"),
        (b'["tick", {"elder": 7}]', "has other fields"),
        (b'["tick", {"elder": 7, "now": 1.0, "zone": "x"}]', "has other fields"),
        (b'["tick"]', "not a [kind, fields] pair"),
        (b'"tick"', "not a [kind, fields] pair"),
        (b"\xff{", "not JSON"),
    ],
)
def test_anything_else_is_refused_with_a_clear_error(body: bytes, says: str) -> None:
    with pytest.raises(UndecodableMessage, match=says.replace("[", r"\[").replace("]", r"\]")):
        decode(body)
    with pytest.raises(UndecodableMessage):
        BusMessage(7, body).decoded()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            {"u": True, "k": "msg", "e": 7, "d": 12, "t": "sos_button", "ev": "sos",
             "id": "m-1", "at": 10.5, "rx": 11.0, "data": {"x": 1}, "b": 80},
            DeviceEvent(7, 12, "sos_button", "sos", "m-1", 10.5, 11.0, {"x": 1}, 80, True),
        ),
        ({"k": "tick", "e": 7, "now": 5.0, "routine": True}, Tick(7, 5.0, True)),
        (
            {"k": "offline", "e": 7, "d": 3, "t": "pir_motion", "seen": 1.0, "iv": 300,
             "now": 2.0},
            Offline(7, 3, "pir_motion", 1.0, 300, 2.0),
        ),
        ({"k": "baseline", "e": 7, "base": [0.5] * 24, "days": 9}, Baseline(7, [0.5] * 24, 9)),
    ],
    ids=["msg", "tick", "offline", "baseline"],
)  # fmt: skip
def test_the_previous_versions_one_letter_dicts_are_still_read(old: dict, new: Message) -> None:
    """What a gateway or sweeper of the previous version left on the stream during an upgrade
    (the dicts exactly as they published them) is evaluated, not lost."""
    assert decode(orjson.dumps(old)) == new
