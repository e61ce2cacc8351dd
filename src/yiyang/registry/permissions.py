"""Who may do what with an elder record, and how the record is masked for the reader.

``register()`` installs the elder rules into ``core.scoping`` at start-up (via
``yiyang.domains.install()``): ``ELDERS`` (which elders an actor may read) and ``ELDER_IDS``
(rows that hang off an elder), and the masks of an elder's identity and phone numbers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Select, false, select, true

from yiyang.accounts.models import User, UserElderLink
from yiyang.core import scoping
from yiyang.core.masking import mask_id_number, mask_phone
from yiyang.core.roles import REGION_SCOPED, Perm, Role
from yiyang.core.scoping import Actor, region_scope_path, within_path
from yiyang.registry.models import Elder

# Masking rules this domain registers (``core.scoping.mask_rule(name)(actor, value)``).
MASK_ID_NUMBER = "elder.id_number"
MASK_BIRTH_DATE = "elder.birth_date"
MASK_PHONE = "phone"


def readable_elders(actor: Actor) -> ColumnElement[bool]:
    """The ``ELDERS`` rule: region roles by the elder's region path, a provider admin through
    the users of its provider linked to elders, everyone else through their own links
    (family, the elder themself)."""
    if not actor.can(Perm.VIEW_ELDERS):
        return false()
    if actor.role is Role.PLATFORM_ADMIN:
        return true()
    if actor.role in REGION_SCOPED:
        return within_path(Elder.region_path, actor.region_path)
    if actor.role is Role.PROVIDER_ADMIN:
        if actor.provider_id is None:
            return false()
        linked_by_provider = (
            select(UserElderLink.elder_id)
            .join(User, User.id == UserElderLink.user_id)
            .where(User.provider_id == actor.provider_id)
        )
        return Elder.id.in_(linked_by_provider)
    return Elder.id.in_(
        select(UserElderLink.elder_id).where(UserElderLink.user_id == actor.user_id)
    )


def readable_ids(actor: Actor) -> Select[int]:
    """The ids of the elders ``actor`` may read, as a subquery for rows that hang off an elder."""
    return select(Elder.id).where(scoping.elder_scope(actor))


def readable_elder_id(actor: Actor, elder_id: Any) -> ColumnElement[bool]:
    """The ``ELDER_IDS`` rule: ``elder_id`` is among the elders ``actor`` may read."""
    return elder_id.in_(readable_ids(actor))


def register() -> None:
    scoping.register_row_rule(scoping.ELDERS, readable_elders)
    scoping.register_row_rule(scoping.ELDER_IDS, readable_elder_id)
    scoping.register_mask_rule(MASK_ID_NUMBER, shown_id_number)
    scoping.register_mask_rule(MASK_BIRTH_DATE, shown_birth_date)
    scoping.register_mask_rule(MASK_PHONE, shown_phone)


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
