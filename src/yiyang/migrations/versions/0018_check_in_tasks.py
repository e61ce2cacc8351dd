"""Check-in tasks (issue #16, the graded response): ``check_in_task``, a call to make to a quiet
home (at most one open per elder and finding key), and ``check_in_attempt``, every call made
for it with its outcome — append-only: a trigger refuses UPDATE and DELETE, as for
consent_record (0013, 0017).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TASK = "check_in_task"
ATTEMPT = "check_in_attempt"
OPEN = sa.text("state = 'open'")


def upgrade() -> None:
    op.create_table(
        TASK,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("region_path", sa.String(length=255), nullable=False),
        sa.Column("alert_type", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=96), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("outcome_by", sa.Integer(), nullable=True),
        sa.Column("outcome_by_name", sa.String(length=64), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_check_in_task_alert_id_alert")
        ),
        sa.ForeignKeyConstraint(
            ["elder_id"], ["elder.id"], name=op.f("fk_check_in_task_elder_id_elder")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_in_task")),
    )
    with op.batch_alter_table(TASK) as batch_op:
        batch_op.create_index(
            "uq_check_in_task_open",
            ["elder_id", "dedupe_key"],
            unique=True,
            postgresql_where=OPEN,
            sqlite_where=OPEN,
        )
        batch_op.create_index("ix_check_in_task_elder_key", ["elder_id", "dedupe_key"])
        batch_op.create_index(
            "ix_check_in_task_due", ["due_at"], postgresql_where=OPEN, sqlite_where=OPEN
        )
        batch_op.create_index(
            "ix_check_in_task_region_state",
            ["region_path", "state", "due_at"],
            postgresql_ops={"region_path": "text_pattern_ops"},
        )
    op.create_table(
        ATTEMPT,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("elder_id", sa.Integer(), nullable=False),
        sa.Column("region_path", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("by_name", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], [f"{TASK}.id"], name=op.f("fk_check_in_attempt_task_id_check_in_task")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_in_attempt")),
    )
    with op.batch_alter_table(ATTEMPT) as batch_op:
        batch_op.create_index("ix_check_in_attempt_task", ["task_id", "id"])
    _append_only_up()


def _append_only_up() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"""
            CREATE OR REPLACE FUNCTION {ATTEMPT}_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{ATTEMPT} is append-only'; END; $$ LANGUAGE plpgsql""")
        op.execute(f"""
            CREATE TRIGGER {ATTEMPT}_no_change BEFORE UPDATE OR DELETE ON {ATTEMPT}
            FOR EACH ROW EXECUTE FUNCTION {ATTEMPT}_append_only()""")
    elif dialect == "sqlite":
        for what in ("update", "delete"):
            op.execute(f"""
                CREATE TRIGGER {ATTEMPT}_no_{what} BEFORE {what.upper()} ON {ATTEMPT}
                BEGIN SELECT RAISE(ABORT, '{ATTEMPT} is append-only'); END""")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {ATTEMPT}_no_change ON {ATTEMPT}")
        op.execute(f"DROP FUNCTION IF EXISTS {ATTEMPT}_append_only()")
    elif dialect == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {ATTEMPT}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {ATTEMPT}_no_delete")
    with op.batch_alter_table(ATTEMPT) as batch_op:
        batch_op.drop_index("ix_check_in_attempt_task")
    op.drop_table(ATTEMPT)
    with op.batch_alter_table(TASK) as batch_op:
        batch_op.drop_index(
            "ix_check_in_task_region_state", postgresql_ops={"region_path": "text_pattern_ops"}
        )
        batch_op.drop_index("ix_check_in_task_due", postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.drop_index("ix_check_in_task_elder_key")
        batch_op.drop_index("uq_check_in_task_open", postgresql_where=OPEN, sqlite_where=OPEN)
    op.drop_table(TASK)
