from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from yiyang.alarms.enums import AlertState, Outcome
from yiyang.core.types import Input


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


class AlertTransition(Input):
    model_config = ConfigDict(extra="forbid")
    state: AlertState
    outcome: Outcome | None = None
    note: str | None = Field(None, max_length=2000)
    version: int | None = None


class RuleSettingsUpdate(Input):
    """Overrides of rule parameters: only the keys given (``sustain`` and ``escalation`` name
    only the metrics and severities they change). Checked against the safe ranges on top of the
    layers below (``rules.Params``)."""

    model_config = ConfigDict(extra="forbid")
    params: dict[str, Any]
    note: str | None = None


class RuleSettingsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    elder_id: int | None = None
    region_path: str | None = None
    params: dict[str, Any]
    note: str | None = None


class EffectiveSettingsRead(RuleSettingsRead):
    effective: dict[str, Any]  # what the engine runs for this elder
    rejected: list[str]  # stored keys left out as unsafe where they apply ("row: key")


class SafeRangeRead(BaseModel):
    parameter: str
    default: str
    safe: str
    unit: str
    source: str
    note: str
