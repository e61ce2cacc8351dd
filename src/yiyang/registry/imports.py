"""Bulk import of elder rolls: dry run and commit share one plan, so the report a person reads
is what the commit does. A commit writes all good rows in one transaction (upsert on the ID
number); rows that fail are kept on the batch, downloadable with their reasons."""

from __future__ import annotations

import contextvars
import gc
import hashlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Table,
    any_,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from yiyang.core import audit, bulk
from yiyang.core.clock import now, today_local
from yiyang.core.config import get_settings
from yiyang.core.errors import Forbidden, NotFound, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor, region_scope_path
from yiyang.regions.models import Region
from yiyang.registry.enums import ElderStatus
from yiyang.registry.importer import (
    DuplicateCheck,
    ImportContext,
    ImportFileError,
    ParsedTable,
    RegionIndex,
    RegionRef,
    RejectedRow,
    ValidRow,
    chunked,
    read_table,
    rejection,
    relabel,
    validate_rows,
)
from yiyang.registry.models import (
    Elder,
    ElderCategory,
    ElderStatusChange,
    EmergencyContact,
    ImportBatch,
    RegistrySynonym,
)
from yiyang.registry.synonyms import Synonyms

CHUNK = 5000
# A first load into an empty registry of at least this many rows builds the secondary indexes
# and the foreign keys of the registry's tables once, after the rows (ADR 0004).
FIRST_LOAD_ROWS = CHUNK
FIRST_LOAD_TABLES = ("elder", "elder_category", "emergency_contact", "elder_status_change")
REPORT_LIMIT = 1000  # rejected rows returned inline; all of them stay downloadable


@dataclass
class Outcome:
    total: int = 0
    valid: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    unknown_headers: list[str] = field(default_factory=list)
    layout: dict[str, Any] = field(default_factory=dict)  # header row, headers, fields


def _region_index(session: Session) -> RegionIndex:
    return RegionIndex.of(
        {
            code: RegionRef(rid, path, name)
            for rid, code, path, name in session.execute(
                select(Region.id, Region.code, Region.path, Region.name)
            )
        }
    )


def district_synonyms(session: Session, scope: str) -> Synonyms:
    """The default synonym tables with the additions of every region above or at ``scope``
    (a district's additions apply to its streets' imports)."""
    rows = session.execute(
        select(
            RegistrySynonym.region_path,
            RegistrySynonym.kind,
            RegistrySynonym.wording,
            RegistrySynonym.value,
        ).order_by(func.length(RegistrySynonym.region_path))
    ).all()
    return Synonyms.default().with_additions(
        (kind, wording, value) for path, kind, wording, value in rows if scope.startswith(path)
    )


def import_context(session: Session, scope: str) -> ImportContext:
    return ImportContext(get_settings().default_area_code, district_synonyms(session, scope))


def _snapshot(values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The audit view of imported values (and ``extra``): JSON-ready, masked as the ORM's audit
    masks an elder (``Elder.__audit_mask__``). Import values are already plain
    (str/int/float/bool/list) except the birth date."""
    out = {**values, **extra}
    out.pop("region_id", None)
    for key, mask in Elder.__audit_mask__.items():  # as the ORM's audit masks an elder
        if key in out:
            out[key] = mask(out[key])
    birth = out.get("birth_date")
    if birth is not None and not isinstance(birth, str):
        out["birth_date"] = birth.isoformat()
    return out


def _validated_chunks(
    table: ParsedTable, regions: RegionIndex, scope: str, context: ImportContext
) -> Iterator[list[ValidRow | RejectedRow]]:
    """Validated chunks in file order, streamed: memory stays bounded by the chunk size.
    (Validating in a worker process was measured and lost: pickling the results back costs
    about half of what the validation itself does — see bench/README.md.)"""
    for chunk in chunked(table.rows, CHUNK):
        yield validate_rows(chunk, table.columns, regions, scope, context=context)


def column_mapping(layout: dict[str, Any]) -> list[dict[str, Any]]:
    """The layout as rows for a report: file column → field."""
    fields = layout.get("fields", [])
    return [
        {"column": i, "header": header, "field": fields[i] if i < len(fields) else None}
        for i, header in enumerate(layout.get("headers", []))
    ]


def _mapping(layout: dict[str, Any] | None) -> dict[int, str | None] | None:
    """A clerk's column mapping kept on a batch (None: map by the headers)."""
    if not layout or not layout.get("mapped_by_clerk"):
        return None
    return dict(enumerate(layout.get("fields", [])))


def run(
    session: Session,
    actor: Actor,
    filename: str,
    data: bytes,
    *,
    write: bool,
    mapping: dict[int, str | None] | None = None,
) -> Outcome:
    """Validate ``data`` and (when ``write``) upsert the good rows. Flushes, never commits.
    ``mapping`` (column index → field) replaces the mapping by headers."""
    scope = region_scope_path(actor)
    if not actor.can(Perm.IMPORT_ELDERS) or scope is None:
        raise Forbidden(_("Your role may not do this."))
    rejected: list[RejectedRow] = []
    try:
        table = read_table(data, filename, mapping)
        outcome = Outcome(unknown_headers=table.unknown_headers, layout=table.layout())
        if mapping is not None:
            outcome.layout["mapped_by_clerk"] = True
        context = import_context(session, scope)
        dupes = DuplicateCheck()
        deferred: Deferred | None = None
        # Pipeline: this thread validates chunk N+1 while one writer thread looks up and writes
        # chunk N (it waits on PostgreSQL with the GIL released). Only the writer touches the
        # session while the pipeline runs; context (audit actor, locale) is copied to it.
        with (
            _collector_paused(),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") as writer,
        ):
            pending: Future[list[RejectedRow]] | None = None
            for results in _validated_chunks(table, _region_index(session), scope, context):
                good, bad = dupes.split(results, table.columns)
                if write and outcome.total == 0 and len(results) >= FIRST_LOAD_ROWS:
                    deferred = defer_indexes(session)  # the writer has not started yet
                outcome.total += len(results)
                rejected.extend(bad)
                if pending is not None:
                    rejected.extend(pending.result())
                    pending = None
                if good:
                    pending = writer.submit(
                        contextvars.copy_context().run,
                        _process_chunk,
                        session,
                        actor,
                        scope,
                        good,
                        table.columns,
                        outcome,
                        write,
                        deferred is not None,
                    )
            if pending is not None:
                rejected.extend(pending.result())
        if deferred is not None:
            rebuild_indexes(session, deferred)
    except ImportFileError as exc:
        raise ValidationFailed(str(exc), field="file") from None
    outcome.valid = outcome.created + outcome.updated + outcome.unchanged
    rejected.sort(key=lambda r: r.row)
    relabel(rejected, table)
    outcome.rejected = [
        {"row": r.row, "errors": r.errors, "values": r.values, "cells": r.cells} for r in rejected
    ]
    return outcome


_COMPARE_SKIP = {"region_id"}


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the rows' pipeline. An import allocates a few dozen
    containers per row, all freed by reference counting when their chunk is written (no
    cycles); the collector would rescan the live chunks every few hundred rows, measured at
    ~40 % of the validation's CPU time (bench/README.md). Back on afterwards, as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _process_chunk(
    session: Session,
    actor: Actor,
    scope: str,
    chunk: Sequence[ValidRow],
    file_columns: dict[str, int],
    outcome: Outcome,
    write: bool,
    empty: bool = False,
) -> list[RejectedRow]:
    """Look up, compare and write one chunk. ``empty``: a first load into a registry that was
    empty when this transaction locked it: every row is new (the file's own duplicates are
    already out), so nothing is looked up."""
    columns = set(file_columns)
    numbers = [r.values["id_number"] for r in chunk]
    keys = [k for k in chunk[0].values if k not in _COMPARE_SKIP]
    cols = [getattr(Elder, k) for k in keys]
    existing = (
        {}
        if empty
        else {
            row.id_number: row
            for row in session.execute(
                select(Elder.id, Elder.version, Elder.region_path.label("cur_path"), *cols).where(
                    _in(session, Elder.id_number, numbers)
                )
            )
        }
    )
    ids = [e.id for e in existing.values()]
    old_categories: dict[int, list[str]] = {}
    old_contacts: dict[int, tuple[str, str, str] | None] = {}
    if ids and "categories" in columns:
        for elder_id, category in session.execute(
            select(ElderCategory.elder_id, ElderCategory.category)
            .where(_in(session, ElderCategory.elder_id, ids))
            .order_by(ElderCategory.category)
        ):
            old_categories.setdefault(elder_id, []).append(category)
    if ids and ("contact_name" in columns or "contact_phone" in columns):
        for elder_id, name, relation, phone in session.execute(
            select(
                EmergencyContact.elder_id,
                EmergencyContact.name,
                EmergencyContact.relation,
                EmergencyContact.phone,
            ).where(_in(session, EmergencyContact.elder_id, ids), EmergencyContact.priority == 1)
        ):
            old_contacts[elder_id] = (name, relation, phone)

    rejected: list[RejectedRow] = []
    creates: list[ValidRow] = []
    updates: list[tuple[Any, ValidRow, dict[str, Any], dict[str, Any]]] = []
    new_categories: list[tuple[int, list[str]]] = []
    new_contacts: list[tuple[int, dict[str, Any] | None]] = []
    for row in chunk:
        old = existing.get(row.values["id_number"])
        if old is None:
            creates.append(row)
            continue
        if scope != "/" and not old.cur_path.startswith(scope):
            rejected.append(
                rejection(
                    row,
                    file_columns,
                    {
                        "field": "id_number",
                        "column": "身份证号",
                        "message": _(
                            "This person is registered in a region outside your jurisdiction; "
                            "ask the district to transfer the record."
                        ),
                    },
                )
            )
            continue
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for key in keys:
            old_value = getattr(old, key)
            if old_value != row.values[key]:
                before[key], after[key] = old_value, row.values[key]
        if "categories" in columns and old_categories.get(old.id, []) != row.categories:
            before["categories"], after["categories"] = (
                old_categories.get(old.id, []),
                row.categories,
            )
            new_categories.append((old.id, row.categories))
        if "contact_name" in columns or "contact_phone" in columns:
            wanted = (
                (row.contact["name"], row.contact["relation"], row.contact["phone"])
                if row.contact
                else None
            )
            previous = old_contacts.get(old.id)
            if wanted and previous != wanted:
                before["contact"] = list(previous) if previous else None
                after["contact"] = list(wanted)
                new_contacts.append((old.id, row.contact))
        if after:
            updates.append((old, row, before, after))
        else:
            outcome.unchanged += 1
    outcome.created += len(creates)
    outcome.updated += len(updates)
    if write:
        _write(session, actor, creates, updates, new_categories, new_contacts)
    return rejected


def _write(
    session: Session,
    actor: Actor,
    creates: list[ValidRow],
    updates: list[tuple[Any, ValidRow, dict[str, Any], dict[str, Any]]],
    new_categories: list[tuple[int, list[str]]],
    new_contacts: list[tuple[int, dict[str, Any] | None]],
) -> None:
    stamp = now()
    audit_actor = audit.current_actor()
    conn = session.connection()  # Core executemany: the ORM bulk path is far slower here
    audit_rows: list[dict[str, Any]] = []
    if creates:
        fixed = {
            "created_at": stamp,
            "updated_at": stamp,
            "version": 1,
            "status": ElderStatus.ACTIVE.value,
        }
        values = [r.values for r in creates]
        returned = bulk.insert_returning_ids(conn, _table(Elder), values, fixed, binary=True)
        categories = [
            {"elder_id": eid, "category": c}
            for eid, r in zip(returned, creates, strict=True)
            for c in r.categories
        ]
        if categories:
            bulk.insert_rows(conn, _table(ElderCategory), categories, binary=True)
        contacts = [
            {"elder_id": eid, **r.contact}
            for eid, r in zip(returned, creates, strict=True)
            if r.contact
        ]
        bulk.insert_rows(
            conn,
            _table(EmergencyContact),
            contacts,
            {"priority": 1, "receives_alerts": True},
            binary=True,
        )
        bulk.insert_rows(
            conn,
            _table(ElderStatusChange),
            [{"elder_id": eid} for eid in returned],
            {
                "from_status": None,
                "to_status": ElderStatus.ACTIVE.value,
                "effective_date": today_local(),
                "reason": "imported",
                "actor_id": actor.user_id,
                "at": stamp,
            },
            binary=True,
        )
        audit.record_many(
            session,
            [
                {
                    "entity_id": str(eid),
                    "elder_id": eid,
                    "region_path": r.values["region_path"],
                    "after": _snapshot(r.values, categories=r.categories, contact=r.contact),
                }
                for eid, r in zip(returned, creates, strict=True)
            ],
            audit.event_row("create", "elder", None, at=stamp, summary="import", actor=audit_actor),
            binary=True,
        )
    if updates:
        table = _table(Elder)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for old, row, before, after in updates:
            changed = tuple(sorted(k for k in after if k in row.values))
            groups.setdefault(changed, []).append(
                {
                    "b_id": old.id,
                    "b_version": old.version + 1,
                    "b_updated_at": stamp,
                    **{f"b_{k}": row.values[k] for k in changed},
                    **(
                        {"b_region_id": row.values["region_id"]} if "region_path" in changed else {}
                    ),
                }
            )
            audit_rows.append(
                audit.event_row(
                    "update",
                    "elder",
                    str(old.id),
                    actor=audit_actor,
                    elder_id=old.id,
                    at=stamp,
                    summary="import",
                    region_path=row.values.get("region_path", old.cur_path),
                    before=_snapshot(before),
                    after=_snapshot(after),
                )
            )
        for changed, params in groups.items():
            names = list(changed) + (["region_id"] if "region_path" in changed else [])
            stmt = (
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(
                    version=bindparam("b_version"),
                    updated_at=bindparam("b_updated_at"),
                    **{k: bindparam(f"b_{k}") for k in names},
                )
            )
            conn.execute(stmt, params)
    if new_categories:
        session.execute(
            delete(ElderCategory).where(ElderCategory.elder_id.in_([e for e, _c in new_categories]))
        )
        rows = [{"elder_id": e, "category": c} for e, cats in new_categories for c in cats]
        if rows:
            bulk.insert_rows(conn, _table(ElderCategory), rows, binary=True)
    if new_contacts:
        session.execute(
            delete(EmergencyContact).where(
                EmergencyContact.elder_id.in_([e for e, _c in new_contacts]),
                EmergencyContact.priority == 1,
            )
        )
        bulk.insert_rows(
            conn,
            _table(EmergencyContact),
            [
                {"elder_id": e, "priority": 1, "receives_alerts": True, **c}
                for e, c in new_contacts
                if c
            ],
            binary=True,
        )
    audit.record_many(session, audit_rows, binary=True)


@dataclass
class Deferred:
    """What a first load dropped and builds again after its rows: index and constraint DDL."""

    indexes: list[str]  # CREATE INDEX statements, as PostgreSQL reports them
    constraints: list[tuple[str, str, str]]  # (table, name, definition)


def defer_indexes(session: Session) -> Deferred | None:
    """PostgreSQL, registry empty: lock the registry's tables for this transaction and drop
    their secondary indexes, unique and foreign-key constraints (primary keys stay), to build
    each once after the load instead of maintaining it row by row (ADR 0004). None — nothing
    dropped — on SQLite or when the registry has an elder. The drop is transactional: a failed
    import gets them back with its rollback."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    if session.scalar(select(Elder.id).limit(1)) is not None:
        return None  # the usual case: no lock taken, nothing changed
    tables = ", ".join(f'"{t}"' for t in FIRST_LOAD_TABLES)
    session.execute(text(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE"))
    if session.scalar(select(Elder.id).limit(1)) is not None:
        return None  # another import got there first (it committed before our lock)
    names = list(FIRST_LOAD_TABLES)
    constraints = [
        (table, name, definition)
        for table, name, definition in session.execute(
            text(
                "SELECT r.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
                "JOIN pg_class r ON r.oid = k.conrelid WHERE r.relname = ANY(:t) "
                "AND r.relnamespace = current_schema()::regnamespace AND k.contype IN ('u', 'f') "
                "ORDER BY k.contype DESC, r.relname, k.conname"
            ),
            {"t": names},
        )
    ]
    indexes = list(
        session.execute(
            text(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class r ON r.oid = x.indrelid "
                "WHERE r.relname = ANY(:t) AND r.relnamespace = current_schema()::regnamespace "
                "AND NOT x.indisprimary AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid) "
                "ORDER BY r.relname, i.relname"
            ),
            {"t": names},
        )
    )
    for table, name, _definition in reversed(constraints):  # foreign keys first
        session.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
    for name, _definition in indexes:
        session.execute(text(f'DROP INDEX "{name}"'))
    return Deferred([definition for _name, definition in indexes], constraints)


def rebuild_indexes(session: Session, deferred: Deferred) -> None:
    """Build what ``defer_indexes`` dropped, each in one pass over the loaded rows; a unique or
    foreign key that the rows break fails the import as a whole (the rollback restores the
    registry as it was)."""
    session.execute(text(f"SET LOCAL maintenance_work_mem = '{FIRST_LOAD_SORT_MEMORY}'"))
    for definition in deferred.indexes:
        session.execute(text(definition))
    for table, name, definition in deferred.constraints:  # unique first, then foreign keys
        session.execute(text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'))


FIRST_LOAD_SORT_MEMORY = "256MB"  # per index build, this transaction only (docs/deploy.md)


def _in(session: Session, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values``; on PostgreSQL one array parameter (``= ANY``) instead of thousands
    of binds, which the driver would otherwise re-parse for every chunk."""
    if session.get_bind().dialect.name == "postgresql":
        item = String() if isinstance(values[0], str) else Integer()
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(item)))
    return column.in_(values)


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


# ---------------------------------------------------------------------------- batches
def _new_batch(actor: Actor, filename: str, data: bytes, **fields: Any) -> ImportBatch:
    return ImportBatch(
        filename=filename[:255],
        file_sha256=hashlib.sha256(data).hexdigest(),
        file_format="xlsx" if data[:4] == b"PK\x03\x04" else "csv",
        created_by=actor.user_id,
        region_path=region_scope_path(actor) or actor.region_path,
        **fields,
    )


def _record_import(session: Session, batch: ImportBatch, outcome: Outcome) -> None:
    audit.record(
        session,
        "import",
        "import_batch",
        str(batch.id),
        region_path=batch.region_path,
        summary=f"{batch.filename}: +{outcome.created} ~{outcome.updated} "
        f"={outcome.unchanged} x{len(outcome.rejected)}",
    )


def dry_run(
    session: Session, actor: Actor, filename: str, data: bytes
) -> tuple[ImportBatch, Outcome]:
    outcome = run(session, actor, filename, data, write=False)
    batch = _new_batch(actor, filename, data, stored_file=data)
    _fill(batch, outcome)
    session.add(batch)
    session.flush()
    return batch, outcome


def remap(
    session: Session, actor: Actor, batch_id: int, fields: dict[int, str | None]
) -> tuple[ImportBatch, Outcome]:
    """Check a dry-run batch again with the clerk's column mapping (column index → field, None
    to ignore a column); the commit then reads the file the same way."""
    batch = _uncommitted(session, actor, batch_id)
    outcome = run(
        session, actor, batch.filename, batch.stored_file or b"", write=False, mapping=fields
    )
    _fill(batch, outcome)
    session.flush()
    return batch, outcome


def _uncommitted(session: Session, actor: Actor, batch_id: int) -> ImportBatch:
    batch = access_batch(session, actor, batch_id)
    if batch.committed_at is not None:
        raise ValidationFailed(_("This import has already been committed."), field="batch")
    if batch.created_by != actor.user_id:
        raise Forbidden(_("Only the person who uploaded the file can commit it."))
    return batch


def commit(session: Session, actor: Actor, batch_id: int) -> tuple[ImportBatch, Outcome]:
    """Commit a dry-run batch. The rows are validated again: the registry may have changed."""
    batch = _uncommitted(session, actor, batch_id)
    data = batch.stored_file or b""
    outcome = run(session, actor, batch.filename, data, write=True, mapping=_mapping(batch.layout))
    _fill(batch, outcome)
    batch.committed_at = now()
    batch.stored_file = None  # the roll is in the registry now; keep no second copy of it
    _record_import(session, batch, outcome)
    session.flush()
    return batch, outcome


def import_now(
    session: Session, actor: Actor, filename: str, data: bytes
) -> tuple[ImportBatch, Outcome]:
    """Validate and commit in one step (CLI, API with dry_run=false)."""
    outcome = run(session, actor, filename, data, write=True)
    batch = _new_batch(actor, filename, data, committed_at=now())
    _fill(batch, outcome)
    session.add(batch)
    session.flush()
    _record_import(session, batch, outcome)
    return batch, outcome


def _fill(batch: ImportBatch, outcome: Outcome) -> None:
    batch.total_rows = outcome.total
    batch.valid_rows = outcome.valid
    batch.created_count = outcome.created
    batch.updated_count = outcome.updated
    batch.unchanged_count = outcome.unchanged
    batch.rejected_count = len(outcome.rejected)
    batch.rejected = outcome.rejected
    batch.layout = outcome.layout


def access_batch(session: Session, actor: Actor, batch_id: int) -> ImportBatch:
    batch = session.get(ImportBatch, batch_id)
    scope = region_scope_path(actor)
    if (
        batch is None
        or scope is None
        or not (actor.role is Role.PLATFORM_ADMIN or batch.region_path.startswith(scope))
    ):
        raise NotFound(_("No such import."))
    return batch


def recent_batches(session: Session, actor: Actor, limit: int = 20) -> Sequence[ImportBatch]:
    scope = region_scope_path(actor)
    if scope is None:
        return []
    stmt = select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit)
    if scope != "/":
        stmt = stmt.where(ImportBatch.region_path.startswith(scope, autoescape=True))
    return session.scalars(stmt).all()
