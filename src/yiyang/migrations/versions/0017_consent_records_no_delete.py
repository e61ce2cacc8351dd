"""Consent records: append-only against DELETE too, not only UPDATE

0013 refused UPDATE on consent_record but not DELETE, so a row could be removed by hand or by
deleting the elder (the foreign key cascades). Consent records are the evidence of what the
elder agreed to and when (PIPL art. 29): PostgreSQL's trigger now fires BEFORE UPDATE OR DELETE
and SQLite gets a BEFORE DELETE trigger next to its BEFORE UPDATE one.

Elders are never hard-deleted (a death, a move or a withdrawal is a status change,
``registry.service``; no code path issues a DELETE on ``elder``), so the cascade is never
reached in use. Should an elder row ever be deleted by hand, the cascade into consent_record now
fails and the delete is refused as a whole: the consent history outlives the record. A DROP
TABLE (0013's downgrade) fires no row trigger.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 19:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "consent_record"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # The function (0013) raises "consent_record is append-only" for any row operation.
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_change ON {TABLE}")
        op.execute(f"""
            CREATE TRIGGER {TABLE}_no_change BEFORE UPDATE OR DELETE ON {TABLE}
            FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()""")
    elif dialect == "sqlite":
        op.execute(f"""
            CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE}
            BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only'); END""")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_change ON {TABLE}")
        op.execute(f"""
            CREATE TRIGGER {TABLE}_no_change BEFORE UPDATE ON {TABLE}
            FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()""")
    elif dialect == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_delete")
