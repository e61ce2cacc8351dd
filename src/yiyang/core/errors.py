"""Domain errors carry their HTTP status and a user-facing message; rendered once, centrally."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from yiyang.core.i18n import N_, gettext


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


# Pydantic's error types → our messages (English msgids, translated when shown). Placeholders
# name the error's ``ctx`` keys; a type not listed keeps a generic message, never pydantic's
# English. A check of our own (``value_error``, ``assertion_error``) keeps its own message.
PYDANTIC_MESSAGES: dict[str, str] = {
    "missing": N_("This field is required."),
    "string_too_short": N_("Enter at least %(min_length)s characters."),
    "string_too_long": N_("Enter at most %(max_length)s characters."),
    "string_pattern_mismatch": N_("This is not in the expected format."),
    "string_type": N_("Enter text."),
    "too_short": N_("Give at least %(min_length)s entries."),
    "too_long": N_("Give at most %(max_length)s entries."),
    "int_parsing": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "int_from_float": N_("Enter a whole number."),
    "float_parsing": N_("Enter a number."),
    "float_type": N_("Enter a number."),
    "decimal_parsing": N_("Enter a number."),
    "decimal_type": N_("Enter a number."),
    "decimal_max_places": N_("Enter at most %(decimal_places)s decimal places."),
    "greater_than": N_("Enter a number greater than %(gt)s."),
    "greater_than_equal": N_("Enter a number of at least %(ge)s."),
    "less_than": N_("Enter a number less than %(lt)s."),
    "less_than_equal": N_("Enter a number of at most %(le)s."),
    "bool_parsing": N_("Choose yes or no."),
    "bool_type": N_("Choose yes or no."),
    "enum": N_("Choose one of the offered values."),
    "literal_error": N_("Choose one of the offered values."),
    "date_parsing": N_("Enter a date as YYYY-MM-DD."),
    "date_from_datetime_parsing": N_("Enter a date as YYYY-MM-DD."),
    "date_type": N_("Enter a date as YYYY-MM-DD."),
    "datetime_parsing": N_("Enter a date and time."),
    "datetime_from_date_parsing": N_("Enter a date and time."),
    "datetime_type": N_("Enter a date and time."),
    "time_parsing": N_("Enter a time as HH:MM."),
    "time_type": N_("Enter a time as HH:MM."),
    "url_parsing": N_("Enter a web address."),
    "url_scheme": N_("Enter a web address."),
    "uuid_parsing": N_("This is not in the expected format."),
    "extra_forbidden": N_("This field is not expected here."),
    "list_type": N_("Give a list of values."),
    "json_invalid": N_("The request is not valid JSON."),
}
OWN_MESSAGE_TYPES = frozenset({"value_error", "assertion_error"})
UNKNOWN_MESSAGE = N_("This value is not valid.")


def error_message(error_type: str, ctx: Mapping[str, Any] | None, own: str | None = None) -> str:
    """The user-facing message for one pydantic error, in the current language: our own check's
    message as raised (``own``, already translated where it was raised), else the mapped one
    with the error's context filled in."""
    if error_type in OWN_MESSAGE_TYPES and own:
        return gettext(own.removeprefix("Value error, ").removeprefix("Assertion failed, "))
    if error_type in ("too_short", "too_long") and (ctx or {}).get("field_type") == "Value":
        error_type = "string_" + error_type  # a text checked after a validator of ours ran
    template = PYDANTIC_MESSAGES.get(error_type, UNKNOWN_MESSAGE)
    params = {k: v for k, v in (ctx or {}).items() if isinstance(v, str | int | float)}
    try:
        return gettext(template) % params
    except (KeyError, ValueError, TypeError):  # a context without the placeholder's key
        return gettext(UNKNOWN_MESSAGE)


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic errors → [{field, message, type}], the message in the current language
    (:func:`error_message`). A check that knows its field (a ``FieldError`` raised from a model
    validator, e.g. "birth date contradicts the ID") keeps that field."""
    out: list[dict[str, str]] = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query")]
        cause = (e.get("ctx") or {}).get("error")
        field = ".".join(loc) or getattr(cause, "field", None) or ""
        error_type = str(e.get("type", ""))
        own = getattr(cause, "message", None) or str(e.get("msg", ""))
        out.append(
            {
                "field": field,
                "message": error_message(error_type, e.get("ctx"), own),
                "type": error_type,
            }
        )
    return out
