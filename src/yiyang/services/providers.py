"""Providers, their caregivers and certificates, and the catalog: registering them, within the
registering officer's jurisdiction and the provider's service areas.

Services flush, never commit; the request (or job) commits once at the edge."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Role
from yiyang.core.scoping import Actor
from yiyang.regions.repository import by_code, within
from yiyang.services.models import Caregiver, Certificate, Provider, ServiceItem
from yiyang.services.permissions import manages_provider
from yiyang.services.schemas import CaregiverCreate, CertificateCreate, ItemCreate, ProviderCreate
from yiyang.subsidies import service as subsidies


def _area_paths(session: Session, codes: Sequence[str], field: str) -> list[str]:
    paths = []
    for code in codes:
        region = by_code(session, code)
        if region is None:
            raise ValidationFailed(_("Unknown region code %(code)s.", code=code), field=field)
        paths.append(region.path)
    return paths


def create_provider(session: Session, actor: Actor, data: ProviderCreate) -> Provider:
    if session.scalar(select(Provider.id).where(Provider.licence_no == data.licence_no)):
        raise Conflict(_("A provider with this licence number is already registered."))
    areas = _area_paths(session, data.areas, "areas")
    for path in areas:
        if not within(path, actor):
            raise ValidationFailed(_("A service area is outside your jurisdiction."), field="areas")
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


def set_provider_status(session: Session, actor: Actor, provider_id: int, status: str) -> Provider:
    provider = access_provider(session, actor, provider_id)
    if actor.role is Role.PROVIDER_ADMIN:
        raise Forbidden(_("Your role may not do this."))
    if status not in ("active", "suspended"):
        raise ValidationFailed(_("Unknown status."), field="status")
    provider.status = status
    session.flush()
    return provider


def create_caregiver(session: Session, actor: Actor, data: CaregiverCreate) -> Caregiver:
    provider = access_provider(session, actor, data.provider_id)
    areas = _area_paths(session, data.areas, "areas")
    for path in areas:
        if not any(path.startswith(a) for a in provider.areas):
            raise ValidationFailed(
                _("A caregiver's area must lie within the provider's service areas."),
                field="areas",
            )
    if data.work_end <= data.work_start:
        raise ValidationFailed(_("Working hours end before they start."), field="work_end")
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


def add_certificate(
    session: Session, actor: Actor, caregiver_id: int, data: CertificateCreate
) -> Certificate:
    caregiver = access_caregiver(session, actor, caregiver_id)
    cert = Certificate(caregiver_id=caregiver.id, **data.model_dump())
    session.add(cert)
    session.flush()
    return cert


def create_item(session: Session, actor: Actor, data: ItemCreate) -> ServiceItem:
    provider = access_provider(session, actor, data.provider_id)
    if session.scalar(
        select(ServiceItem.id).where(
            ServiceItem.provider_id == provider.id, ServiceItem.code == data.code
        )
    ):
        raise Conflict(_("This provider already has an item with code %(code)s.", code=data.code))
    known = subsidies.policies_by_id(session, data.policy_ids)
    unknown = sorted(set(data.policy_ids) - set(known))
    if unknown:
        raise ValidationFailed(
            _("Unknown subsidy policy %(id)s.", id=unknown[0]), field="policy_ids"
        )
    item = ServiceItem(**data.model_dump(exclude={"provider_id"}), provider_id=provider.id)
    session.add(item)
    session.flush()
    return item
