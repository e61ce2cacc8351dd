from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

from yiyang.core.roles import Role
from yiyang.core.types import Input


class TokenCreate(Input):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: dt.datetime


class Me(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    region_path: str
    permissions: list[str]


class SessionListItem(BaseModel):
    """A browser session or API token (never the token itself)."""

    id: int
    kind: str  # "cookie" (browser session) | "api" (bearer token)
    created_at: dt.datetime
    expires_at: dt.datetime
    ip: str | None
    current: bool  # the one this request was made with
