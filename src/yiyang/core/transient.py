"""Which failures are worth retrying: the one place the pipeline decides "try again later"
(the database or the broker is away) versus "this message can never be stored" (dead-letter it).

Retrying a deterministic failure blocks everything behind it forever; dead-lettering a transient
one loses an alarm. So the rule is narrow on both sides: lost connections, timeouts, a database
shutting down or starting up, serialization failures and deadlocks are transient; an error our
code or the database raises about the *data* (a NUL byte, an overflowing date, a constraint) is
not. Anything we cannot place is treated as transient by the caller only once the same batch
has been split down to one message and that message still fails alone — see the MQTT listener
and the rule worker.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import exc as sa_exc


# SQLSTATE classes and codes that say "the server, not your data": connection exceptions (08),
# insufficient resources (53), operator intervention (57: admin shutdown, crash shutdown,
# cannot connect now), system errors (58), and the two concurrency outcomes a retry resolves.
class BusClosed(RuntimeError):
    """The message bus stopped (or its broker is away) before a message was handled; the sender
    must not acknowledge it. Transient: the same message may be published again later."""


_TRANSIENT_CLASSES = ("08", "53", "57", "58")
_TRANSIENT_CODES = frozenset({"40001", "40P01", "55P03"})  # serialization, deadlock, lock wait


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, wrapped or not (psycopg's ``sqlstate``)."""
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state if isinstance(state, str) else None


def is_transient(exc: BaseException) -> bool:
    """True when the same work may succeed if simply tried again later."""
    for e in _chain(exc):
        if isinstance(e, TimeoutError | asyncio.TimeoutError | ConnectionError):
            return True
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, sa_exc.DisconnectionError | sa_exc.TimeoutError):
            return True  # pool timeout / disconnect: the database is away
        state = sqlstate(e)
        if state is not None and (state in _TRANSIENT_CODES or state[:2] in _TRANSIENT_CLASSES):
            return True
        if isinstance(e, sa_exc.OperationalError | sa_exc.InterfaceError):
            # No SQLSTATE (e.g. connection refused while the server restarts, SQLite locked).
            return state is None
        if isinstance(e, BusClosed):
            return True  # the broker is away, or the bus stopping
        if type(e).__name__ in ("OperationalError", "InterfaceError"):
            return True  # a driver's own classes, not wrapped by SQLAlchemy
    return False


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen and len(out) < 10:
        out.append(cur)
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return out
