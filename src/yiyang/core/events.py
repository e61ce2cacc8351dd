"""In-process domain events, delivered after the transaction that caused them commits.

The alarm pipeline announces new and changed alerts here; the console (server-sent events) and
benchmarks listen. On PostgreSQL the same announcement also goes out with NOTIFY, so listeners
in other processes hear it at commit time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
Listener = Callable[[str, dict[str, Any]], None]
_listeners: list[Listener] = []
CHANNEL = "yiyang_events"


def listen(listener: Listener) -> Callable[[], None]:
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def emit(session: Session, topic: str, payload: dict[str, Any]) -> None:
    """Queue an event on the session; it is delivered only if the transaction commits."""
    session.info.setdefault("events", []).append((topic, payload))
    if session.get_bind().dialect.name == "postgresql":
        import orjson

        body = orjson.dumps({"topic": topic, **payload}).decode()
        session.execute(text("SELECT pg_notify(:c, :b)"), {"c": CHANNEL, "b": body})


@event.listens_for(Session, "after_commit")
def _deliver(session: Session) -> None:
    pending = session.info.pop("events", None)
    for topic, payload in pending or ():
        for listener in list(_listeners):
            try:
                listener(topic, payload)
            except Exception:  # a listener's fault must not break the writer
                log.exception("event listener failed for %s", topic)


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop("events", None)
