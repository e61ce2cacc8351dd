"""Input types shared by every domain's schemas and routes: what the database can hold is
checked where a request is validated (and published in the OpenAPI schema), so an id or a
string the database cannot take is a 422, never a 500 from the driver.

- ``Id``: a row id (path parameters, filters, references in bodies). Our ids are PostgreSQL
  ``integer`` (serial) columns: 1 … 2³¹−1.
- ``Offset``: paging offsets (PostgreSQL takes up to 2⁶³−1; nobody pages past 10⁷ rows here).
- ``Text``: a string without NUL characters, which no PostgreSQL text (or JSON) column can
  hold; use ``Annotated[Text, Field(max_length=N)]`` with N equal to the column's length.
- ``Input``: base for request bodies: no NUL anywhere in the body, nested lists and dicts
  included (e.g. free-form ``params``).
"""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import BaseModel, StringConstraints, field_validator

INT32_MAX = 2**31 - 1
MAX_OFFSET = 10_000_000

Id = Annotated[int, Ge(1), Le(INT32_MAX)]
Offset = Annotated[int, Ge(0), Le(MAX_OFFSET)]
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, StringConstraints(pattern=NO_NUL)]


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


class Input(BaseModel):
    """A request body: NUL characters refused in every field."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value
