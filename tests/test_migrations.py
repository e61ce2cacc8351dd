"""Alembic migrations up and down on a fresh SQLite file and a fresh PostgreSQL database; the
migrated schema matches the models (no missing autogenerate diff)."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from yiyang.core.db import make_engine
from yiyang.core.migrate import downgrade, upgrade
from yiyang.models import metadata

from .conftest import PG_ADMIN_URL, pg_reachable, require_or_skip


def roundtrip(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"elder", "region", "app_user", "audit_event", "import_batch"} <= tables
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), metadata
            )
        assert diff == []
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)  # and up again
    finally:
        engine.dispose()


def test_sqlite_up_down_up(tmp_path) -> None:
    roundtrip(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgres_up_down_up() -> None:
    reason = pg_reachable()
    if reason:
        require_or_skip(reason, "PostgreSQL at 127.0.0.1:5432")
    name = f"yiyang_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        roundtrip(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
