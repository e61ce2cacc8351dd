"""Masking of sensitive personal information for roles that do not need it (PIPL)."""

from __future__ import annotations


def mask_id_number(value: str | None) -> str | None:
    """3101**********1234: keep the first four and the last four characters."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """138****1234 for mobiles; landlines keep their last four digits."""
    if not value:
        return value
    if len(value) == 11 and value.startswith("1"):
        return value[:3] + "****" + value[-4:]
    if len(value) <= 4:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]
