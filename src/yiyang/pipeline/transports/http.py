"""The HTTP ingest transport: ``POST /api/ingest`` for vendor clouds, in front of the gateway.

Authentication: per-vendor HMAC-SHA256 signatures over the
timestamp and the body; a timestamp outside the window or a signature seen before is refused.

A signature counts as seen only once its request's messages are stored: ``verify`` refuses one
already recorded, ``claim`` one in flight in this process, and ``record`` keeps it after the
store. A request answered 503 ("not stored, retry") records nothing, so its retry goes through.
Two identical requests racing through different processes may both be stored; the second is
then answered 409 by ``record`` and its messages are deduplicated by (device, message id)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from yiyang.core import db
from yiyang.core.clock import now
from yiyang.core.config import get_settings
from yiyang.core.errors import DomainError, NotAuthenticated
from yiyang.core.transient import BusClosed, is_transient
from yiyang.devices.messages import Rejection
from yiyang.devices.models import IngestNonce, Vendor
from yiyang.devices.schemas import IngestResult
from yiyang.pipeline.gateway import RawMessage, dead_letter_row, store_dead_letters

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["devices"])
MAX_INGEST = 1024 * 1024


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


class Unavailable(DomainError):
    status_code = 503
    code = "unavailable"


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
    received = now()
    vendor = x_yiyang_vendor or ""
    try:
        check_headers(x_yiyang_vendor, x_yiyang_timestamp, x_yiyang_signature)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_INGEST:
            raise TooLarge(
                f"request body is {declared} bytes, over {MAX_INGEST}", size=int(declared)
            )
        body = await read_limited(request.stream(), MAX_INGEST)
    except (TooLarge, NotAuthenticated) as exc:
        # refused before the body was read (or while): kept, with what little we have
        size = exc.extra.get("size", 0)
        await asyncio.to_thread(keep_refused, vendor, b"", exc, received, size)
        raise
    try:
        vendor_id = await asyncio.to_thread(
            verify, x_yiyang_vendor, x_yiyang_timestamp, x_yiyang_signature, body
        )
    except NotAuthenticated as exc:
        await asyncio.to_thread(keep_refused, vendor, body, exc, received)
        raise
    pipeline = getattr(request.app.state, "pipeline", None)
    if pipeline is None:
        raise Unavailable("the device pipeline is not running here; retry later", retry_after=30)
    assert x_yiyang_signature is not None
    raw = RawMessage("http", vendor, unwrap(body), vendor_id=vendor_id, received_at=received)
    with claim(vendor_id, x_yiyang_signature):
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
        await asyncio.to_thread(record, vendor_id, sig)
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("could not record an ingest nonce (%r); relying on message ids", exc)
