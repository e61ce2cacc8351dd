"""Sign-in throttling, pure: how failed sign-ins count, slow down and lock (no I/O).

Two counters decide: one per (username, client address) — it slows that pair down and locks it,
so somebody elsewhere cannot lock an operator out — and one per client address across all
usernames, with a much higher limit, against password spraying (a call centre's seats share one
NAT address, so a few typos there must not lock everybody out). Unknown usernames count exactly
like known ones, so the answers never tell which usernames exist.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

ACCOUNT = "account"  # counter per (username, address)
ADDRESS = "address"  # counter per address, all usernames


@dataclass(frozen=True)
class Limits:
    max_failures: int  # failures before the counter locks
    window: dt.timedelta  # failures older than this are forgotten
    lock: dt.timedelta  # how long a lock lasts


@dataclass(frozen=True)
class Counter:
    failures: int = 0
    first_failure_at: dt.datetime | None = None
    locked_until: dt.datetime | None = None


def locked_until(counter: Counter | None, at: dt.datetime) -> dt.datetime | None:
    """When the lock ends, or None when the counter is not locked at ``at``."""
    if counter is None or counter.locked_until is None or counter.locked_until <= at:
        return None
    return counter.locked_until


def current_failures(counter: Counter | None, at: dt.datetime, limits: Limits) -> int:
    """Failures that still count at ``at`` (a lapsed window or an expired lock starts afresh)."""
    if counter is None or counter.first_failure_at is None or _lapsed(counter, at, limits):
        return 0
    return counter.failures


def after_failure(counter: Counter | None, at: dt.datetime, limits: Limits) -> Counter:
    """The counter after one more failure at ``at``; locked when it reaches the limit."""
    if counter is None or counter.first_failure_at is None or _lapsed(counter, at, limits):
        failures, first = 1, at
    else:
        failures, first = counter.failures + 1, counter.first_failure_at
    until = at + limits.lock if failures >= limits.max_failures else None
    return Counter(failures=failures, first_failure_at=first, locked_until=until)


def _lapsed(counter: Counter, at: dt.datetime, limits: Limits) -> bool:
    if counter.locked_until is not None:
        return counter.locked_until <= at  # a served lock starts a new count
    assert counter.first_failure_at is not None
    return at - counter.first_failure_at >= limits.window


def failure_delay(failures: int) -> float:
    """Seconds to hold the next attempt back after ``failures`` failures: 0, 0, 0.5, 1, 2, 4 …
    capped at 4."""
    if failures < 3:
        return 0.0
    return float(min(0.5 * 2 ** (failures - 3), 4.0))


def minutes_left(until: dt.datetime, at: dt.datetime) -> int:
    return max(1, -(-int((until - at).total_seconds()) // 60))


def address_key(address: str | None) -> str:
    """What the address counter is keyed by: an IPv4 address, an IPv6 /64 (one subscriber's
    allocation, so rotating through it does not escape the throttle), or the peer's name."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
