"""Alarm-receiving-centre protocols, pure parts: Contact ID checksums and frames, the code
mapping (and its published table), DC-09 block reading and answers, and what the rules make of
panel events (restores, troubles, line supervision)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from dc09_spt.msg.dc03_msg import dc03_msg
from dc09_spt.msg.dc05_msg import dc05_msg
from dc09_spt.msg.dc09_msg import dc09_msg
from hypothesis import given
from hypothesis import strategies as st
from pysiaalarm import SIAAccount

from yiyang.alarms import rules
from yiyang.alarms.enums import AlertType, Severity
from yiyang.devices import messages
from yiyang.devices.enums import DeviceType, EventKind
from yiyang.devices.protocols import codes, dc09

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


# -- Contact ID checksum -------------------------------------------------------------------
def test_contact_id_checksum_public_vectors() -> None:
    # SIA DC-05 worked example: 1234 18 1131 01 015 → digits sum to 52 (0 counts 10); the next
    # multiple of 15 is 60, so the check digit is 8.
    assert codes.checksum_digit("123418113101015") == "8"
    assert codes.checksum_ok("1234181131010158")
    assert not codes.checksum_ok("1234181131010157")
    # a body already summing to a multiple of 15 gets F (15), never 0 (which would count 10)
    body = "111118111100002"  # 1+1+1+1+1+8+1+1+1+1+10+10+10+10+2 = 59 → S = 1
    assert codes.checksum_digit(body) == "1"
    assert codes.checksum_digit("111118111100003") == "F"  # 60 already


digits = st.text(alphabet="0123456789", min_size=15, max_size=15)


@given(body=digits, position=st.integers(0, 14), delta=st.integers(1, 9))
def test_checksum_catches_any_single_digit_change(body: str, position: int, delta: int) -> None:
    frame = body + codes.checksum_digit(body)
    assert codes.checksum_ok(frame)
    changed = str((int(body[position]) + delta) % 10)
    if codes.digit_value(changed) % 15 == codes.digit_value(body[position]) % 15:  # type: ignore[operator]
        return  # 0 ↔ 10-weight aliasing cannot be seen by a mod-15 sum
    assert not codes.checksum_ok(frame[:position] + changed + frame[position + 1 :])


def test_contact_id_frames_are_parsed_mapped_or_refused_with_a_reason() -> None:
    frame = codes.parse_frame("1234 18 1101 00 003 " + codes.checksum_digit("123418110100003"))
    assert (frame.account, frame.qualifier, frame.code, frame.zone) == ("1234", "1", "101", "003")
    mapped = codes.map_cid(frame.qualifier, frame.code, frame.partition, frame.zone)
    assert mapped is not None and mapped.event is EventKind.SOS and not mapped.restore
    restore = codes.map_cid("3", "301")
    assert restore is not None and restore.event is EventKind.TROUBLE and restore.restore
    assert codes.map_cid("1", "401") is None  # open/close: not a care event
    for raw, code in [
        ("1234181131010157", "bad_checksum"),
        ("12341811310101", "cid_format"),
        ("1234771131010158", "cid_format"),
    ]:
        with pytest.raises(codes.CidError) as err:
            codes.parse_frame(raw)
        assert err.value.code == code and err.value.reason


def test_raw_contact_id_over_the_json_format_is_checked_and_mapped() -> None:
    def send(frame: str) -> messages.Reading | messages.Rejection:
        obj = {
            "v": 1,
            "id": "c1",
            "device": "HUB-1",
            "type": "alarm_panel",
            "event": "cid",
            "ts": NOW.isoformat(),
            "data": {"frame": frame},
        }
        return messages.validate(obj, now=NOW)

    body = "123418115100002"
    good = send(body + codes.checksum_digit(body))
    assert isinstance(good, messages.Reading)
    assert good.event is EventKind.GAS and good.data["code"] == "151"
    bad = send(body + "1" if codes.checksum_digit(body) != "1" else body + "2")
    assert isinstance(bad, messages.Rejection) and bad.code == "bad_checksum"
    assert "expected check digit" in bad.reason


def test_the_published_mapping_table_matches_the_code() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocols.md").read_text()
    for protocol, code, label, event in codes.mapping_rows():
        assert f"| {protocol} | {code} | {label} | {event} |" in doc


# -- DC-09 blocks ----------------------------------------------------------------------------
ACCOUNTS = {"1234": SIAAccount("1234", None), "ABCD": SIAAccount("ABCD", None)}


def test_dc09_blocks_from_an_independent_dialler() -> None:
    m = dc09_msg("1234", None, 1, 2)
    block = dc09.read(
        m.dc09block(1, "ADM-CID", dc05_msg.dc05event("1234", {"code": "110"})), ACCOUNTS, now=NOW
    )
    assert block.verdict == "event" and block.mapped and block.mapped.event is EventKind.SMOKE
    assert m.dc09answer(1, dc09.ack(block, NOW).decode())[0] == "ACK"
    sia = dc09.read(
        m.dc09block(2, "SIA-DCS", dc03_msg.dc03event("1234", {"code": "YT"})), ACCOUNTS, now=NOW
    )
    assert sia.mapped and sia.mapped.event is EventKind.TROUBLE and sia.mapped.data["code"] == "YT"
    back = dc09.read(
        m.dc09block(3, "SIA-DCS", dc03_msg.dc03event("1234", {"code": "YR"})), ACCOUNTS, now=NOW
    )
    assert back.mapped and back.mapped.restore and back.mapped.data["code"] == "YT"  # pairs up
    assert dc09.read(m.dc09block(4, "NULL"), ACCOUNTS, now=NOW).verdict == "poll"
    corrupt = m.dc09block(5, "NULL").replace('"NULL"', '"NULK"')
    assert dc09.read(corrupt, ACCOUNTS, now=NOW).verdict in ("nak", "duh")
    nak = dc09.nak(dc09.read(m.dc09block(6, "NULL")[:-3] + "X]\r", ACCOUNTS, now=NOW), NOW).decode()
    assert '"NAK"' in nak and "_08:00:00,11-23-2026" in nak  # the receiver's time


# Frames as panels sent them (CRC and length first, then the body the CRC covers), from
# receivers' logs published with open-source alarm-receiver projects.
PANEL_FRAMES = [
    'F68B003B"ADM-CID"0028L0#9757[#9757|1602 00 000]_20:59:45,02-20-2024',
    'B4330036"SIA-DCS"0442L000#36214[36214|NRP]_00:00:00,02-21-2024',
    '3F60003C"SIA-DCS"0001L0#51449[#51449|Nri0000/LR]_21:26:19,12-20-2023',
    '37070047"SIA-DCS"0038R0L0#10303117[#10303117|Nri0001/BH005]_13:44:48,08-17-2022',
]


def test_dc09_crc_is_crc16_arc_on_known_vectors() -> None:
    assert dc09.crc16("123456789") == "BB3D"  # the CRC-16/ARC catalogue check value
    assert dc09.crc16("") == "0000"
    for frame in PANEL_FRAMES:
        body = frame[8:]
        assert dc09.crc16(body) == frame[:4], frame
        assert int(frame[4:8], 16) == len(body)


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200))
def test_dc09_crc_agrees_with_an_independent_dialler(body: str) -> None:
    assert dc09.crc16(body) == f"{dc09_msg.dc09crc(body):04X}"


def test_sia_dcs_area_is_the_partition_and_the_number_after_the_code_the_zone() -> None:
    m = dc09_msg("1234", None, 1, 2)
    for n, content in enumerate(("#1234|Nri1/QA003]", "#1234|Nri1QA003]", "#1234|NQA003]"), 1):
        block = dc09.read(m.dc09block(n, "SIA-DCS", content), ACCOUNTS, now=NOW)
        assert block.verdict == "event" and block.mapped is not None, block.reason
        assert block.mapped.event is EventKind.SOS
        assert block.mapped.data["zone"] == "003"
        assert block.mapped.data.get("partition") == ("1" if "ri1" in content else None)


def test_dc09_time_window_is_the_given_clock_not_the_wall_clock() -> None:
    accounts = {"1234": SIAAccount("1234", None, allowed_timeband=(40, 20))}
    m = dc09_msg("1234", None, 1, 2)

    def stamped(n: int, at: dt.datetime) -> str:
        return m.dc09block(n, "SIA-DCS", f"#1234|NQA003]_{at:%H:%M:%S,%m-%d-%Y}")

    wall = dt.datetime.now(dt.UTC).replace(microsecond=0)
    assert abs(wall - NOW) > dt.timedelta(hours=1)
    assert dc09.read(stamped(1, NOW), accounts, now=NOW).verdict == "event"
    assert dc09.read(stamped(2, NOW - dt.timedelta(seconds=39)), accounts, now=NOW).verdict == (
        "event"
    )
    late = dc09.read(stamped(3, NOW - dt.timedelta(seconds=41)), accounts, now=NOW)
    early = dc09.read(stamped(4, NOW + dt.timedelta(seconds=21)), accounts, now=NOW)
    at_wall = dc09.read(stamped(5, wall), accounts, now=NOW)
    for block in (late, early, at_wall):
        assert (block.verdict, block.code) == ("nak", "clock_skew")
    assert dc09.read(stamped(6, wall), accounts, now=wall).verdict == "event"


def test_tcp_stream_framing_keeps_partial_blocks() -> None:
    m = dc09_msg("1234", None)
    a, b = m.dc09block(1, "NULL"), m.dc09block(2, "NULL")
    buffer = bytearray((a + b[:10]).encode())
    assert dc09.split_blocks(buffer) == [a.strip()]
    buffer += b[10:].encode()
    assert dc09.split_blocks(buffer) == [b.strip()] and not buffer


# -- rules on panel events -------------------------------------------------------------------
def panel_event(kind: EventKind, data: dict) -> rules.Event:  # type: ignore[type-arg]
    return rules.Event(9, DeviceType.ALARM_PANEL, kind, NOW, data)


def test_panel_alarms_troubles_and_restores() -> None:
    state, facts = rules.State(), rules.Facts(1)
    tz = dt.UTC
    sos = rules.on_event(
        state, panel_event(EventKind.SOS, {"code": "101"}), rules.DEFAULTS, facts, tz
    )  # type: ignore[arg-type]
    assert [(f.alert_type, f.severity, f.restore) for f in sos] == [
        (AlertType.SOS, Severity.CRITICAL, False)
    ]
    undone = rules.on_event(
        state,
        panel_event(EventKind.SOS, {"code": "101", "restore": True}),
        rules.DEFAULTS,
        facts,
        tz,  # type: ignore[arg-type]
    )
    assert undone[0].restore and undone[0].key == sos[0].key  # finds the open SOS alert
    power = rules.on_event(
        state,
        panel_event(EventKind.TROUBLE, {"code": "301", "zone": "000"}),
        rules.DEFAULTS,
        facts,
        tz,  # type: ignore[arg-type]
    )
    assert power[0].alert_type is AlertType.DEVICE_TROUBLE and power[0].key == "trouble:9:301:000"


def test_line_supervision_uses_the_interval_plus_grace_not_twice_it() -> None:
    seen = NOW - dt.timedelta(seconds=600 + 61)
    found = rules.device_offline(9, DeviceType.ALARM_PANEL, seen, 600, NOW, rules.DEFAULTS)
    assert found is not None and found.severity is Severity.WARNING
    assert (
        rules.device_offline(
            9, DeviceType.ALARM_PANEL, NOW - dt.timedelta(seconds=650), 600, NOW, rules.DEFAULTS
        )
        is None
    )
    # an ordinary device is only offline after twice its interval
    assert rules.device_offline(9, DeviceType.SOS_BUTTON, seen, 600, NOW, rules.DEFAULTS) is None
