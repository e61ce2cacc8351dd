from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from yiyang.core.types import Id, Input


class AuditFilters(Input):
    model_config = ConfigDict(extra="forbid")

    elder_id: Id | None = None
    actor: Annotated[str, Field(max_length=64)] | None = None  # username
    action: Annotated[str, Field(max_length=32)] | None = None
    entity_type: Annotated[str, Field(max_length=48)] | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    page_size: Annotated[int, Field(ge=1, le=200)] = 50


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    actor_id: int | None
    actor_username: str
    actor_role: str | None
    ip: str | None
    action: str
    entity_type: str
    entity_id: str | None
    elder_id: int | None
    summary: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
