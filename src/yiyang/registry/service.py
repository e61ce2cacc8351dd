"""Elder registry use cases. Services flush; the request or job commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from yiyang.core import audit
from yiyang.core.clock import age_on, today_local
from yiyang.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor, region_scope_path
from yiyang.regions import repository as regions
from yiyang.regions.models import Region
from yiyang.registry import consents, repository
from yiyang.registry.enums import ElderStatus
from yiyang.registry.models import (
    Elder,
    ElderCategory,
    ElderStatusChange,
    EmergencyContact,
    RegistrySynonym,
)
from yiyang.registry.permissions import (
    can_edit_elder,
    sees_full_identity,
    shown_birth_date,
    shown_details,
    shown_id_number,
    shown_phone,
)
from yiyang.registry.schemas import (
    ConsentCreate,
    ConsentRecordRead,
    ConsentsRead,
    ConsentStateRead,
    ContactCreate,
    ContactRead,
    ElderCreate,
    ElderFilters,
    ElderListItem,
    ElderRead,
    ElderUpdate,
    MedicalProfile,
    Page,
    StatusChange,
    StatusChangeRead,
    SynonymCreate,
)
from yiyang.registry.synonyms import check_addition as check_synonym
from yiyang.registry.synonyms import key as synonym_key


def access_elder(session: Session, actor: Actor, elder_id: int) -> Elder:
    """The elder if ``actor`` may see it, else 404 (never 403: do not confirm it exists)."""
    elder = repository.get_readable(session, actor, elder_id)
    if elder is None:
        raise NotFound(_("No such elder."))
    return elder


def _check_region(session: Session, actor: Actor, code: str) -> Region:
    region = regions.by_code(session, code)
    if region is None:
        raise ValidationFailed(_("Unknown region code %(code)s.", code=code), field="region_code")
    if not can_edit_elder(actor, region.path):
        raise ValidationFailed(
            _("Region %(code)s is outside your jurisdiction.", code=code), field="region_code"
        )
    return region


def _contacts(items: Sequence[ContactCreate]) -> list[EmergencyContact]:
    return [
        EmergencyContact(
            priority=i,
            name=c.name,
            relation=c.relation,
            phone=c.phone,
            phone_alt=c.phone_alt,
            receives_alerts=c.receives_alerts,
        )
        for i, c in enumerate(items, start=1)
    ]


def create_elder(session: Session, actor: Actor, data: ElderCreate) -> Elder:
    if not actor.can(Perm.EDIT_ELDERS):
        raise Forbidden(_("Your role may not do this."))
    region = _check_region(session, actor, data.region_code)
    assert data.birth_date is not None and data.gender is not None
    if session.scalar(select(Elder.id).where(Elder.id_number == data.id_number)):
        raise Conflict(_("An elder with this ID number is already registered."), field="id_number")
    fields = data.model_dump(exclude={"region_code", "categories", "contacts"})
    given = [p for p, flag in consents.FLAG.items() if fields.pop(flag)]
    signed_on = fields.pop("consent_date") or today_local()
    consents.check_initial(given)
    elder = Elder(
        **fields,
        id_tail=data.id_number[-4:],
        id_number_legacy=data.legacy_id_number,
        region_id=region.id,
        region_path=region.path,
        status=ElderStatus.ACTIVE,
    )
    elder.categories = [ElderCategory(category=c.value) for c in dict.fromkeys(data.categories)]
    elder.contacts = _contacts(data.contacts)
    session.add(elder)
    session.flush()
    session.add(
        ElderStatusChange(
            elder_id=elder.id,
            from_status=None,
            to_status=ElderStatus.ACTIVE,
            effective_date=today_local(),
            reason="registered",
            actor_id=actor.user_id,
        )
    )
    session.flush()
    consents.record_initial(session, actor, elder, given, signed_on)
    return elder


def update_elder(session: Session, actor: Actor, elder_id: int, data: ElderUpdate) -> Elder:
    elder = access_elder(session, actor, elder_id)
    if not can_edit_elder(actor, elder.region_path):
        raise Forbidden(_("Your role may not do this."))
    if data.version != elder.version:
        raise Conflict(
            _("Someone else changed this record meanwhile. Reload it and apply your change again."),
            field="version",
            current_version=elder.version,
        )
    changes = data.model_dump(
        exclude_unset=True, exclude={"version", "region_code", "categories", "contacts"}
    )
    for key, value in changes.items():
        setattr(elder, key, value)
    if data.region_code is not None:
        region = _check_region(session, actor, data.region_code)
        elder.region_id, elder.region_path = region.id, region.path
    if data.categories is not None:
        wanted = list(dict.fromkeys(c.value for c in data.categories))
        if wanted != elder.category_codes:
            elder.categories = [ElderCategory(category=c) for c in wanted]
    if data.contacts is not None:
        elder.contacts = _contacts(data.contacts)
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            _("Someone else changed this record meanwhile. Reload it and apply your change again."),
            field="version",
        ) from None
    return elder


ALLOWED_STATUS = {
    ElderStatus.ACTIVE: {ElderStatus.MOVED_OUT, ElderStatus.DECEASED},
    ElderStatus.MOVED_OUT: {ElderStatus.ACTIVE, ElderStatus.DECEASED},
    ElderStatus.DECEASED: set(),  # corrections go through the district, not the UI
}


def change_status(session: Session, actor: Actor, elder_id: int, data: StatusChange) -> Elder:
    elder = access_elder(session, actor, elder_id)
    if not can_edit_elder(actor, elder.region_path):
        raise Forbidden(_("Your role may not do this."))
    current = ElderStatus(elder.status)
    if data.status not in ALLOWED_STATUS[current]:
        raise ValidationFailed(
            _(
                "The status cannot change from %(a)s to %(b)s.",
                a=current.value,
                b=data.status.value,
            ),
            field="status",
        )
    if data.effective_date > today_local():
        raise ValidationFailed(
            _("The effective date cannot be in the future."), field="effective_date"
        )
    session.add(
        ElderStatusChange(
            elder_id=elder.id,
            from_status=current,
            to_status=data.status,
            effective_date=data.effective_date,
            reason=data.reason,
            actor_id=actor.user_id,
        )
    )
    elder.status = data.status
    session.flush()
    return elder


def filter_region_path(session: Session, f: ElderFilters) -> str | None:
    """The path of the region a list or export is narrowed to (the scope still applies)."""
    if not f.region_code:
        return None
    region = regions.by_code(session, f.region_code)
    if region is None:
        raise ValidationFailed(
            _("Unknown region code %(code)s.", code=f.region_code), field="region_code"
        )
    return region.path


def list_elders(session: Session, actor: Actor, f: ElderFilters) -> Page[ElderListItem]:
    region_path = filter_region_path(session, f)
    rows, total, capped = repository.search(session, actor, f, region_path)
    names = repository.region_names(session, {e.region_id for e in rows})
    items = [to_list_item(actor, e, names) for e in rows]
    return Page[ElderListItem](
        items=items, total=total, total_is_estimate=capped, page=f.page, page_size=f.page_size
    )


def to_list_item(actor: Actor, e: Elder, names: dict[int, tuple[str, str]]) -> ElderListItem:
    code, region_name = names.get(e.region_id, ("", ""))
    private = shown_details(actor, e)
    return ElderListItem(
        id=e.id,
        name=e.name,
        gender=e.gender,
        age=age_on(e.birth_date, today_local()),
        birth_date=shown_birth_date(actor, e.birth_date),
        id_number=shown_id_number(actor, e.id_number),
        mobile_phone=private.mobile_phone,
        region_code=code,
        region_name=region_name,
        # Not shared: the community only (the region's name), never the street address.
        address=private.address if private.address is not None else region_name,
        household=e.household,
        categories=e.category_codes,
        care_level=e.care_level,
        # Medical: only for a role that sees the medical profile, and as shared (the consent).
        dementia=e.dementia if private.medical else None,
        status=e.status,
        details_shared=private.shared,
    )


CHOICES_SHOWN = 8


def elder_choices(session: Session, actor: Actor, q: str) -> list[ElderListItem]:
    """The elders a form may choose, as typed: a name's beginning, the last four of an ID or a
    phone — the registry's one search box, scoped and masked as the registry list is — at most
    ``CHOICES_SHOWN``."""
    q = q.strip()[:64]
    if not q or "\x00" in q:  # no elder's name holds a NUL: nothing to find (not a crash)
        return []
    rows, _total, _capped = repository.search(
        session, actor, ElderFilters(q=q, page_size=CHOICES_SHOWN)
    )
    names = repository.region_names(session, {e.region_id for e in rows})
    return [to_list_item(actor, e, names) for e in rows]


def elder_choice(
    session: Session, actor: Actor, elder_id: int
) -> tuple[Elder, ElderListItem] | None:
    """One chosen elder and it as a choice (scoped, masked), or None when the actor may not
    read it."""
    elder = repository.get_readable(session, actor, elder_id)
    if elder is None:
        return None
    return elder, to_list_item(actor, elder, repository.region_names(session, {elder.region_id}))


def shown_contacts(actor: Actor, elder: Elder, *, contact_phones: bool) -> list[ContactRead]:
    """The elder's emergency contacts as ``actor`` may see them: phones only where the
    ``elder.details`` mask shows contact phones, and then masked by role."""
    return [
        ContactRead(
            priority=c.priority,
            name=c.name,
            relation=c.relation,
            phone=shown_phone(actor, c.phone) if contact_phones else None,
            phone_alt=shown_phone(actor, c.phone_alt) if contact_phones else None,
            receives_alerts=c.receives_alerts,
        )
        for c in elder.contacts
    ]


def read_elder(session: Session, actor: Actor, elder_id: int) -> ElderRead:
    """The full record as ``actor`` may see it (the ``elder.details`` mask: role and consent).
    Reading a medical profile is audited."""
    elder = access_elder(session, actor, elder_id)
    names = repository.region_names(session, {elder.region_id})
    base = to_list_item(actor, elder, names)
    private = shown_details(actor, elder)
    medical = None
    if private.medical:
        medical = MedicalProfile(
            chronic_conditions=elder.chronic_conditions,
            allergies=elder.allergies,
            medications=elder.medications,
            mobility=elder.mobility,
            blood_type=elder.blood_type,
            dementia=elder.dementia,
            medical_notes=elder.medical_notes,
        )
        audit.record(
            session,
            "read_medical",
            "elder",
            str(elder.id),
            elder_id=elder.id,
            region_path=elder.region_path,
        )
    contacts = shown_contacts(actor, elder, contact_phones=private.contact_phones)
    history = [
        StatusChangeRead.model_validate(h) for h in repository.status_history(session, elder.id)
    ]
    extra: dict[str, Any] = {
        "home_phone": private.home_phone,
        "family_doctor_phone": private.family_doctor_phone,
        "phone_notes": private.phone_notes,
        # The first-generation ID it was upgraded from: only for roles that see IDs in full.
        "id_number_legacy": elder.id_number_legacy if sees_full_identity(actor) else None,
    }
    return ElderRead(
        **base.model_dump(),
        **extra,
        latitude=private.latitude,
        longitude=private.longitude,
        region_path=elder.region_path,
        medical=medical,
        key_holder=private.key_holder,
        access_notes=private.access_notes,
        family_doctor_name=private.family_doctor_name,
        family_doctor_org=private.family_doctor_org,
        consent_data_processing=elder.consent_data_processing,
        consent_health_monitoring=elder.consent_health_monitoring,
        consent_share_with_family=elder.consent_share_with_family,
        consent_date=elder.consent_date,
        consents=_consent_state(elder, consents.history(session, elder.id)),
        contacts=contacts,
        status_history=history,
        created_at=elder.created_at,
        updated_at=elder.updated_at,
        version=elder.version,
    )


# ---------------------------------------------------------------------------- consents
def _consent_state(elder: Elder, records: Sequence[Any]) -> list[ConsentStateRead]:
    latest = consents.latest(records)
    force = consents.in_force(elder)
    return [
        ConsentStateRead(
            purpose=p,
            in_force=force[p],
            latest=ConsentRecordRead.model_validate(latest[p]) if p in latest else None,
        )
        for p in consents.Purpose
    ]


def read_consents(session: Session, actor: Actor, elder_id: int) -> ConsentsRead:
    """The elder's consents: the state of each and every record (anyone who may read the
    elder may read what the elder agreed to)."""
    elder = access_elder(session, actor, elder_id)
    records = consents.history(session, elder.id)
    return ConsentsRead(
        elder_id=elder.id,
        current_text_version=consents.CURRENT_VERSION,
        state=_consent_state(elder, records),
        history=[ConsentRecordRead.model_validate(r) for r in records],
    )


def record_consent(
    session: Session, actor: Actor, elder_id: int, data: ConsentCreate
) -> ConsentsRead:
    """Record a consent given or withdrawn (``registry.consents.record``). A withdrawal takes
    effect with the commit: the scoping rules and the rule worker read the state in force."""
    elder = access_elder(session, actor, elder_id)
    consents.record(
        session,
        actor,
        elder,
        consents.Change(
            purpose=data.purpose,
            action=data.action,
            text_version=data.text_version,
            signed_on=data.signed_on,
            method=data.method,
            note=data.note,
        ),
    )
    return read_consents(session, actor, elder_id)


# ---------------------------------------------------------------------------- synonyms
def list_synonyms(session: Session, actor: Actor) -> Sequence[RegistrySynonym]:
    """The additions that apply to the actor's imports (set above or at their area) and those
    set within it."""
    scope = _synonym_scope(actor)
    rows = session.scalars(
        select(RegistrySynonym).order_by(RegistrySynonym.kind, RegistrySynonym.wording)
    ).all()
    return [r for r in rows if scope.startswith(r.region_path) or r.region_path.startswith(scope)]


def add_synonym(session: Session, actor: Actor, data: SynonymCreate) -> RegistrySynonym:
    """Add (or re-point) a wording for the actor's area. Audited (``RegistrySynonym``)."""
    scope = _synonym_scope(actor)
    clash = check_synonym(data.kind, data.wording, data.value)
    if clash:
        raise ValidationFailed(clash, field="wording")
    wording = synonym_key(data.wording)
    row = session.scalar(
        select(RegistrySynonym).where(
            RegistrySynonym.region_path == scope,
            RegistrySynonym.kind == data.kind.value,
            RegistrySynonym.wording == wording,
        )
    )
    if row is None:
        row = RegistrySynonym(
            region_path=scope, kind=data.kind.value, wording=wording, created_by=actor.user_id
        )
        session.add(row)
    row.value = data.value
    session.flush()
    return row


def remove_synonym(session: Session, actor: Actor, synonym_id: int) -> None:
    scope = _synonym_scope(actor)
    row = session.get(RegistrySynonym, synonym_id)
    if row is None or not row.region_path.startswith(scope):
        raise NotFound(_("No such synonym."))
    session.delete(row)
    session.flush()


def _synonym_scope(actor: Actor) -> str:
    scope = region_scope_path(actor)
    if not actor.can(Perm.IMPORT_ELDERS) or scope is None:
        raise Forbidden(_("Your role may not do this."))
    return scope
