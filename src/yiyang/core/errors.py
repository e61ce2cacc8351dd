"""Domain errors carry their HTTP status and a user-facing message; rendered once, centrally."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "bad_request"
    keeps_writes = False
    """True for a refusal whose writes must stand although the request fails (a refused attempt
    at a code records the attempt): the edge commits them instead of rolling back."""

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            detail["field"] = self.field
        detail.update(self.extra)
        return detail


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class ValidationFailed(DomainError):
    status_code = 422
    code = "validation_failed"


class TooManyAttempts(DomainError):
    status_code = 429
    code = "too_many_attempts"


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic errors → [{field, message, type}]. A check that knows its field (a ``FieldError``
    raised from a model validator, e.g. "birth date contradicts the ID") keeps that field."""
    out: list[dict[str, str]] = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query")]
        cause = (e.get("ctx") or {}).get("error")
        field = ".".join(loc) or getattr(cause, "field", None) or ""
        message = getattr(cause, "message", None) or str(e.get("msg", ""))
        out.append(
            {
                "field": field,
                "message": message.removeprefix("Value error, "),
                "type": str(e.get("type", "")),
            }
        )
    return out
