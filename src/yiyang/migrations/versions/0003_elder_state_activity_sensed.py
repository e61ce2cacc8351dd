"""elder_state.activity_sensed: silence rules only for homes with motion/door sensors

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("elder_state") as batch_op:
        batch_op.add_column(
            sa.Column("activity_sensed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Existing rows start unknown (false) and turn true at the home's next motion/door event.


def downgrade() -> None:
    with op.batch_alter_table("elder_state") as batch_op:
        batch_op.drop_column("activity_sensed")
