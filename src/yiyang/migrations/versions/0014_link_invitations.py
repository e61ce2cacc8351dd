"""Invitation codes linking a family member to an elder (link_invitation)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["elder_id"],
            ["elder.id"],
            name=op.f("fk_link_invitation_elder_id_elder"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_link_invitation_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["used_by"], ["app_user.id"], name=op.f("fk_link_invitation_used_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_invitation")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_link_invitation_code_hash")),
    )
    with op.batch_alter_table("link_invitation", schema=None) as batch_op:
        batch_op.create_index("ix_link_invitation_elder", ["elder_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("link_invitation", schema=None) as batch_op:
        batch_op.drop_index("ix_link_invitation_elder")
    op.drop_table("link_invitation")
