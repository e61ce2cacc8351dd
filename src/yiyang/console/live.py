"""Live consoles: alert changes pushed to every open console by server-sent events.

One hub per process. It hears about alert changes — from PostgreSQL NOTIFY when the database is
PostgreSQL (so alerts raised by worker processes elsewhere arrive too), else from the in-process
post-commit events — loads the changed rows once, and hands each console the rows its operator
may see (``core.scoping.region_row_visible``) and its filters match, rendered in the operator's
language. A console that reconnects reloads its queue once, so nothing missed while it was away
stays missing; there is no polling.

A stream lives only as long as the session it was opened with: signing out or revoking that
session ends it at once (the ``session.ended`` event, NOTIFY from other processes), and the
session is re-checked before every batch of rows is sent and every ``session_check_s`` seconds
while idle, which also catches expiry and a deactivated user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from yiyang.console.repository import QueueFilters, QueueRow, rows_by_id
from yiyang.core import db, events, i18n
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor, region_row_visible

log = logging.getLogger(__name__)
KEEPALIVE_S = 15.0
SESSION_CHECK_S = 5.0
ALERT_TOPICS = ("alert.created", "alert.changed", "alert.escalated")
SESSION_TOPIC = "session.ended"  # accounts.service.SESSION_ENDED
Renderer = Callable[[QueueRow], str]
SessionCheck = Callable[[], Awaitable[bool]]


@dataclass(eq=False)
class Subscriber:
    actor: Actor
    filters: QueueFilters
    locale: str
    session_id: int | None = None
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=10_000)
    )
    ended: bool = False


class ConsoleHub:
    def __init__(self, render_row: Callable[[QueueRow], str]) -> None:
        self._render_row = render_row
        self._subscribers: set[Subscriber] = set()
        self._changed: asyncio.Queue[int] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._unlisten: Callable[[], None] | None = None
        self._pg = False
        self.delivered = 0
        self.session_check_s = SESSION_CHECK_S

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Queue()
        self._tasks.append(asyncio.create_task(self._fan_out(), name="console-fan-out"))
        self._pg = db.get_engine().dialect.name == "postgresql"
        if self._pg:
            self._tasks.append(asyncio.create_task(self._listen_pg(), name="console-listen"))
        # Local events always: a sign-out in this process ends its streams without a round trip
        # (on PostgreSQL alert changes come by NOTIFY only, so they are not counted twice).
        self._unlisten = events.listen(self._on_local_event)

    async def stop(self) -> None:
        if self._unlisten:
            self._unlisten()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()

    # -- inputs --------------------------------------------------------------------------
    def _on_local_event(self, topic: str, payload: dict[str, Any]) -> None:
        """Called after a commit, on whichever thread committed."""
        if self._loop is None or self._changed is None:
            return
        if topic == SESSION_TOPIC:
            self._loop.call_soon_threadsafe(self.end_session, int(payload["session_id"]))
        elif topic in ALERT_TOPICS and not self._pg:
            self._loop.call_soon_threadsafe(self._changed.put_nowait, int(payload["alert_id"]))

    def end_session(self, session_id: int) -> None:
        """Close every stream opened with this session (signed out or revoked)."""
        for s in self._subscribers:
            if s.session_id == session_id and not s.ended:
                s.ended = True
                s.queue.put_nowait(("end", {}))

    async def _listen_pg(self) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(str(db.get_engine().url.render_as_string(hide_password=False)))
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {events.CHANNEL}")
                    self._resync_all()  # anything missed while (re)connecting
                    async for note in conn.notifies():
                        try:
                            body = orjson.loads(note.payload)
                        except orjson.JSONDecodeError:
                            continue
                        if body.get("topic") == SESSION_TOPIC:
                            self.end_session(int(body["session_id"]))
                        elif body.get("topic") in ALERT_TOPICS and self._changed is not None:
                            self._changed.put_nowait(int(body["alert_id"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("console LISTEN connection lost; reconnecting")
                await asyncio.sleep(1.0)

    def _resync_all(self) -> None:
        for s in self._subscribers:
            s.queue.put_nowait(("resync", {}))

    # -- fan-out -------------------------------------------------------------------------
    async def _fan_out(self) -> None:
        assert self._changed is not None
        while True:
            ids = {await self._changed.get()}
            while not self._changed.empty():  # coalesce a burst into one query
                ids.add(self._changed.get_nowait())
            if not self._subscribers:
                continue
            try:
                rows = await asyncio.to_thread(_load, sorted(ids))
            except Exception:
                log.exception("console could not load alerts %s", sorted(ids)[:10])
                self._resync_all()
                continue
            self.deliver(rows)

    def deliver(self, rows: list[QueueRow]) -> None:
        rendered: dict[tuple[int, str], str] = {}
        stamp = time.time()
        for s in list(self._subscribers):
            for row in rows:
                if not region_row_visible(s.actor, Perm.HANDLE_ALERTS, row.region_path):
                    continue
                if not s.filters.matches(row):
                    s.queue.put_nowait(("remove", {"id": row.id}))
                    continue
                key = (row.id, s.locale)
                if key not in rendered:
                    token = i18n.set_locale(s.locale)
                    try:
                        rendered[key] = self._render_row(row)
                    finally:
                        i18n.reset_locale(token)
                event = {
                    "id": row.id,
                    "html": rendered[key],
                    "severity": row.severity,
                    "state": row.state,
                    "sent": stamp,
                    "elder_id": row.elder_id,
                }
                s.queue.put_nowait(("row", event))
                self.delivered += 1

    # -- consoles ------------------------------------------------------------------------
    async def stream(
        self,
        actor: Actor,
        filters: QueueFilters,
        locale: str,
        *,
        session_id: int | None = None,
        alive: SessionCheck | None = None,
    ) -> AsyncIterator[bytes]:
        """The console's event stream. With ``alive`` (is the session still usable?) the stream
        ends, with a final ``end`` event, as soon as the session does: checked before every
        batch of rows is sent and every ``session_check_s`` seconds while idle."""
        sub = Subscriber(actor, filters, locale, session_id=session_id)
        self._subscribers.add(sub)
        loop = asyncio.get_running_loop()
        try:
            yield _sse("hello", {"server_time": time.time()})
            sent = checked = loop.time()
            while not sub.ended:
                wait = KEEPALIVE_S - (loop.time() - sent)
                if alive is not None:
                    wait = min(wait, self.session_check_s - (loop.time() - checked))
                batch: list[tuple[str, dict[str, Any]]] = []
                try:
                    batch.append(await asyncio.wait_for(sub.queue.get(), max(wait, 0.0)))
                    while not sub.queue.empty() and len(batch) < 500:
                        batch.append(sub.queue.get_nowait())
                except TimeoutError:
                    pass
                if sub.ended or any(kind == "end" for kind, _ in batch):
                    break
                due = loop.time() - checked >= self.session_check_s
                if alive is not None and (batch or due):  # before any send; and now and then
                    try:
                        still = await alive()
                    except Exception:  # cannot tell (database away): fail closed; it reconnects
                        log.warning("console stream closed: its session could not be checked")
                        still = False
                    if not still:
                        break
                    checked = loop.time()
                if batch:
                    yield b"".join(_sse(kind, data) for kind, data in batch)
                    sent = loop.time()
                elif loop.time() - sent >= KEEPALIVE_S:
                    yield b": keepalive\n\n"
                    sent = loop.time()
            sub.ended = True
            yield _sse("end", {"reason": "session"})
        finally:
            self._subscribers.discard(sub)

    @property
    def consoles(self) -> int:
        return len(self._subscribers)


def _load(ids: list[int]) -> list[QueueRow]:
    with db.session_factory()() as session:
        return rows_by_id(session, ids)


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
