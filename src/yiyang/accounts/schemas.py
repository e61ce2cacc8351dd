from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

from yiyang.core.roles import Role


class TokenRequest(BaseModel):
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
