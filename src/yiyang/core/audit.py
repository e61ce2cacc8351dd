"""Audit: every ORM write is recorded centrally by a session hook; reads of sensitive data,
exports, logins and bulk writes call ``record``/``record_many`` explicitly.

The acting user travels in a context variable set once per request (or CLI job).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import enum
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import Table, event, insert, inspect
from sqlalchemy.orm import Session, UOWTransaction, object_session

from yiyang.core.audit_models import AuditEvent
from yiyang.core.clock import now
from yiyang.core.i18n import N_, gettext


@dataclass(frozen=True)
class AuditActor:
    user_id: int | None
    username: str
    role: str | None = None
    ip: str | None = None
    request_id: str | None = None
    display_name: str | None = None  # what trails show; the username when there is none

    @property
    def shown_name(self) -> str:
        return self.display_name or self.username


SYSTEM = AuditActor(user_id=None, username="system")
# The accounts that are no person — jobs, the command line, the demo loader — as people read
# them in a trail (``actor_label``, the template global ``who``).
JOBS: dict[str, str] = {
    "system": N_("System"),
    "demo-data": N_("Demo data loader"),
    "month-end": N_("Month-end job"),
    "regions-load": N_("Region loader"),
    "mqtt-password": N_("Device password tool"),
}


def actor_label(name: str | None) -> str:
    """A trail's actor as shown: a job by its translated name, a person as recorded."""
    if not name:
        return gettext(JOBS["system"])
    return gettext(JOBS[name]) if name in JOBS else name


_actor: contextvars.ContextVar[AuditActor] = contextvars.ContextVar("audit_actor", default=SYSTEM)


def current_actor() -> AuditActor:
    return _actor.get()


@contextmanager
def acting_as(actor: AuditActor) -> Iterator[AuditActor]:
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


def set_actor(actor: AuditActor) -> contextvars.Token[AuditActor]:
    return _actor.set(actor)


class Audited:
    """Mixin: inserts, updates and deletes of this model are written to the audit trail."""

    # Bookkeeping columns that change on every write say nothing a reader needs.
    __audit_exclude__: ClassVar[frozenset[str]] = frozenset({"updated_at", "version"})
    __audit_mask__: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    def audit_elder_id(self) -> int | None:
        return getattr(self, "elder_id", None)

    def audit_region_path(self) -> str | None:
        return getattr(self, "region_path", None)


def jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def _value(obj: Audited, key: str, value: Any) -> Any:
    mask = obj.__audit_mask__.get(key)
    return jsonable(mask(value) if mask and value is not None else value)


def _columns(obj: Audited) -> list[str]:
    mapper = inspect(type(obj))
    return [a.key for a in mapper.column_attrs if a.key not in obj.__audit_exclude__]


def _entity_id(obj: Any) -> str:
    # At ``after_insert`` the row has its primary key (the INSERT ran) but not yet its identity
    # (given when the flush ends): read the key from the instance itself.
    state = inspect(obj)
    identity = state.identity or state.mapper.primary_key_from_instance(obj)
    if identity is None or any(part is None for part in identity):
        return ""
    return "/".join(str(part) for part in identity)


def event_row(
    action: str,
    entity_type: str,
    entity_id: str | None,
    *,
    elder_id: int | None = None,
    region_path: str | None = None,
    summary: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: AuditActor | None = None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    actor = actor or current_actor()
    return {
        "at": at or now(),
        "actor_id": actor.user_id,
        "actor_username": actor.username,
        "actor_role": actor.role,
        "ip": actor.ip,
        "request_id": actor.request_id,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "elder_id": elder_id,
        "region_path": region_path,
        "summary": summary,
        "before": before,
        "after": after,
    }


def _changes(obj: Audited) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in _columns(obj):
        hist = state.attrs[key].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old != new:
            before[key] = _value(obj, key, old)
            after[key] = _value(obj, key, new)
    return before, after


def _row(
    obj: Audited, action: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> dict[str, Any]:
    return event_row(
        action,
        getattr(obj, "__tablename__", type(obj).__name__),
        _entity_id(obj),
        elder_id=obj.audit_elder_id(),
        region_path=obj.audit_region_path(),
        before=before,
        after=after,
    )


def _pending(obj: Any) -> list[dict[str, Any]] | None:
    session = object_session(obj)
    if session is None:
        return None
    pending: list[dict[str, Any]] = session.info.setdefault("audit_pending", [])
    return pending


# Mapper events see every row a flush writes — including orphans removed by a delete-orphan
# cascade, which never appear in ``session.deleted``. Rows are collected per session and
# inserted once, after the flush, in the same transaction.
@event.listens_for(Audited, "after_insert", propagate=True)
def _audit_insert(_mapper: Any, _conn: Any, obj: Audited) -> None:
    pending = _pending(obj)
    if pending is not None:
        pending.append(
            _row(obj, "create", None, {k: _value(obj, k, getattr(obj, k)) for k in _columns(obj)})
        )


@event.listens_for(Audited, "after_update", propagate=True)
def _audit_update(_mapper: Any, _conn: Any, obj: Audited) -> None:
    pending = _pending(obj)
    before, after = _changes(obj)
    if pending is not None and after:
        pending.append(_row(obj, "update", before, after))


@event.listens_for(Audited, "after_delete", propagate=True)
def _audit_delete(_mapper: Any, _conn: Any, obj: Audited) -> None:
    pending = _pending(obj)
    if pending is not None:
        pending.append(
            _row(obj, "delete", {k: _value(obj, k, getattr(obj, k)) for k in _columns(obj)}, None)
        )


@event.listens_for(Session, "after_flush")
def _audit_after_flush(session: Session, _ctx: UOWTransaction) -> None:
    rows = session.info.pop("audit_pending", None)
    if rows:
        session.connection().execute(insert(AuditEvent), rows)


def record(
    session: Session, action: str, entity_type: str, entity_id: str | None, **kw: Any
) -> None:
    """Record a non-ORM event: a read of a medical profile, an export, a login, a bulk write."""
    session.add(AuditEvent(**event_row(action, entity_type, entity_id, **kw)))


def record_many(
    session: Session,
    rows: Iterable[dict[str, Any]],
    common: dict[str, Any] | None = None,
    *,
    binary: bool = False,
) -> None:
    """Bulk audit rows; ``common`` holds the columns every row shares (an ``event_row``).
    ``binary``: the values have the columns' types (``core.bulk.insert_rows``)."""
    batch = list(rows)
    if batch:
        from yiyang.core.bulk import insert_rows

        table = AuditEvent.__table__
        assert isinstance(table, Table)
        fixed = {k: v for k, v in (common or {}).items() if k not in batch[0]}
        insert_rows(session.connection(), table, batch, fixed, binary=binary)
