"""The elder's confirmation code locks after five wrong tries (issue #14, item 6)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_order", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("code_failures", sa.SmallInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("code_locked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("service_order", schema=None) as batch_op:
        batch_op.drop_column("code_locked_at")
        batch_op.drop_column("code_failures")
