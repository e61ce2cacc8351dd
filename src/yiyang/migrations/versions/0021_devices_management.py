"""Device management (issue #19): device.protocol and device.mqtt_password_issued_at

``protocol`` says how a device reaches the platform (``mqtt``: its own MQTT password; ``vendor``:
through its vendor's cloud; ``dc09``: an alarm panel calling the receiver). Rows before it are
``mqtt``, except alarm panels that already have a receiver account (``dc09``).
``mqtt_password_issued_at`` lets a page say a password was issued without ever showing it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("protocol", sa.String(length=16), server_default="mqtt", nullable=False)
        )
        batch_op.add_column(
            sa.Column("mqtt_password_issued_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE device SET protocol = 'dc09' WHERE device_type = 'alarm_panel' "
        "AND id IN (SELECT device_id FROM alarm_account)"
    )


def downgrade() -> None:
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_column("mqtt_password_issued_at")
        batch_op.drop_column("protocol")
