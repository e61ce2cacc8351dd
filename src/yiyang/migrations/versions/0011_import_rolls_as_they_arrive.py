"""Rolls as they arrive (issue #17): the 15-digit ID an 18-digit one was upgraded from, phone
notes, the import batch's header row and column mapping, and a district's synonym table

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (nullable) on both backends: a batch rebuild of ``elder`` on SQLite would
    # have to recreate its expression indexes.
    op.add_column("elder", sa.Column("id_number_legacy", sa.String(length=15), nullable=True))
    op.add_column("elder", sa.Column("phone_notes", sa.String(length=255), nullable=True))
    op.add_column("import_batch", sa.Column("layout", sa.JSON(), nullable=True))
    op.create_table(
        "registry_synonym",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_path", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("wording", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_synonym")),
        sa.UniqueConstraint("region_path", "kind", "wording", name="uq_registry_synonym_wording"),
    )


def downgrade() -> None:
    op.drop_table("registry_synonym")
    # DROP COLUMN is native on SQLite ≥ 3.35 and leaves the other indexes alone.
    op.drop_column("import_batch", "layout")
    op.drop_column("elder", "phone_notes")
    op.drop_column("elder", "id_number_legacy")
