"""Check-in tasks and the calls made for them (append-only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from yiyang.checkins.enums import TaskState
from yiyang.core.audit import Audited
from yiyang.core.clock import now
from yiyang.core.db import Base

_OPEN = text("state = 'open'")


class CheckInTask(Audited, Base):
    """A call to make to a quiet home: made from a rule's ``check_in`` finding by the pipeline,
    closed by a call's outcome, by escalation to an operator alarm at ``due_at``, or by an
    operator alarm about the same quiet (superseded)."""

    __tablename__ = "check_in_task"
    __table_args__ = (
        # At most one open task per elder and finding key: a re-evaluated tick cannot make two.
        Index(
            "uq_check_in_task_open",
            "elder_id",
            "dedupe_key",
            unique=True,
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        ),
        Index("ix_check_in_task_elder_key", "elder_id", "dedupe_key"),
        # The sweeper's look for overdue tasks
        Index("ix_check_in_task_due", "due_at", postgresql_where=_OPEN, sqlite_where=_OPEN),
        # A region's open tasks, oldest due first
        Index(
            "ix_check_in_task_region_state",
            "region_path",
            "state",
            "due_at",
            postgresql_ops={"region_path": "text_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elder.id"))
    region_path: Mapped[str] = mapped_column(String(255))  # the elder's, for scoping
    alert_type: Mapped[str] = mapped_column(String(32))  # the rule's (alarms.enums.AlertType)
    reason: Mapped[str] = mapped_column(Text)  # the finding's sentence
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the finding's figures
    dedupe_key: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    due_at: Mapped[dt.datetime]  # unanswered by then: an operator alarm
    state: Mapped[TaskState] = mapped_column(String(16), default=TaskState.OPEN)
    # The latest call's outcome (every call is a ``CheckInAttempt``)
    outcome: Mapped[str | None] = mapped_column(String(24))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    outcome_by: Mapped[int | None] = mapped_column(Integer)
    outcome_by_name: Mapped[str | None] = mapped_column(String(64))
    outcome_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    # The operator alarm it escalated to, or that superseded it
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CheckInAttempt(Audited, Base):
    """One call for a task and its outcome: append-only (a trigger refuses UPDATE and DELETE,
    migration 0018); the task keeps the latest."""

    __tablename__ = "check_in_attempt"
    __table_args__ = (Index("ix_check_in_attempt_task", "task_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("check_in_task.id"))
    elder_id: Mapped[int] = mapped_column(Integer)  # the task's, for the audit trail's scope
    region_path: Mapped[str] = mapped_column(String(255))
    at: Mapped[dt.datetime] = mapped_column(default=now)
    outcome: Mapped[str] = mapped_column(String(24))  # enums.CallOutcome
    note: Mapped[str | None] = mapped_column(Text)
    by_id: Mapped[int | None] = mapped_column(Integer)
    by_name: Mapped[str] = mapped_column(String(64))
