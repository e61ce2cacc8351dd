"""Room to grow in the registry's random-order indexes (issue #17): fillfactor 70 on PostgreSQL

The name, phone, ID-tail and birth-date indexes of ``elder`` receive their keys in random
order. Built in one pass — a district's first load rebuilds them, as does a REINDEX — their
leaf pages are packed to 90 % and split at the next import's inserts. Only the option
changes here (no rebuild); it applies to the next build. Indexes led by a region or a
category keep the default (new keys go to the end of each value's range).
SQLite has no such option.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 05:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    "ix_elder_name",
    "ix_elder_community_name",
    "ix_elder_street_name",
    "ix_elder_id_tail",
    "ix_elder_mobile_phone",
    "ix_elder_home_phone",
    "ix_elder_birth_date",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f'ALTER INDEX "{name}" SET (fillfactor = 70)')


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f'ALTER INDEX "{name}" RESET (fillfactor)')
