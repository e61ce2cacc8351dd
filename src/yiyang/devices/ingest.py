"""HTTP ingest authentication for vendor clouds: per-vendor HMAC-SHA256 signatures over the
timestamp and the body; a timestamp outside the window or a signature seen before is refused."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from yiyang.core import db
from yiyang.core.clock import now
from yiyang.core.config import get_settings
from yiyang.core.errors import DomainError, NotAuthenticated
from yiyang.devices.models import IngestNonce, Vendor


class Replayed(DomainError):
    status_code = 409
    code = "replayed"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(vendor_code: str | None, timestamp: str | None, sig: str | None, body: bytes) -> int:
    """Returns the vendor's id, or raises with a reason the vendor's engineers can act on."""
    if not vendor_code or not timestamp or not sig:
        raise NotAuthenticated(
            "send X-Yiyang-Vendor, X-Yiyang-Timestamp and X-Yiyang-Signature headers"
        )
    try:
        stamp = int(timestamp)
    except ValueError:
        raise NotAuthenticated("X-Yiyang-Timestamp must be Unix seconds") from None
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
        vendor_id = vendor.id
    try:
        with db.unit_of_work() as session:
            session.add(IngestNonce(vendor_id=vendor_id, signature=sig.lower()[:64], at=moment))
    except IntegrityError:
        raise Replayed("this signed request was already received; sign each request anew") from None
    return vendor_id
