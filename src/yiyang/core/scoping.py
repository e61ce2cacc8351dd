"""分权分域 in one place: which elders an actor may read.

Every query that lists, shows or exports elders (or rows that hang off an elder) starts from
``elder_scope(actor)``; ``test_no_module_selects_elders_without_the_scope`` in
``tests/api/test_scoping.py`` fails when a module selects elders without going through the
registry repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, false, func, select, true

from yiyang.core.roles import REGION_SCOPED, Perm, Role, has_perm


@dataclass(frozen=True)
class Actor:
    """The authenticated user as the rest of the code sees it."""

    user_id: int
    username: str
    display_name: str
    role: Role
    region_id: int
    region_path: str
    provider_id: int | None = None
    csrf_token: str | None = None
    ip: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def can(self, perm: Perm) -> bool:
        return has_perm(self.role, perm)


CODE = 12  # administrative division codes are 12 digits
STREET_PATH_LEN = 2 * (CODE + 1) + 1  # "/district/street/" = 27 characters
COMMUNITY_PATH_LEN = 3 * (CODE + 1) + 1  # "/district/street/community/" = 40 characters


def within_path(column: Any, path: str) -> ColumnElement[bool]:
    """``column`` lies in the subtree at ``path``, written so that an index can serve it and
    keep the rows in name order: equality for a community (a leaf), the fixed-length street
    prefix for a street, a LIKE prefix above that (see the elder indexes)."""
    if len(path) == COMMUNITY_PATH_LEN:
        return column == path
    if len(path) == STREET_PATH_LEN:
        return func.substr(column, 1, STREET_PATH_LEN) == path
    return column.startswith(path, autoescape=True)


def elder_scope(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on ``Elder`` limiting rows to what ``actor`` may see."""
    from yiyang.accounts.models import User, UserElderLink
    from yiyang.registry.models import Elder

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


def region_scope_path(actor: Actor) -> str | None:
    """The region prefix an actor administers, or None for person-scoped roles."""
    if actor.role is Role.PLATFORM_ADMIN:
        return "/"
    if actor.role in REGION_SCOPED:
        return actor.region_path
    return None


def elder_row_scope(
    actor: Actor, perm: Perm, region_path: Any, elder_id: Any
) -> ColumnElement[bool]:
    """Scope for rows that hang off an elder and carry a copy of its region path (alerts,
    devices): region roles by the row's path (indexed, no join), person-scoped roles through
    the elders they may read, nobody without ``perm``."""
    if not actor.can(perm):
        return false()
    if actor.role is Role.PLATFORM_ADMIN:
        return true()
    if actor.role in REGION_SCOPED:
        return within_path(region_path, actor.region_path)
    from yiyang.registry.repository import readable_ids

    return elder_id.in_(readable_ids(actor))


def region_row_visible(actor: Actor, perm: Perm, region_path: str) -> bool:
    """``elder_row_scope`` for one row already in memory (the live console filters pushed
    alerts with it). Person-scoped roles never see pushed rows: their views query instead."""
    if not actor.can(perm):
        return False
    if actor.role is Role.PLATFORM_ADMIN:
        return True
    return actor.role in REGION_SCOPED and region_path.startswith(actor.region_path)


def service_row_scope(
    actor: Actor,
    perm: Perm,
    region_path: Any,
    elder_id: Any,
    provider_id: Any,
    caregiver_id: Any = None,
) -> ColumnElement[bool]:
    """Scope for service rows (orders, ratings, complaints, meals): region roles by the row's
    region, a provider admin by its own provider, a caregiver by the jobs assigned to them,
    families and elders through the elders they may read."""
    if not actor.can(perm):
        return false()
    if actor.role is Role.PROVIDER_ADMIN:
        return provider_id == actor.provider_id if actor.provider_id is not None else false()
    if actor.role is Role.CAREGIVER:
        if caregiver_id is None:
            return false()
        from yiyang.services.models import Caregiver

        return caregiver_id.in_(select(Caregiver.id).where(Caregiver.user_id == actor.user_id))
    return elder_row_scope(actor, perm, region_path, elder_id)
