"""MQTT 5 framing used by the gateway's subscriber (pipeline/transports/mqtt.py): pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yiyang.pipeline.telemetry import LastSeen, Seen
from yiyang.pipeline.transports import mqtt

pytestmark = pytest.mark.unit


@given(st.integers(min_value=0, max_value=268_435_455))
def test_variable_byte_integer_round_trips(n: int) -> None:
    raw = mqtt.varint(n)
    assert 1 <= len(raw) <= 4
    assert mqtt.read_varint(raw + b"tail", 0) == (n, len(raw))


def test_variable_byte_integer_known_encodings_and_truncation() -> None:
    # the examples in the MQTT 5 specification, 1.5.5
    assert mqtt.varint(0) == b"\x00"
    assert mqtt.varint(127) == b"\x7f"
    assert mqtt.varint(128) == b"\x80\x01"
    assert mqtt.varint(16_383) == b"\xff\x7f"
    assert mqtt.varint(2_097_152) == b"\x80\x80\x80\x01"
    assert mqtt.read_varint(b"\x80", 0) is None  # continues past the end: wait for more bytes
    with pytest.raises(mqtt.ProtocolError):
        mqtt.read_varint(b"\x80\x80\x80\x80\x01", 0)  # five bytes: malformed


def _publish(topic: str, payload: bytes, pid: int, qos: int = 1, props: bytes = b"") -> bytes:
    t = topic.encode()
    body = len(t).to_bytes(2, "big") + t
    if qos:
        body += pid.to_bytes(2, "big")
    body += mqtt.varint(len(props)) + props + payload
    return bytes([0x30 | (qos << 1)]) + mqtt.varint(len(body)) + body


def test_publish_packets_split_across_reads_are_reassembled() -> None:
    big = b"x" * 300  # a two-byte remaining length
    stream = (
        _publish("yiyang/v1/devices/SOS-1/up", b'{"a":1}', 7)
        + _publish("yiyang/v1/devices/W-2/up", big, 65535, props=b"\x01\x01")  # payload format
        + _publish("yiyang/v1/devices/W-3/up", b"{}", 0, qos=0)
        + bytes([mqtt.PINGRESP, 0])
    )
    for cut in range(len(stream) + 1):  # every possible split into two reads
        first, rest = mqtt.split_packets(stream[:cut])
        second, tail = mqtt.split_packets(rest + stream[cut:])
        packets = first + second
        assert tail == b""
        assert [p[0] & 0xF0 for p in packets] == [0x30, 0x30, 0x30, mqtt.PINGRESP]
    parsed = [mqtt.parse_publish(f, b) for f, b in packets[:3]]
    assert parsed == [
        ("yiyang/v1/devices/SOS-1/up", b'{"a":1}', 7, 1),
        ("yiyang/v1/devices/W-2/up", big, 65535, 1),
        ("yiyang/v1/devices/W-3/up", b"{}", 0, 0),
    ]


def test_connect_subscribe_and_puback_bytes() -> None:
    connect = mqtt.connect_packet(
        "gw-1", keepalive=30, session_expiry_s=3600, username="yy", password="pw"
    )
    length, start = mqtt.read_varint(connect, 1) or (0, 0)
    assert connect[0] == mqtt.CONNECT and len(connect) == start + length
    body = connect[start:]
    assert body[:7] == b"\x00\x04MQTT\x05"
    assert body[7] == 0xC0  # username + password, clean start off (the session is kept)
    assert body[8:10] == (30).to_bytes(2, "big")
    props_len, at = mqtt.read_varint(body, 10) or (0, 0)
    props = body[at : at + props_len]
    assert b"\x11" + (3600).to_bytes(4, "big") in props  # session expiry
    assert b"\x21\xff\xff" in props  # receive maximum 65,535
    assert body[at + props_len :] == b"\x00\x04gw-1\x00\x02yy\x00\x02pw"

    sub = mqtt.subscribe_packet(1, "yiyang/v1/+/+/up")
    assert sub[0] == 0x82 and sub.endswith(b"yiyang/v1/+/+/up\x01")  # QoS 1
    assert mqtt.pubacks([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"


def test_last_seen_writes_a_device_once_per_interval_and_when_its_battery_changes() -> None:
    seen = LastSeen(every_s=30)

    def item(device: int, rx: float, battery: int | None = None) -> Seen:
        return Seen(device, rx, battery)

    first = seen.due([item(1, 100.0, 80), item(1, 101.0, 80), item(2, 100.0)])
    assert [(i.device, i.received) for i in first] == [(1, 101.0), (2, 100.0)]  # newest per device
    seen.written(first)
    assert seen.due([item(1, 120.0, 80), item(2, 125.0)]) == []  # within 30 s, same battery
    assert [i.device for i in seen.due([item(1, 125.0, 79)])] == [1]  # battery changed
    assert [i.device for i in seen.due([item(2, 131.0)])] == [2]  # 30 s since the last write
    assert seen.latest(2) == 131.0 and seen.latest(3) is None
    seen.forget(1)  # marked offline: its next message is written at once
    assert [i.device for i in seen.due([item(1, 126.0, 80)])] == [1]


def test_mosquitto_password_hash_matches_mosquitto_passwd() -> None:
    import base64

    from yiyang.devices import credentials

    # `mosquitto_passwd -b pw.txt dev1 secret123` (Mosquitto 2.0.11) wrote this line
    line = (
        "dev1:$7$101$3nXiySqwAe/+T36Y$BuHzOemXt8B/0U23Cuemn5gVtZVr3MwUFajq4GdY3RnmiGzrFE1pF9B/"
        "S8NCjEj3E6LSI2vZlg0s+NegjDudLA=="
    )
    stored = line.split(":", 1)[1]
    salt = base64.b64decode(stored.split("$")[3])
    assert credentials.mosquitto_hash("secret123", salt) == stored
    assert credentials.verify("secret123", stored)
    assert not credentials.verify("secret124", stored)
    fresh = credentials.mosquitto_hash("secret123")
    assert fresh != stored and credentials.verify("secret123", fresh)  # a new salt each time
    text = credentials.password_file([("a", "h1"), ("a", "h2"), ("b:c", "h3"), ("d", "h4")])
    assert text == "a:h1\nd:h4\n"  # one line per user; a colon cannot be in a username
    acl = credentials.acl_file("yiyang")
    assert "user yiyang\ntopic read yiyang/v1/#" in acl
    assert "pattern write yiyang/v1/devices/%u/up" in acl
