"""One-time sign-in codes sent by SMS to family members (phone_sign_in_code)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "phone_sign_in_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_phone_sign_in_code_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_sign_in_code")),
    )
    with op.batch_alter_table("phone_sign_in_code", schema=None) as batch_op:
        batch_op.create_index("ix_phone_sign_in_code_phone", ["phone", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("phone_sign_in_code", schema=None) as batch_op:
        batch_op.drop_index("ix_phone_sign_in_code_phone")
    op.drop_table("phone_sign_in_code")
