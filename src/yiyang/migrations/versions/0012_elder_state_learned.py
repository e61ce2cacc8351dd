"""elder_state.learned: the home's learned silences, front door and away state (issue #16,
docs/adr/0014). Existing rows start with ``{}``: the cold start, today's fixed rules, until
the model has learned ``silence_learn_days`` days.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("elder_state") as batch_op:
        batch_op.add_column(
            sa.Column("learned", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("elder_state") as batch_op:
        batch_op.drop_column("learned")
