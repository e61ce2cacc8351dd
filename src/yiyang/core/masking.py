"""Masking of sensitive personal information for roles that do not need it (PIPL)."""

from __future__ import annotations


def mask_id_number(value: str | None) -> str | None:
    """3****************7: the first and the last character only.

    A resident ID is region (6) + birth date (8) + sequence (3, odd for men) + check digit.
    Shown beside an age, a sex and an address, this leaves every region code of the
    registration place × ~366 birth dates × 500 sequences ÷ 11 (the check digit) ≈ 16,600
    candidates per region code; keeping the region's first four and the last four (the old
    mask) left the two region digits as the only unknown once the birth date was shown:
    ~9 candidates, often one (docs/registry.md, "Masked ID numbers")."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 2) + value[-1]


def mask_phone(value: str | None) -> str | None:
    """138****1234 for mobiles; landlines keep their last four digits."""
    if not value:
        return value
    if len(value) == 11 and value.startswith("1"):
        return value[:3] + "****" + value[-4:]
    if len(value) <= 4:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]
