"""Request and response shapes for the console API."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from yiyang.alarms.enums import Outcome
from yiyang.core.types import Id, Input


class Callee(enum.StrEnum):
    ELDER = "elder"
    CONTACT = "contact"
    DOCTOR = "doctor"
    RESPONDER = "responder"
    OTHER = "other"


class ClaimIn(Input):
    note: str | None = Field(default=None, max_length=500)


class HandOverIn(Input):
    to_user_id: Id
    note: str = Field(min_length=1, max_length=500)


class CallIn(Input):
    callee: Callee
    callee_name: str = Field(min_length=1, max_length=64)
    phone: str | None = Field(default=None, max_length=20)
    answered: bool
    outcome: str | None = Field(default=None, max_length=2000)


class DispatchIn(Input):
    responder_id: Id | None = None
    contact_id: Id | None = None
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def one_target(self) -> DispatchIn:
        if (self.responder_id is None) == (self.contact_id is None):
            raise ValueError("give exactly one of responder_id or contact_id")
        return self


class ArrivalIn(Input):
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    note: str | None = Field(default=None, max_length=500)


class Request120In(Input):
    note: str | None = Field(default=None, max_length=500)


class ResolveIn(Input):
    outcome: Outcome
    note: str | None = Field(default=None, max_length=2000)
    version: int | None = None


class CallRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    callee: str
    callee_name: str
    phone: str | None
    answered: bool
    outcome: str | None
    at: dt.datetime
    by_name: str


class DispatchRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    name: str
    channel: str
    note: str | None
    status: str
    sent_at: dt.datetime
    arrived_at: dt.datetime | None


class EmergencyRequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    alert_id: int
    requested_at: dt.datetime
    requested_by_name: str
    note: str | None
    brief: dict[str, Any]


class ClaimRead(BaseModel):
    alert_id: int
    state: str
    claimed_by: int | None
    claimed_by_name: str | None
    claimed_at: dt.datetime | None
    version: int
