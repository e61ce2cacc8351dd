"""alarm receiving centre: DC-09 / Contact ID accounts of alarm panels

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alarm_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=16), nullable=False),
        sa.Column("aes_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_alarm_account_device_id_device")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_account")),
        sa.UniqueConstraint("account", name=op.f("uq_alarm_account_account")),
        sa.UniqueConstraint("device_id", name=op.f("uq_alarm_account_device_id")),
    )


def downgrade() -> None:
    op.drop_table("alarm_account")
