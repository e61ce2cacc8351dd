"""Request and response bodies of the presence API."""

from __future__ import annotations

import datetime as dt

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class AwayCreate(BaseModel):
    """Away now, optionally until a time ("at my daughter's until Sunday")."""

    model_config = ConfigDict(extra="forbid")

    until: AwareDatetime | None = None
    note: str = Field("", max_length=200)


class AbsenceCreate(BaseModel):
    """A planned absence: from a future time, optionally until a time."""

    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime
    until: AwareDatetime | None = None
    note: str = Field("", max_length=200)


class AbsenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    elder_id: int
    starts_at: dt.datetime
    until: dt.datetime | None
    ended_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    note: str
    recorded_as: str
    ended_as: str | None


class PresenceRead(BaseModel):
    """Where the elder is by what was said: away (and on which absence) or at home, the
    absences planned, and the state in one sentence."""

    elder_id: int
    away: bool
    absence: AbsenceRead | None
    planned: list[AbsenceRead]
    text: str
