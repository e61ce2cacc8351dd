"""Bulk inserts for imports: PostgreSQL ``COPY`` (ids pre-allocated from the table's sequence),
Core ``executemany`` elsewhere. Runs inside the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Connection, Table, insert, text


def _python_defaults(table: Table, present: set[str]) -> dict[str, Any]:
    """COPY skips SQLAlchemy's client-side defaults; supply them for absent columns."""
    out: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.name in present or default is None or column.primary_key:
            continue
        arg = getattr(default, "arg", None)
        if getattr(default, "is_scalar", False):
            out[column.name] = arg
        elif getattr(default, "is_callable", False) and callable(arg):
            out[column.name] = arg(None)
    return out


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    constants: dict[str, Any] | None = None,
) -> None:
    """Insert ``rows`` (all with the same keys) into ``table``; ``constants`` are the same for
    every row (a timestamp, a status) and are not copied into each dict."""
    if not rows:
        return
    constants = constants or {}
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), [{**constants, **r} for r in rows] if constants else list(rows))
        return
    names = list(rows[0])
    fixed = {**_python_defaults(table, set(names) | set(constants)), **constants}
    all_names = names + list(fixed)
    tail = list(fixed.values())
    json_at = [i for i, n in enumerate(names) if isinstance(table.c[n].type, JSON)]
    tail = [
        json.dumps(v, ensure_ascii=False, default=str)
        if isinstance(table.c[n].type, JSON) and v is not None
        else v
        for n, v in fixed.items()
    ]
    columns = ", ".join(f'"{n}"' for n in all_names)
    raw = conn.connection.driver_connection
    assert raw is not None
    dumps = json.dumps
    with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            values = [row[n] for n in names]
            for i in json_at:
                if values[i] is not None:
                    values[i] = dumps(values[i], ensure_ascii=False, default=str)
            values += tail
            copy.write_row(values)


def insert_returning_ids(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    constants: dict[str, Any] | None = None,
) -> list[int]:
    """Insert rows and return their new primary keys, in order."""
    if not rows:
        return []
    if conn.dialect.name != "postgresql":
        params = [{**(constants or {}), **r} for r in rows]
        result = conn.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), params
        )
        return list(result.scalars().all())
    ids = list(
        conn.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table.name, "n": len(rows)},
        ).scalars()
    )
    for i, row in zip(ids, rows, strict=True):
        row["id"] = i
    insert_rows(conn, table, rows, constants)
    return ids
