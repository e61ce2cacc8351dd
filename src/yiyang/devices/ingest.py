"""HTTP ingest authentication for vendor clouds: per-vendor HMAC-SHA256 signatures over the
timestamp and the body; a timestamp outside the window or a signature seen before is refused.

A signature counts as seen only once its request's messages are stored: ``verify`` refuses one
already recorded, ``claim`` one in flight in this process, and ``record`` keeps it after the
store. A request answered 503 ("not stored, retry") records nothing, so its retry goes through.
Two identical requests racing through different processes may both be stored; the second is
then answered 409 by ``record`` and its messages are deduplicated by (device, message id)."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Iterator

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from yiyang.core import db
from yiyang.core.clock import now
from yiyang.core.config import get_settings
from yiyang.core.errors import DomainError, NotAuthenticated
from yiyang.devices.gateway import RawMessage, dead_letter_row, store_dead_letters
from yiyang.devices.messages import Rejection
from yiyang.devices.models import IngestNonce, Vendor


class Replayed(DomainError):
    status_code = 409
    code = "replayed"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


VENDOR_CODE = re.compile(r"[A-Za-z0-9._-]{1,32}")
TIMESTAMP = re.compile(r"[0-9]{1,12}")
SIGNATURE = re.compile(r"[0-9A-Fa-f]{64}")


class TooLarge(DomainError):
    status_code = 413
    code = "too_large"


def check_headers(vendor_code: str | None, timestamp: str | None, sig: str | None) -> None:
    """The signature headers' shape, checked before anything is read or looked up."""
    if not vendor_code or not timestamp or not sig:
        raise NotAuthenticated(
            "send X-Yiyang-Vendor, X-Yiyang-Timestamp and X-Yiyang-Signature headers"
        )
    if not VENDOR_CODE.fullmatch(vendor_code):
        raise NotAuthenticated("X-Yiyang-Vendor must be your vendor code (A-Z, 0-9, . _ -)")
    if not TIMESTAMP.fullmatch(timestamp):
        raise NotAuthenticated("X-Yiyang-Timestamp must be Unix seconds")
    if not SIGNATURE.fullmatch(sig):
        raise NotAuthenticated("X-Yiyang-Signature must be 64 hex digits (HMAC-SHA256)")


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The request body, refused as soon as it grows past ``limit`` (never held whole)."""
    out = bytearray()
    async for chunk in chunks:
        if len(out) + len(chunk) > limit:
            raise TooLarge(
                f"request body over {limit} bytes; send smaller batches",
                size=len(out) + len(chunk),
            )
        out += chunk
    return bytes(out)


def unwrap(body: bytes) -> bytes:
    """``{"messages": [...]}`` → the array; anything else as sent."""
    if body.lstrip().startswith(b"{") and b'"messages"' in body[:64]:
        try:
            wrapped = orjson.loads(body)
            if isinstance(wrapped, dict) and set(wrapped) == {"messages"}:
                return orjson.dumps(wrapped["messages"])
        except orjson.JSONDecodeError:
            pass
    return body


def keep_refused(
    vendor: str, body: bytes, exc: DomainError, received: dt.datetime, size: int = 0
) -> None:
    """A refused request kept as a dead letter (at most 4 KiB of it: anyone can send these);
    ``size``: what it declared or sent before it was cut off, when the body was not kept."""
    raw = RawMessage("http", vendor[:64], body[:4096], received_at=received)
    row = dead_letter_row(raw, Rejection(exc.code, exc.message), body[:4096])
    row["size"] = max(len(body), size)
    store_dead_letters([row])


def verify(vendor_code: str | None, timestamp: str | None, sig: str | None, body: bytes) -> int:
    """Returns the vendor's id, or raises with a reason the vendor's engineers can act on."""
    check_headers(vendor_code, timestamp, sig)
    assert vendor_code and timestamp and sig
    stamp = int(timestamp)
    window = get_settings().ingest_signature_window_s
    moment = now()
    if abs(moment.timestamp() - stamp) > window:
        raise NotAuthenticated(
            f"timestamp is {int(moment.timestamp() - stamp)} s off the platform clock "
            f"(window ±{window} s); check the sender's clock"
        )
    with db.unit_of_work() as session:
        vendor = session.scalar(select(Vendor).where(Vendor.code == vendor_code, Vendor.active))
        if vendor is None:
            raise NotAuthenticated(f"unknown or inactive vendor '{vendor_code[:32]}'")
        expected = signature(vendor.hmac_secret, timestamp, body)
        if not hmac.compare_digest(expected, sig.lower()):
            raise NotAuthenticated(
                "signature does not match: HMAC-SHA256(secret, timestamp + '.' + body)"
            )
        seen = session.get(IngestNonce, (vendor.id, sig.lower()[:64]))
        if seen is not None:
            raise _replayed()
        return vendor.id


_in_flight: set[tuple[int, str]] = set()


@contextlib.contextmanager
def claim(vendor_id: int, sig: str) -> Iterator[None]:
    """Hold a verified signature while its request is being stored: the same request arriving
    meanwhile (in this process) is refused. Call from the event loop, not a worker thread."""
    key = (vendor_id, sig.lower()[:64])
    if key in _in_flight:
        raise _replayed()
    _in_flight.add(key)
    try:
        yield
    finally:
        _in_flight.discard(key)


def record(vendor_id: int, sig: str) -> None:
    """Remember a signature whose request is now stored; a replay from now on is refused.
    Raises ``Replayed`` when another process stored the same request first."""
    try:
        with db.unit_of_work() as session:
            session.add(IngestNonce(vendor_id=vendor_id, signature=sig.lower()[:64], at=now()))
    except IntegrityError:
        raise _replayed() from None


def _replayed() -> Replayed:
    return Replayed("this signed request was already received; sign each request anew")
