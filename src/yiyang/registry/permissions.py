"""Who may do what with an elder record, and how the record is masked for the reader."""

from __future__ import annotations

from yiyang.core.masking import mask_id_number, mask_phone
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor, region_scope_path


def can_edit_elder(actor: Actor, region_path: str) -> bool:
    prefix = region_scope_path(actor)
    return actor.can(Perm.EDIT_ELDERS) and prefix is not None and region_path.startswith(prefix)


def can_view_medical(actor: Actor) -> bool:
    return actor.can(Perm.VIEW_MEDICAL)


def shown_id_number(actor: Actor, value: str) -> str:
    return value if actor.can(Perm.VIEW_ID_NUMBER) else mask_id_number(value) or ""


def shown_phone(actor: Actor, value: str | None) -> str | None:
    return value if actor.can(Perm.VIEW_PHONE) else mask_phone(value)
