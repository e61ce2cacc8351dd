"""Alembic migrations up and down on a fresh SQLite file and a fresh PostgreSQL database; the
migrated schema matches the models (no missing autogenerate diff)."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from tests.conftest import temporary_pg_database
from yiyang.core.db import make_engine
from yiyang.core.migrate import downgrade, upgrade
from yiyang.models import metadata


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
        assert_index_options(engine)
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)  # and up again
    finally:
        engine.dispose()


def _reloptions(engine: Engine, names: list[str]) -> dict[str, list[str]]:
    with engine.connect() as conn:
        return {
            name: sorted(options or [])
            for name, options in conn.execute(
                text("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(:n)"),
                {"n": names},
            )
        }


def assert_index_options(engine: Engine) -> None:
    """Autogenerate does not compare index storage options: the ``postgresql_with`` of every
    model index (the registry's fillfactor) is what the migrations left in PostgreSQL, and
    stepping back over the migration that set them resets them."""
    if engine.dialect.name != "postgresql":
        return
    wanted = {
        index.name: sorted(
            f"{k}={v}" for k, v in index.dialect_options["postgresql"]["with"].items()
        )
        for table in metadata.tables.values()
        for index in table.indexes
        if index.name
    }
    assert _reloptions(engine, list(wanted)) == wanted
    assert wanted["ix_elder_name"] == ["fillfactor=70"]
    downgrade(engine, "0022")
    assert _reloptions(engine, ["ix_elder_name"]) == {"ix_elder_name": []}
    upgrade(engine)
    assert _reloptions(engine, list(wanted)) == wanted


def test_sqlite_up_down_up(tmp_path) -> None:
    roundtrip(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgres_up_down_up() -> None:
    with temporary_pg_database("yiyang_mig") as url:
        roundtrip(url)
