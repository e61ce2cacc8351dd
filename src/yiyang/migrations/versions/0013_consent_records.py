"""consent_record: each consent given or withdrawn, with the text version, who recorded it and
when (PIPL art. 29; issue #18). Append-only, like the status history: a trigger refuses updates
and deletes. The elder's ``consent_*`` flags stay as the state in force; every flag already set
becomes a "given" record of text version ``legacy`` (recorded by the migration, on the elder's
``consent_date`` or today), so the history explains every flag from now on.

Revision ID: 0013
Revises: 0012
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "consent_record"
FLAGS = {
    "consent_data_processing": "data_processing",
    "consent_health_monitoring": "health_monitoring",
    "consent_share_with_family": "share_with_family",
}


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("region_path", sa.String(length=255), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("text_version", sa.String(length=32), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_by_name", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["elder_id"],
            ["elder.id"],
            name=op.f("fk_consent_record_elder_id_elder"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_record")),
    )
    with op.batch_alter_table(TABLE) as batch_op:
        batch_op.create_index("ix_consent_record_elder", ["elder_id", "purpose", "id"])
    _backfill()
    _append_only_up()


def _backfill() -> None:
    """A "given" record (text version ``legacy``) for each flag already set."""
    bind = op.get_bind()
    elder = sa.table(
        "elder",
        sa.column("id", sa.Integer),
        sa.column("region_path", sa.String),
        sa.column("consent_date", sa.Date),
        *(sa.column(flag, sa.Boolean) for flag in FLAGS),
    )
    record = sa.table(
        TABLE,
        *(
            sa.column(name, kind)
            for name, kind in (
                ("elder_id", sa.Integer),
                ("region_path", sa.String),
                ("purpose", sa.String),
                ("action", sa.String),
                ("text_version", sa.String),
                ("signed_on", sa.Date),
                ("method", sa.String),
                ("note", sa.String),
                ("recorded_by_name", sa.String),
                ("at", sa.DateTime(timezone=True)),
            )
        ),
    )
    now = dt.datetime.now(dt.UTC)
    rows = []
    query = sa.select(elder).where(sa.or_(*(elder.c[flag] for flag in FLAGS)))
    for r in bind.execute(query).mappings():
        for flag, purpose in FLAGS.items():
            if r[flag]:
                rows.append(
                    {
                        "elder_id": r["id"],
                        "region_path": r["region_path"],
                        "purpose": purpose,
                        "action": "given",
                        "text_version": "legacy",
                        "signed_on": r["consent_date"] or now.date(),
                        "method": "import",
                        "note": "recorded before consent texts were versioned (migration 0013)",
                        "recorded_by_name": "migration",
                        "at": now,
                    }
                )
        if len(rows) >= 5000:
            op.bulk_insert(record, rows)
            rows = []
    if rows:
        op.bulk_insert(record, rows)


def _append_only_up() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"""
            CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{TABLE} is append-only'; END; $$ LANGUAGE plpgsql""")
        op.execute(f"""
            CREATE TRIGGER {TABLE}_no_change BEFORE UPDATE ON {TABLE}
            FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()""")
    elif dialect == "sqlite":
        op.execute(f"""
            CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE}
            BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only'); END""")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_change ON {TABLE}")
        op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_append_only()")
    elif dialect == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update")
    with op.batch_alter_table(TABLE) as batch_op:
        batch_op.drop_index("ix_consent_record_elder")
    op.drop_table(TABLE)
