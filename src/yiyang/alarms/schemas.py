from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from yiyang.alarms.enums import AlertState, Outcome


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    elder_id: int
    device_id: int | None
    alert_type: str
    severity: str
    state: AlertState
    outcome: str | None
    detail: dict[str, Any]
    explanation: str = ""
    count: int
    first_at: dt.datetime
    last_at: dt.datetime
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    resolved_at: dt.datetime | None
    resolution_note: str | None
    escalation_step: int
    next_escalation_at: dt.datetime | None
    version: int


class AlertEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    at: dt.datetime
    action: str
    from_state: str | None
    to_state: str | None
    actor_name: str
    note: str | None
    data: dict[str, Any]


class AlertDetail(AlertRead):
    trail: list[AlertEventRead]


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: AlertState
    outcome: Outcome | None = None
    note: str | None = Field(None, max_length=2000)
    version: int | None = None


class RuleSettingsWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    params: dict[str, Any]
    note: str | None = None
