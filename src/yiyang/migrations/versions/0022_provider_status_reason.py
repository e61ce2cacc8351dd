"""Provider management pages (issue #19): provider.status_reason

Why a provider is suspended, as the district officer gave it; cleared when it is reinstated.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("provider", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("provider", schema=None) as batch_op:
        batch_op.drop_column("status_reason")
