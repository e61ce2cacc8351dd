from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Role
from yiyang.core.types import Id, Input


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


USERNAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{2,63}$"
PHONE = r"^\+?[0-9][0-9\- ]{4,19}$"


class UserCreate(Input):
    """A new account; it gets a temporary password, shown once, changed at the first sign-in."""

    # Lengths and patterns are checked by the validators below, with messages of our own.
    username: str
    display_name: str
    role: Role
    region_code: Annotated[str, Field(min_length=1, max_length=12)]
    phone: str | None = None
    provider_id: Id | None = None
    elder_ids: Annotated[list[Id], Field(max_length=20, default_factory=list)]

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if len(value) > 64 or not re.fullmatch(USERNAME, value.strip()):
            raise ValueError(
                _("Use 3 to 64 letters, digits, dots, dashes or underscores, starting with one.")
            )
        return value.strip()

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str) -> str:
        return _checked_name(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return _checked_phone(value)


def _checked_name(value: str) -> str:
    if not value.strip():
        raise ValueError(_("Enter a name."))
    if len(value.strip()) > 64:
        raise ValueError(_("At most 64 characters."))
    return value.strip()


def _checked_phone(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if not re.fullmatch(PHONE, value):
        raise ValueError(_("Enter a phone number: digits, dashes and spaces only."))
    return value


class UserUpdate(Input):
    """Changes to an account; a field left out stays as it is."""

    display_name: str | None = None
    role: Role | None = None
    region_code: Annotated[str | None, Field(min_length=1, max_length=12)] = None
    phone: str | None = None
    provider_id: Id | None = None
    elder_ids: Annotated[list[Id] | None, Field(max_length=20)] = None

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str | None) -> str | None:
        return None if value is None else _checked_name(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return _checked_phone(value) or ""  # "" clears the phone


class UserListItem(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    region_path: str
    phone: str | None
    active: bool
    must_change_password: bool
    locked: bool  # locked out after failed sign-ins from some address
    last_login_at: dt.datetime | None


class UserRead(UserListItem):
    provider_id: int | None
    elder_ids: list[int]
    created_at: dt.datetime


class TemporaryPasswordRead(BaseModel):
    """A temporary password, shown this once; the user must change it at the next sign-in."""

    user: UserRead
    temporary_password: str


class PasswordChange(Input):
    current_password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: Annotated[str, Field(min_length=1, max_length=256)]


class ResetRequestListItem(BaseModel):
    id: int
    user_id: int
    username: str
    display_name: str
    role: Role
    region_path: str
    state: str  # pending | reset | refused
    created_at: dt.datetime
    handled_at: dt.datetime | None
