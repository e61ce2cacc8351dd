"""Request and response bodies of the check-in API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from yiyang.checkins.enums import CallOutcome, TaskState
from yiyang.core.types import Input, Text
from yiyang.registry.schemas import ContactRead


class CheckInAttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    outcome: CallOutcome
    note: str | None
    by_name: str


class CheckInTaskListItem(BaseModel):
    """A task as a reader may see it: the elder's phones as the ``elder.details`` mask shows
    them (role and consent), the emergency contacts as ``registry.service.shown_contacts``."""

    id: int
    elder_id: int
    elder_name: str
    alert_type: str
    reason: str
    created_at: dt.datetime
    due_at: dt.datetime
    overdue: bool
    state: TaskState
    outcome: CallOutcome | None
    outcome_note: str | None
    outcome_by_name: str | None
    outcome_at: dt.datetime | None
    closed_at: dt.datetime | None
    alert_id: int | None
    mobile_phone: str | None
    home_phone: str | None
    contacts: list[ContactRead]
    can_record: bool  # the reader may record a call (and the task is open)
    version: int


class CheckInTaskRead(CheckInTaskListItem):
    detail: dict[str, Any]
    attempts: list[CheckInAttemptRead]


class CheckInCall(Input):
    """A call made for a task and its outcome."""

    model_config = ConfigDict(extra="forbid")

    outcome: CallOutcome
    note: Annotated[Text, Field(max_length=1000)] | None = None


class CheckInCounts(BaseModel):
    open: int
    overdue: int
