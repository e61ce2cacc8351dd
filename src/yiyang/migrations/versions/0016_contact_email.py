"""Emergency contacts: alerts also by e-mail (emergency_contact.email)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 19:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("emergency_contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("emergency_contact", schema=None) as batch_op:
        batch_op.drop_column("email")
