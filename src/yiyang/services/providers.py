"""Providers, their caregivers and certificates, and the catalog: registering them, within the
registering officer's jurisdiction and the provider's service areas.

Services flush, never commit; the request (or job) commits once at the edge."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import false, or_, select, true
from sqlalchemy.orm import Session

from yiyang.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor, region_scope_path
from yiyang.regions.models import Region
from yiyang.regions.repository import by_code, within
from yiyang.services.models import Caregiver, Certificate, Provider, ServiceItem
from yiyang.services.permissions import (
    caregiver_scope,
    managed_provider_scope,
    manages_provider,
    provider_scope,
)
from yiyang.services.schemas import CaregiverCreate, CertificateCreate, ItemCreate, ProviderCreate
from yiyang.subsidies import service as subsidies
from yiyang.subsidies.enums import PolicyKind
from yiyang.subsidies.models import SubsidyPolicy


def _area_paths(session: Session, codes: Sequence[str], field: str) -> list[str]:
    paths = []
    for code in codes:
        region = by_code(session, code)
        if region is None:
            raise ValidationFailed(_("Unknown region code %(code)s.", code=code), field=field)
        paths.append(region.path)
    return paths


def _check_provider(
    session: Session, actor: Actor, data: ProviderCreate, provider_id: int | None = None
) -> list[str]:
    """The licence number is free (but for the provider itself) and the areas are regions of the
    actor's jurisdiction: their paths."""
    taken = select(Provider.id).where(Provider.licence_no == data.licence_no)
    if provider_id is not None:
        taken = taken.where(Provider.id != provider_id)
    if session.scalar(taken):
        raise Conflict(
            _("A provider with this licence number is already registered."), field="licence_no"
        )
    areas = _area_paths(session, data.areas, "areas")
    for path in areas:
        if not within(path, actor):
            raise ValidationFailed(_("A service area is outside your jurisdiction."), field="areas")
    return areas


def create_provider(session: Session, actor: Actor, data: ProviderCreate) -> Provider:
    areas = _check_provider(session, actor, data)
    provider = Provider(
        **data.model_dump(exclude={"areas"}),
        areas=areas,
        region_path=actor.region_path,
    )
    session.add(provider)
    session.flush()
    return provider


def access_provider(session: Session, actor: Actor, provider_id: int | None) -> Provider:
    """The provider ``actor`` manages (a provider admin's own when ``provider_id`` is None)."""
    pid = provider_id if provider_id is not None else actor.provider_id
    provider = session.get(Provider, pid) if pid is not None else None
    if provider is None or not manages_provider(actor, provider):
        raise NotFound(_("No such provider."))
    return provider


def managed_providers(session: Session, actor: Actor) -> Sequence[Provider]:
    """The providers registered in the actor's jurisdiction (a provider admin: its own)."""
    stmt = select(Provider).where(managed_provider_scope(actor))
    return session.scalars(stmt.order_by(Provider.name, Provider.id)).all()


def licence_expired(provider: Provider, today: dt.date) -> bool:
    return provider.licence_expires_on is not None and provider.licence_expires_on < today


def _officer(actor: Actor) -> None:
    if actor.role is Role.PROVIDER_ADMIN or not actor.can(Perm.MANAGE_PROVIDERS):
        raise Forbidden(_("Your role may not do this."))


def update_provider(
    session: Session, actor: Actor, provider_id: int, data: ProviderCreate
) -> Provider:
    """The district that registered a provider corrects its licence, contact and areas."""
    provider = access_provider(session, actor, provider_id)
    _officer(actor)
    areas = _check_provider(session, actor, data, provider.id)
    for key, value in data.model_dump(exclude={"areas"}).items():
        setattr(provider, key, value)
    provider.areas = areas
    session.flush()
    return provider


def set_provider_status(
    session: Session, actor: Actor, provider_id: int, status: str, reason: str | None = None
) -> Provider:
    """Suspend a provider (with the reason, 2–500 characters) or reinstate it (the reason
    cleared)."""
    provider = access_provider(session, actor, provider_id)
    _officer(actor)
    if status not in ("active", "suspended"):
        raise ValidationFailed(_("Unknown status."), field="status")
    reason = (reason or "").strip() or None
    if status == "suspended" and (reason is None or not 2 <= len(reason) <= 500):
        raise ValidationFailed(
            _("Say why the provider is suspended (2 to 500 characters)."), field="reason"
        )
    provider.status = status
    provider.status_reason = reason if status == "suspended" else None
    session.flush()
    return provider


def area_choices(session: Session, actor: Actor, provider: Provider | None) -> Sequence[Region]:
    """The regions a form may offer as areas: within the provider's service areas, or (for a
    new provider) the actor's jurisdiction."""
    stmt = select(Region).order_by(Region.path)
    if provider is not None:
        stmt = stmt.where(
            or_(*(Region.path.startswith(a, autoescape=True) for a in provider.areas))
            if provider.areas
            else false()
        )
    else:
        scope = region_scope_path(actor)
        stmt = stmt.where(
            true()
            if scope == "/"
            else Region.path.startswith(scope, autoescape=True)
            if scope
            else false()
        )
    return session.scalars(stmt.limit(500)).all()


def _check_caregiver(session: Session, provider: Provider, data: CaregiverCreate) -> list[str]:
    areas = _area_paths(session, data.areas, "areas")
    for path in areas:
        if not any(path.startswith(a) for a in provider.areas):
            raise ValidationFailed(
                _("A caregiver's area must lie within the provider's service areas."),
                field="areas",
            )
    if data.work_end <= data.work_start:
        raise ValidationFailed(_("Working hours end before they start."), field="work_end")
    return areas


def create_caregiver(session: Session, actor: Actor, data: CaregiverCreate) -> Caregiver:
    provider = access_provider(session, actor, data.provider_id)
    areas = _check_caregiver(session, provider, data)
    caregiver = Caregiver(
        **data.model_dump(exclude={"provider_id", "areas"}), provider_id=provider.id, areas=areas
    )
    session.add(caregiver)
    session.flush()
    return caregiver


def access_caregiver(session: Session, actor: Actor, caregiver_id: int) -> Caregiver:
    caregiver = session.get(Caregiver, caregiver_id)
    if caregiver is None:
        raise NotFound(_("No such caregiver."))
    access_provider(session, actor, caregiver.provider_id)
    return caregiver


def read_caregiver(session: Session, actor: Actor, caregiver_id: int) -> Caregiver:
    """A caregiver the actor may read (``caregiver_scope``), else 404."""
    caregiver = session.scalar(
        select(Caregiver).where(Caregiver.id == caregiver_id, caregiver_scope(actor))
    )
    if caregiver is None:
        raise NotFound(_("No such caregiver."))
    return caregiver


def list_caregivers(
    session: Session, actor: Actor, provider_id: int | None = None
) -> Sequence[Caregiver]:
    stmt = select(Caregiver).where(caregiver_scope(actor))
    if provider_id is not None:
        stmt = stmt.where(Caregiver.provider_id == provider_id)
    return session.scalars(
        stmt.order_by(Caregiver.active.desc(), Caregiver.name, Caregiver.id).limit(1000)
    ).all()


def certificates_of(session: Session, caregiver_ids: Sequence[int]) -> dict[int, list[Certificate]]:
    out: dict[int, list[Certificate]] = {cid: [] for cid in caregiver_ids}
    if caregiver_ids:
        for cert in session.scalars(
            select(Certificate)
            .where(Certificate.caregiver_id.in_(list(caregiver_ids)))
            .order_by(Certificate.caregiver_id, Certificate.skill, Certificate.id)
        ):
            out[cert.caregiver_id].append(cert)
    return out


def update_caregiver(
    session: Session, actor: Actor, caregiver_id: int, data: CaregiverCreate
) -> Caregiver:
    """The provider corrects a caregiver's details (the provider itself is not changed)."""
    caregiver = access_caregiver(session, actor, caregiver_id)
    provider = access_provider(session, actor, caregiver.provider_id)
    areas = _check_caregiver(session, provider, data)
    for key, value in data.model_dump(exclude={"provider_id", "areas", "user_id"}).items():
        setattr(caregiver, key, value)
    caregiver.areas = areas
    session.flush()
    return caregiver


def set_caregiver_active(
    session: Session, actor: Actor, caregiver_id: int, active: bool
) -> Caregiver:
    """Deactivate (no new jobs are suggested; their record and history stay) or reactivate."""
    caregiver = access_caregiver(session, actor, caregiver_id)
    caregiver.active = active
    session.flush()
    return caregiver


def remove_certificate(
    session: Session, actor: Actor, caregiver_id: int, certificate_id: int
) -> None:
    caregiver = access_caregiver(session, actor, caregiver_id)
    cert = session.get(Certificate, certificate_id)
    if cert is None or cert.caregiver_id != caregiver.id:
        raise NotFound(_("No such certificate."))
    session.delete(cert)
    session.flush()


def add_certificate(
    session: Session, actor: Actor, caregiver_id: int, data: CertificateCreate
) -> Certificate:
    caregiver = access_caregiver(session, actor, caregiver_id)
    cert = Certificate(caregiver_id=caregiver.id, **data.model_dump())
    session.add(cert)
    session.flush()
    return cert


def _check_item(
    session: Session, provider: Provider, data: ItemCreate, item_id: int | None = None
) -> None:
    taken = select(ServiceItem.id).where(
        ServiceItem.provider_id == provider.id, ServiceItem.code == data.code
    )
    if item_id is not None:
        taken = taken.where(ServiceItem.id != item_id)
    if session.scalar(taken):
        raise Conflict(
            _("This provider already has an item with code %(code)s.", code=data.code),
            field="code",
        )
    known = subsidies.policies_by_id(session, data.policy_ids)
    unknown = sorted(set(data.policy_ids) - set(known))
    if unknown:
        raise ValidationFailed(
            _("Unknown subsidy policy %(id)s.", id=unknown[0]), field="policy_ids"
        )


def create_item(session: Session, actor: Actor, data: ItemCreate) -> ServiceItem:
    provider = access_provider(session, actor, data.provider_id)
    _check_item(session, provider, data)
    item = ServiceItem(**data.model_dump(exclude={"provider_id"}), provider_id=provider.id)
    session.add(item)
    session.flush()
    return item


def list_items(
    session: Session, actor: Actor, provider_id: int | None = None
) -> Sequence[ServiceItem]:
    """Catalogue lines the actor may read, withdrawn ones too (a provider admin: its own)."""
    stmt = (
        select(ServiceItem)
        .join(Provider, Provider.id == ServiceItem.provider_id)
        .where(provider_scope(actor))
    )
    if provider_id is not None:
        stmt = stmt.where(ServiceItem.provider_id == provider_id)
    return session.scalars(
        stmt.order_by(ServiceItem.active.desc(), ServiceItem.code, ServiceItem.id).limit(1000)
    ).all()


def access_item(session: Session, actor: Actor, item_id: int) -> ServiceItem:
    """An item of a provider the actor manages, else 404."""
    item = session.get(ServiceItem, item_id)
    if item is None:
        raise NotFound(_("No such service."))
    access_provider(session, actor, item.provider_id)
    return item


def update_item(session: Session, actor: Actor, item_id: int, data: ItemCreate) -> ServiceItem:
    """Change a catalogue line; orders already placed keep the price they were placed at."""
    item = access_item(session, actor, item_id)
    provider = access_provider(session, actor, item.provider_id)
    _check_item(session, provider, data, item.id)
    for key, value in data.model_dump(exclude={"provider_id"}).items():
        setattr(item, key, value)
    session.flush()
    return item


def set_item_active(session: Session, actor: Actor, item_id: int, active: bool) -> ServiceItem:
    """Withdraw a line from the catalogue (no new orders; placed ones go on) or offer it again."""
    item = access_item(session, actor, item_id)
    item.active = active
    session.flush()
    return item


def policy_choices(session: Session) -> Sequence[SubsidyPolicy]:
    """The subsidy policies a catalogue line may name as paying for it (not the per-meal ones,
    which pay canteen meals)."""
    return session.scalars(
        select(SubsidyPolicy)
        .where(SubsidyPolicy.active, SubsidyPolicy.kind != PolicyKind.PER_MEAL.value)
        .order_by(SubsidyPolicy.priority, SubsidyPolicy.id)
    ).all()
