"""Protocol codes → Yiyang events: pure tables and functions, no I/O.

Two code books arrive at an alarm receiving centre: Ademco **Contact ID** (SIA DC-05; a 3-digit
event code with a qualifier, 1 = new event, 3 = restore, 6 = still present) and **SIA-DCS**
(SIA DC-03; two-letter codes, restores have their own letters). Both map onto the events a
Yiyang device sends, so the same rules raise the same alerts whatever protocol carried them.
A code not in these tables is refused (DUH to the panel, a dead letter for the admin) rather
than guessed at. docs/protocols.md is generated from the tables by a test-checked function.

Contact ID frames forwarded as digits (``ACCT 18 QXYZ GG CCC S``) carry a checksum: every digit
counts its value except 0, which counts 10 (hex B–F count 11–15); the sum including S must be a
multiple of 15; a check value of 10 is sent as the digit 0 and one of 15 (or 0) as F.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yiyang.core.i18n import N_
from yiyang.devices.enums import EventKind

E = EventKind


@dataclass(frozen=True, slots=True)
class Mapped:
    """One protocol event as a Yiyang event."""

    event: EventKind
    code: str  # the protocol's own code, e.g. "101" or "QA"
    label: str  # English description of the code
    restore: bool = False
    data: dict[str, Any] = field(default_factory=dict)


# Contact ID event code → (Yiyang event, description). Qualifier 3 turns any of these into a
# restore of the same condition. Heartbeat-like codes ignore the qualifier.
CID_CODES: dict[str, tuple[EventKind, str]] = {
    "100": (E.SOS, N_("Medical alarm")),
    "101": (E.SOS, N_("Personal emergency (pendant)")),
    "102": (E.TROUBLE, N_("Fail to report in")),
    "110": (E.SMOKE, N_("Fire alarm")),
    "111": (E.SMOKE, N_("Smoke detector")),
    "112": (E.SMOKE, N_("Combustion")),
    "113": (E.SMOKE, N_("Water flow (sprinkler)")),
    "114": (E.SMOKE, N_("Heat detector")),
    "115": (E.SMOKE, N_("Pull station")),
    "116": (E.SMOKE, N_("Duct detector")),
    "117": (E.SMOKE, N_("Flame detector")),
    "118": (E.SMOKE, N_("Near alarm")),
    "120": (E.SOS, N_("Panic")),
    "121": (E.SOS, N_("Duress")),
    "122": (E.SOS, N_("Silent panic")),
    "123": (E.SOS, N_("Audible panic")),
    "137": (E.TAMPER, N_("Tamper")),
    "144": (E.TAMPER, N_("Sensor tamper")),
    "145": (E.TAMPER, N_("Expansion module tamper")),
    "151": (E.GAS, N_("Gas detected")),
    "162": (E.GAS, N_("Carbon monoxide detected")),
    "301": (E.TROUBLE, N_("AC power loss")),
    "302": (E.TROUBLE, N_("Low system battery")),
    "309": (E.TROUBLE, N_("Battery test failure")),
    "350": (E.TROUBLE, N_("Communication trouble")),
    "373": (E.TROUBLE, N_("Fire loop trouble")),
    "380": (E.TROUBLE, N_("Sensor trouble")),
    "381": (E.TROUBLE, N_("Loss of supervision (RF)")),
    "383": (E.TAMPER, N_("Sensor tamper")),
    "384": (E.TROUBLE, N_("RF transmitter low battery")),
    "601": (E.TEST, N_("Manual test")),
    "602": (E.HEARTBEAT, N_("Periodic test report")),
    "603": (E.HEARTBEAT, N_("Periodic RF transmission")),
}

# SIA-DCS two-letter codes → (Yiyang event, restore?, description).
SIA_CODES: dict[str, tuple[EventKind, bool, str]] = {
    "MA": (E.SOS, False, N_("Medical alarm")),
    "MH": (E.SOS, True, N_("Medical alarm restore")),
    "QA": (E.SOS, False, N_("Emergency alarm")),
    "QH": (E.SOS, True, N_("Emergency alarm restore")),
    "PA": (E.SOS, False, N_("Panic alarm")),
    "PH": (E.SOS, True, N_("Panic alarm restore")),
    "HA": (E.SOS, False, N_("Hold-up / duress alarm")),
    "HH": (E.SOS, True, N_("Hold-up / duress restore")),
    "FA": (E.SMOKE, False, N_("Fire alarm")),
    "FH": (E.SMOKE, True, N_("Fire alarm restore")),
    "KA": (E.SMOKE, False, N_("Heat alarm")),
    "KH": (E.SMOKE, True, N_("Heat alarm restore")),
    "GA": (E.GAS, False, N_("Gas alarm")),
    "GH": (E.GAS, True, N_("Gas alarm restore")),
    "TA": (E.TAMPER, False, N_("Tamper alarm")),
    "TR": (E.TAMPER, True, N_("Tamper restore")),
    "AT": (E.TROUBLE, False, N_("AC trouble")),
    "AR": (E.TROUBLE, True, N_("AC restore")),
    "YT": (E.TROUBLE, False, N_("System battery trouble")),
    "YR": (E.TROUBLE, True, N_("System battery restore")),
    "XT": (E.TROUBLE, False, N_("Transmitter battery trouble")),
    "XR": (E.TROUBLE, True, N_("Transmitter battery restore")),
    "YC": (E.TROUBLE, False, N_("Communications fail")),
    "YK": (E.TROUBLE, True, N_("Communications restore")),
    "RX": (E.TEST, False, N_("Manual test")),
    "RP": (E.HEARTBEAT, False, N_("Automatic test")),
}

# Restore codes name their own trouble; this pairs them so a restore finds its open alert.
SIA_TROUBLE_OF_RESTORE = {"AR": "AT", "YR": "YT", "XR": "XT", "YK": "YC"}

CID_QUALIFIERS = {"1": "new", "3": "restore", "6": "status"}

_HEX = "0123456789BCDEF"  # Contact ID digits; 'A' is not used (it stood for 0 on the line)


def digit_value(ch: str) -> int | None:
    """A Contact ID digit's checksum weight: 0 counts 10, B–F count 11–15."""
    ch = ch.upper()
    if ch == "0":
        return 10
    if ch in _HEX:
        return int(ch, 16)
    return None


def checksum_digit(body: str) -> str:
    """The digit S that makes ``body + S`` sum to a multiple of 15."""
    total = sum(digit_value(c) or 0 for c in body)
    s = (15 - total % 15) % 15
    if s == 0:
        return "F"  # 0 would count 10
    return "0" if s == 10 else format(s, "X")  # the digit 0 is the one that counts 10


def checksum_ok(frame: str) -> bool:
    values = [digit_value(c) for c in frame]
    weights = [v for v in values if v is not None]
    return len(weights) == len(frame) > 0 and sum(weights) % 15 == 0


@dataclass(frozen=True, slots=True)
class CidFrame:
    account: str
    qualifier: str
    code: str
    partition: str
    zone: str


class CidError(ValueError):
    """A Contact ID frame that cannot be used, with the reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def parse_frame(raw: str) -> CidFrame:
    """``ACCT MT QXYZ GG CCC S`` (spaces optional; 4-digit account) → its fields, checksum
    verified. Raises ``CidError`` saying what is wrong."""
    frame = "".join(raw.split()).upper()
    if len(frame) != 16:
        raise CidError(
            "cid_format",
            f"a Contact ID frame has 16 digits (ACCT 18 QXYZ GG CCC S), got {len(frame)}",
        )
    if any(digit_value(c) is None for c in frame):
        raise CidError("cid_format", "a Contact ID frame holds only digits 0-9 and B-F")
    if frame[4:6] not in ("18", "98"):
        raise CidError("cid_format", f"message type must be 18 or 98, got '{frame[4:6]}'")
    if not checksum_ok(frame):
        raise CidError(
            "bad_checksum",
            f"Contact ID checksum fails: expected check digit {checksum_digit(frame[:15])}, "
            f"got {frame[15]} (line noise; the panel should resend)",
        )
    if frame[6] not in CID_QUALIFIERS:
        raise CidError("cid_format", f"qualifier must be 1, 3 or 6, got '{frame[6]}'")
    return CidFrame(frame[:4], frame[6], frame[7:10], frame[10:12], frame[12:15])


def map_cid(qualifier: str, code: str, partition: str = "00", zone: str = "000") -> Mapped | None:
    """A Contact ID event as a Yiyang event, or None when the code is not supported."""
    hit = CID_CODES.get(code)
    if hit is None or qualifier not in CID_QUALIFIERS:
        return None
    event, label = hit
    restore = qualifier == "3" and event not in (E.HEARTBEAT, E.TEST)
    data: dict[str, Any] = {
        "protocol": "contact_id",
        "code": code,
        "label": label,
        "zone": zone,
        "partition": partition,
    }
    if restore:
        data["restore"] = True
    if qualifier == "6":
        data["status_report"] = True
    return Mapped(event, code, label, restore, data)


def map_sia(code: str, zone: str | None = None, partition: str | None = None) -> Mapped | None:
    """A SIA-DCS event code as a Yiyang event, or None when the code is not supported;
    ``zone``: the address after the code, ``partition``: the ``ri`` (area) field."""
    hit = SIA_CODES.get(code.upper() if code else "")
    if hit is None:
        return None
    event, restore, label = hit
    key_code = SIA_TROUBLE_OF_RESTORE.get(code.upper(), code.upper())
    data: dict[str, Any] = {"protocol": "sia_dcs", "code": key_code, "label": label}
    if zone:
        data["zone"] = zone
    if partition:
        data["partition"] = partition
    if restore:
        data["restore"] = True
    return Mapped(event, code.upper(), label, restore, data)


def mapping_rows() -> list[tuple[str, str, str, str]]:
    """(protocol, code, description, Yiyang event) for the documentation table."""
    rows = [("Contact ID", c, label, ev.value) for c, (ev, label) in CID_CODES.items()]
    rows += [
        ("SIA-DCS", c, label, ev.value + (" (restore)" if r else ""))
        for c, (ev, r, label) in SIA_CODES.items()
    ]
    return rows
