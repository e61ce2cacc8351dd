"""SIA DC-09 blocks: what one block means and what to answer. No I/O.

pysiaalarm does the framing: the CRC, the header fields, AES decryption, the content of SIA-DCS
and ADM-CID payloads. The time window is checked here, against the receiver's clock (pysiaalarm
reads the wall clock). What it cannot do is wait: its server acknowledges a block before the
application has stored it. So the receiver (``pipeline.transports.dc09``) asks
``read`` what a block is, stores it, and only then sends the answer built here:

- ``ACK`` — the event is durable (or the block was a NULL link test);
- ``NAK`` with the receiver's timestamp — the block's CRC or length is wrong, or its timestamp is
  outside the window (default −40 s / +20 s): the panel corrects its clock and resends;
- ``DUH`` — understood as DC-09 but not usable: an unknown account, a code Yiyang does not map,
  a payload it cannot parse. Kept as a dead letter with the reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pysiaalarm import SIAAccount
from pysiaalarm.errors import EventFormatError, NoAccountError
from pysiaalarm.event import SIAEvent
from pysiaalarm.utils import MessageTypes

from yiyang.devices.protocols import codes

Verdict = Literal["event", "poll", "nak", "duh"]


@dataclass(slots=True)
class Block:
    """One DC-09 block, read."""

    verdict: Verdict
    text: str  # the block as received (for dead letters)
    code: str = ""  # dead-letter code when refused
    reason: str = ""
    account: str | None = None
    sequence: str = "0000"
    receiver: str = ""
    line: str = ""
    mapped: codes.Mapped | None = None
    at: dt.datetime | None = None  # the block's own timestamp, when it has one
    event: SIAEvent | None = None

    def msg_id(self, received_at: dt.datetime) -> str:
        """Message id for de-duplication: a panel resends a block with the same sequence number
        (and timestamp) until it is acknowledged. Without a timestamp the resend is recognised
        within the same ten minutes."""
        if self.at is not None:
            return f"dc09-{self.sequence}-{self.at:%Y%m%d%H%M%S}"
        bucket = received_at.astimezone(dt.UTC)
        return f"dc09-{self.sequence}-{bucket:%Y%m%d%H}{bucket.minute // 10}"


def read(line: str, accounts: dict[str, SIAAccount], *, now: dt.datetime) -> Block:
    """One block (without the LF/CR framing) → a ``Block`` with its verdict; ``now``: the
    receiver's clock, against which the block's timestamp is checked."""
    text = line.strip()
    try:
        event = SIAEvent.from_line(text, accounts)
    except NoAccountError:
        return Block("duh", text, "unknown_account", "encrypted block from an unknown account")
    except EventFormatError:
        return Block(
            "duh", text, "dc09_format", "not a SIA DC-09 block (or a payload we cannot parse)"
        )
    except (ValueError, UnicodeError) as exc:  # undecryptable hex and the like
        return Block("duh", text, "dc09_format", f"block cannot be decoded: {exc}")
    block = Block(
        "event",
        text,
        account=event.account,
        sequence=event.sequence or "0000",
        receiver=event.receiver or "",
        line=event.line or "",
        at=event.timestamp if isinstance(event.timestamp, dt.datetime) else None,
        event=event,
    )
    if not event.valid_message:
        block.verdict, block.code = "nak", "bad_crc"
        block.reason = f"CRC mismatch: block says {event.msg_crc}, content gives {event.calc_crc}"
        return block
    if not _length_ok(event):
        block.verdict, block.code = "nak", "bad_length"
        block.reason = "length field does not match the block"
        return block
    if event.account is None or event.sia_account is None or event.account not in accounts:
        block.verdict, block.code = "duh", "unknown_account"
        block.reason = f"account '{event.account}' is not registered on this receiver"
        return block
    if not _in_window(event, now):
        block.verdict, block.code = "nak", "clock_skew"
        block.reason = f"block timestamp {event.timestamp} is outside the receiver's window"
        return block
    if event.message_type == MessageTypes.NULL:
        block.verdict = "poll"
        return block
    if event.message_type == MessageTypes.ADMCID:
        mapped = codes.map_cid(
            event.event_qualifier or "",
            event.event_type or "",
            event.partition or "00",
            event.ri or "000",
        )
        shown = f"Contact ID {event.event_qualifier}{event.event_type}"
    else:
        # SIA-DCS ``Nri1/QA003``: ``ri`` is the area (partition), the number after the code
        # the zone (or user)
        mapped = codes.map_sia(event.code or "", _address(event.message), event.ri or None)
        shown = f"SIA code {event.code}"
    if mapped is None:
        block.verdict, block.code = "duh", "unsupported_code"
        block.reason = f"{shown} is not one Yiyang handles (see docs/protocols.md)"
        return block
    block.mapped = mapped
    return block


def _in_window(event: SIAEvent, now: dt.datetime) -> bool:
    """The block's timestamp within the account's window around ``now`` (pysiaalarm's own
    ``valid_timestamp`` reads the wall clock); a block without a timestamp passes."""
    band = event.sia_account.allowed_timeband if event.sia_account else None
    if band is None or not isinstance(event.timestamp, dt.datetime):
        return True
    early, late = band
    return now - dt.timedelta(seconds=early) <= event.timestamp <= now + dt.timedelta(seconds=late)


def _address(message: str | None) -> str | None:
    """The SIA address field after the event code (zone, user or door number), when numeric."""
    text = (message or "").strip()
    return text if text.isdigit() else None


def _length_ok(event: SIAEvent) -> bool:
    # (pysiaalarm's own ``valid_length`` reads the hex length field as decimal)
    try:
        return int(event.length or "", 16) == len(event.full_message or "")
    except ValueError:
        return False


def crc16(text: str) -> str:
    """The DC-09 CRC of a block's body: CRC-16/ARC (polynomial 0x8005 reflected, initial 0),
    four upper-case hex digits."""
    crc = 0
    for byte in text.encode():
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return f"{crc:04X}"


def _frame(body: str) -> bytes:
    return f"\n{crc16(body)}{len(body):04X}{body}\r".encode("ascii")


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("_%H:%M:%S,%m-%d-%Y")


def ack(block: Block, now: dt.datetime) -> bytes:
    """The acknowledgement; encrypted (with the receiver's timestamp) when the block was."""
    head = f"{block.sequence}{block.receiver}{block.line}#{block.account}["
    event = block.event
    if event is not None and event.encrypted and event.sia_account is not None:
        sealed = event.encrypt_content(f"]{_stamp(now)}")
        return _frame(f'"*ACK"{head}{sealed}')
    return _frame(f'"ACK"{head}]')


def nak(block: Block, now: dt.datetime) -> bytes:
    """Never encrypted; carries the receiver's time so the panel can correct its clock."""
    return _frame(f'"NAK"0000{block.receiver}{block.line}A0[]{_stamp(now)}')


def duh(block: Block) -> bytes:
    account = f"#{block.account}" if block.account else ""
    return _frame(f'"DUH"{block.sequence}{block.receiver}{block.line}{account}[]')


def split_blocks(buffer: bytearray) -> list[str]:
    """Take the complete blocks (LF … CR) out of a TCP stream buffer; a partial block stays."""
    out: list[str] = []
    while True:
        end = buffer.find(b"\r")
        if end < 0:
            if len(buffer) > 4096:  # no terminator in 4 KiB: garbage; drop it
                out.append(buffer.decode("ascii", "replace"))
                buffer.clear()
            return out
        chunk = bytes(buffer[:end])
        del buffer[: end + 1]
        text = chunk.decode("ascii", "replace").strip()
        if text:
            out.append(text)
