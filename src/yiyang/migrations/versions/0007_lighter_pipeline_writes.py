"""lighter writes on the device pipeline's hottest tables

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 23:55:00

- ``ix_device_message_received``: no query reads it; every stored message paid for it.
- ``ix_elder_state_activity``: every motion event moved ``last_activity_at``, so every state
  write had to update this index as well as the row (no HOT update possible). The sweeper's
  hourly look at ``elder_state`` reads the whole (one row per elder) table anyway.
- ``ix_device_status_seen``: the pipeline moves ``device.last_seen_at`` all day; with the column
  indexed no update could be HOT, and the table bloated with dead index entries. The sweeper's
  look for silent devices reads the table whole.
- ``elder_state`` (30 %) and ``device`` (20 %) leave room free in each page on PostgreSQL, so
  a rewrite can stay on its page (a HOT update: no index touched).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("device_message", schema=None) as batch_op:
        batch_op.drop_index("ix_device_message_received")
    with op.batch_alter_table("elder_state", schema=None) as batch_op:
        batch_op.drop_index("ix_elder_state_activity")
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index("ix_device_status_seen")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE elder_state SET (fillfactor = 70)")
        op.execute("ALTER TABLE device SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE elder_state RESET (fillfactor)")
        op.execute("ALTER TABLE device RESET (fillfactor)")
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.create_index("ix_device_status_seen", ["status", "last_seen_at"], unique=False)
    with op.batch_alter_table("elder_state", schema=None) as batch_op:
        batch_op.create_index("ix_elder_state_activity", ["last_activity_at"], unique=False)
    with op.batch_alter_table("device_message", schema=None) as batch_op:
        batch_op.create_index("ix_device_message_received", ["received_at"], unique=False)
