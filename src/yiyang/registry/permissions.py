"""Who may do what with an elder record, and how the record is masked for the reader."""

from __future__ import annotations

import datetime as dt

from yiyang.core.masking import mask_id_number, mask_phone
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor, region_scope_path


def can_edit_elder(actor: Actor, region_path: str) -> bool:
    prefix = region_scope_path(actor)
    return actor.can(Perm.EDIT_ELDERS) and prefix is not None and region_path.startswith(prefix)


def can_view_medical(actor: Actor) -> bool:
    return actor.can(Perm.VIEW_MEDICAL)


def sees_full_identity(actor: Actor) -> bool:
    """The full ID number and the birth date go together: a role that sees the ID masked sees
    the age, never the birth date, and searches ID numbers by their last four only (a masked
    ID plus the birth date, or an exact-number search, would give the hidden digits back)."""
    return actor.can(Perm.VIEW_ID_NUMBER)


def shown_id_number(actor: Actor, value: str) -> str:
    return value if sees_full_identity(actor) else mask_id_number(value) or ""


def shown_birth_date(actor: Actor, value: dt.date) -> dt.date | None:
    return value if sees_full_identity(actor) else None


def shown_phone(actor: Actor, value: str | None) -> str | None:
    return value if actor.can(Perm.VIEW_PHONE) else mask_phone(value)
