"""Who may do what with an elder record, and how the record is masked for the reader.

``register()`` installs the elder rules into ``core.scoping`` at start-up (via
``yiyang.domains.install()``): ``ELDERS`` (which elders an actor may read) and ``ELDER_IDS``
(rows that hang off an elder), the masks of an elder's identity and phone numbers, and the
consent rules (PIPL art. 29, ``registry.consents``):

- ``elder.details_shared`` (row, ``(actor, elder_id)``): the elder's private details may be
  shown to the actor — to everyone who may read the elder, except a family member without the
  elder's consent to share with family;
- ``elder.monitored`` (row, ``(actor, elder_id)``): readings of passive monitoring (vitals,
  activity, location) may be shown — only while the health-monitoring consent is in force;
- ``elder.details`` (mask, ``(actor, elder)`` → ``ElderDetails``): an elder's private fields as
  the actor may see them, role masks and consent together. Every response that shows an
  elder's private details builds it from here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, false, func, select, true
from sqlalchemy.orm import Session

from yiyang.accounts.models import User, UserElderLink
from yiyang.core import scoping
from yiyang.core.masking import mask_id_number, mask_phone
from yiyang.core.roles import REGION_SCOPED, Perm, Role
from yiyang.core.scoping import Actor, region_scope_path, within_path
from yiyang.regions import service as regions_service
from yiyang.registry.models import Elder

# Masking rules this domain registers (``core.scoping.mask_rule(name)(actor, value)``).
MASK_ID_NUMBER = "elder.id_number"
MASK_BIRTH_DATE = "elder.birth_date"
MASK_PHONE = "phone"
MASK_DETAILS = "elder.details"
# Row rules of consent (``core.scoping.row_rule(name)(actor, elder_id)``).
DETAILS_SHARED = "elder.details_shared"
MONITORED = "elder.monitored"


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


def elders_by_region(session: Session, actor: Actor) -> dict[int, int]:
    """Elders per region id among those ``actor`` may read: one grouped query (the counts of
    the region tree page, registered into ``regions.service``)."""
    rows = session.execute(
        select(Elder.region_id, func.count())
        .where(scoping.elder_scope(actor))
        .group_by(Elder.region_id)
    )
    return {region_id: n for region_id, n in rows}


def register() -> None:
    regions_service.register_elder_counter(elders_by_region)
    scoping.register_row_rule(scoping.ELDERS, readable_elders)
    scoping.register_row_rule(scoping.ELDER_IDS, readable_elder_id)
    scoping.register_mask_rule(MASK_ID_NUMBER, shown_id_number)
    scoping.register_mask_rule(MASK_BIRTH_DATE, shown_birth_date)
    scoping.register_mask_rule(MASK_PHONE, shown_phone)
    scoping.register_row_rule(DETAILS_SHARED, details_shared)
    scoping.register_row_rule(MONITORED, monitoring_consented)
    scoping.register_mask_rule(MASK_DETAILS, shown_details)


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


# ---------------------------------------------------------------------------- consent
class ConsentFlags(Protocol):
    """What the consent rules read of an elder (an ``Elder`` or a row with these columns)."""

    consent_health_monitoring: bool
    consent_share_with_family: bool


def details_shared(actor: Actor, elder_id: Any) -> ColumnElement[bool]:
    """The ``elder.details_shared`` rule: the private details (medical profile, phones, the
    address beyond the community, coordinates, key holder and access notes, readings) of the
    elder ``elder_id`` may be shown to ``actor``. A family member needs the elder's consent to
    share with family; every other role is limited by its permissions alone."""
    if actor.role is not Role.FAMILY:
        return true()
    return elder_id.in_(select(Elder.id).where(Elder.consent_share_with_family))


def monitoring_consented(actor: Actor, elder_id: Any) -> ColumnElement[bool]:
    """The ``elder.monitored`` rule: readings of passive monitoring (vitals, activity, bed,
    water, location) of ``elder_id`` may be shown — while the elder's health-monitoring consent
    is in force, to every role alike (``actor`` only for the rule's shape)."""
    return elder_id.in_(select(Elder.id).where(Elder.consent_health_monitoring))


def shares_details(actor: Actor, elder: ConsentFlags) -> bool:
    """``details_shared`` for one elder already in memory."""
    return actor.role is not Role.FAMILY or bool(elder.consent_share_with_family)


def monitoring_allowed(elder: ConsentFlags) -> bool:
    """``monitoring_consented`` for one elder already in memory: passive monitoring may run
    and its readings may be shown."""
    return bool(elder.consent_health_monitoring)


@dataclass(frozen=True)
class ElderDetails:
    """An elder's private fields as one reader may see them (``shown_details``). ``None``:
    not shown. ``shared`` False: a family member without the elder's consent to share."""

    shared: bool
    address: str | None
    latitude: float | None
    longitude: float | None
    mobile_phone: str | None
    home_phone: str | None
    phone_notes: str | None
    contact_phones: bool  # the emergency contacts' numbers (masked by role when shown)
    medical: bool  # the medical profile and the dementia flag
    key_holder: str | None
    access_notes: str | None
    family_doctor_name: str | None
    family_doctor_phone: str | None
    family_doctor_org: str | None


def shown_details(actor: Actor, elder: Elder) -> ElderDetails:
    """The ``elder.details`` mask: the private fields of ``elder`` for ``actor``, role masks
    (phones, medical) and consent (sharing with family) applied together."""
    shared = shares_details(actor, elder)
    medical = shared and can_view_medical(actor)
    return ElderDetails(
        shared=shared,
        address=elder.address if shared else None,
        latitude=elder.latitude if shared else None,
        longitude=elder.longitude if shared else None,
        mobile_phone=shown_phone(actor, elder.mobile_phone) if shared else None,
        home_phone=shown_phone(actor, elder.home_phone) if shared else None,
        # Only for roles that see numbers in full: the notes hold further numbers verbatim.
        phone_notes=elder.phone_notes if shared and actor.can(Perm.VIEW_PHONE) else None,
        contact_phones=shared,
        medical=medical,
        key_holder=elder.key_holder if shared else None,
        access_notes=elder.access_notes if shared else None,
        family_doctor_name=elder.family_doctor_name if shared else None,
        family_doctor_phone=shown_phone(actor, elder.family_doctor_phone) if shared else None,
        family_doctor_org=elder.family_doctor_org if shared else None,
    )
