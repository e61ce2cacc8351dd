"""Who may see and touch which service rows: one scope per table, all built on
``core.scoping.service_row_scope`` (分权分域 in one place). ``register()`` installs the
``CAREGIVER_JOBS`` rule that scope asks for (via ``yiyang.domains.install()``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, select, true

from yiyang.core import scoping
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor, region_scope_path, service_row_scope
from yiyang.services.models import Caregiver, Complaint, MealOrder, Provider, ServiceOrder


def own_caregiver_jobs(actor: Actor, caregiver_id: Any) -> ColumnElement[bool]:
    """The ``CAREGIVER_JOBS`` rule: ``caregiver_id`` is one of the actor's caregiver records."""
    return caregiver_id.in_(select(Caregiver.id).where(Caregiver.user_id == actor.user_id))


def register() -> None:
    scoping.register_row_rule(scoping.CAREGIVER_JOBS, own_caregiver_jobs)


def order_scope(actor: Actor) -> ColumnElement[bool]:
    return service_row_scope(
        actor,
        Perm.VIEW_ORDERS,
        ServiceOrder.region_path,
        ServiceOrder.elder_id,
        ServiceOrder.provider_id,
        ServiceOrder.caregiver_id,
    )


def complaint_scope(actor: Actor) -> ColumnElement[bool]:
    return service_row_scope(
        actor, Perm.VIEW_ORDERS, Complaint.region_path, Complaint.elder_id, Complaint.provider_id
    )


def meal_scope(actor: Actor) -> ColumnElement[bool]:
    return service_row_scope(
        actor, Perm.VIEW_ORDERS, MealOrder.region_path, MealOrder.elder_id, MealOrder.provider_id
    )


def provider_scope(actor: Actor) -> ColumnElement[bool]:
    """Providers are public to staff (an elder may pick any provider serving the area); a
    provider admin sees only its own."""
    if actor.role is Role.PROVIDER_ADMIN:
        return Provider.id == actor.provider_id if actor.provider_id else false()
    return true()


def caregiver_scope(actor: Actor) -> ColumnElement[bool]:
    """Caregivers: their provider's admin, district staff above the provider, themselves."""
    if actor.role is Role.PLATFORM_ADMIN:
        return true()
    if actor.role is Role.PROVIDER_ADMIN and actor.provider_id:
        return Caregiver.provider_id == actor.provider_id
    if actor.role is Role.CAREGIVER:
        return Caregiver.user_id == actor.user_id
    if actor.can(Perm.MANAGE_PROVIDERS) or actor.can(Perm.HANDLE_COMPLAINTS):
        return true()
    return false()


def managed_provider_scope(actor: Actor) -> ColumnElement[bool]:
    """The providers an actor manages, as SQL (``manages_provider`` row by row): a provider
    admin its own; an officer who registers providers those registered in their jurisdiction."""
    if actor.role is Role.PROVIDER_ADMIN:
        return Provider.id == actor.provider_id if actor.provider_id else false()
    scope = region_scope_path(actor)
    if scope is None or not actor.can(Perm.MANAGE_PROVIDERS):
        return false()
    return true() if scope == "/" else Provider.region_path.startswith(scope, autoescape=True)


def manages_provider(actor: Actor, provider: Provider) -> bool:
    """A provider's own admin, or the district that registered it."""
    if actor.role is Role.PROVIDER_ADMIN:
        return actor.provider_id == provider.id
    scope = region_scope_path(actor)
    return (
        actor.can(Perm.MANAGE_PROVIDERS)
        and scope is not None
        and (scope == "/" or provider.region_path.startswith(scope))
    )
