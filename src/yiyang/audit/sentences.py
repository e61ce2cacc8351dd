"""An audit row as people read it: who (their display name, or "System" for a job), did what to
which record, in a sentence — "张三 将 手机 由 138****1234 改为 139****5678" — with the recorded
values kept, labelled, for whoever wants the detail.

Pure: :func:`describe` takes the row's values and a map of usernames to display names (one
query, :func:`yiyang.audit.repository.display_names`) and returns what the template shows.
Phone numbers are shown masked, as on every other page; ID numbers and secrets were masked when
the row was written (``Audited.__audit_mask__``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from yiyang.core.audit import JOBS, actor_label
from yiyang.core.clock import to_local
from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _
from yiyang.core.masking import mask_phone
from yiyang.registry.enums import label

ENTITIES: dict[str, str] = {
    "elder": N_("Elder record"),
    "emergency_contact": N_("Emergency contact"),
    "consent_record": N_("Consent"),
    "elder_status_change": N_("Status change"),
    "import_batch": N_("Roll import"),
    "app_user": N_("User account"),
    "user_elder_link": N_("Family link"),
    "auth_session": N_("Sign-in session"),
    "login_address": N_("Sign-in address"),
    "dead_letter": N_("Refused message"),
    "sla_report": N_("Service-level report"),
    "link_invitation": N_("Invitation code"),
    "region": N_("Region"),
    "device": N_("Device"),
    "device_binding": N_("Device binding"),
    "vendor": N_("Device vendor"),
    "alert": N_("Alert"),
    "rule_settings": N_("Alarm rule settings"),
    "responder": N_("Responder"),
    "provider": N_("Service provider"),
    "caregiver": N_("Caregiver"),
    "caregiver_certificate": N_("Caregiver certificate"),
    "service_item": N_("Service item"),
    "service_order": N_("Service order"),
    "canteen": N_("Canteen"),
    "canteen_menu": N_("Canteen menu"),
    "subsidy_policy": N_("Subsidy policy"),
    "subsidy_month": N_("Subsidy month"),
    "settlement": N_("Settlement"),
    "notification": N_("Notification"),
}

FIELDS: dict[str, str] = {
    "name": N_("Name"),
    "display_name": N_("Display name"),
    "username": N_("Username"),
    "role": N_("Role"),
    "active": N_("Active"),
    "mobile_phone": N_("Mobile phone"),
    "home_phone": N_("Home phone"),
    "phone": N_("Phone"),
    "phone_alt": N_("Second phone"),
    "contact_phone": N_("Contact phone"),
    "family_doctor_phone": N_("Doctor's phone"),
    "email": N_("E-mail"),
    "address": N_("Address"),
    "gender": N_("Gender"),
    "birth_date": N_("Birth date"),
    "id_number": N_("ID number"),
    "household": N_("Household"),
    "categories": N_("Categories"),
    "care_level": N_("Care level"),
    "status": N_("Status"),
    "state": N_("State"),
    "relation": N_("Relation"),
    "priority": N_("Order of calling"),
    "receives_alerts": N_("Receives alerts"),
    "key_holder": N_("Key holder"),
    "access_notes": N_("Access notes"),
    "family_doctor_name": N_("Family doctor"),
    "chronic_conditions": N_("Chronic conditions"),
    "allergies": N_("Allergies"),
    "medications": N_("Current medications"),
    "dementia": N_("Dementia"),
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
    "scheduled_at": N_("Scheduled for"),
    "quantity": N_("Quantity"),
    "amount_fen": N_("Amount (fen)"),
    "subsidy_fen": N_("Subsidy (fen)"),
    "self_pay_fen": N_("Own share (fen)"),
    "caregiver_id": N_("Caregiver"),
    "cancel_reason": N_("Reason for cancelling"),
    "note": N_("Note"),
    "serial": N_("Serial number"),
    "room": N_("Room"),
    "must_change_password": N_("Must change password"),
}

# Kept in the row (the API returns them) but not listed on the page: they say nothing a reader
# of the trail needs.
BOOKKEEPING = frozenset({"id", "region_path", "created_at", "idempotency_key", "path"})

# Fields whose values are codes with a label of their own (registry.enums.label).
LABELLED = frozenset({"household", "gender", "status", "role", "mobility", "blood_type"})
LABELLED_LISTS = frozenset({"categories"})
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_PHONE_FIELD = re.compile(r"(^|_)phone(_|$)")
_EMPTY = "—"


@dataclass(frozen=True)
class Change:
    field: str  # the label, translated
    before: str
    after: str


@dataclass(frozen=True)
class AuditLine:
    """One row as shown."""

    who: str
    sentence: str  # for a create, change or removal; other actions are said by their label
    entity: str
    changes: list[Change] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)  # (label, value) as recorded


def localtime(value: dt.datetime) -> str:
    local = to_local(value)
    return local.strftime("%Y-%m-%d %H:%M") if local else str(value)


def who(username: str | None, names: Mapping[str, str]) -> str:
    """A person's display name; a job's translated name; the username when neither is known
    (an account since removed)."""
    if not username or username in JOBS:
        return actor_label(username)
    return names.get(username) or username


def field_label(key: str) -> str:
    return _(FIELDS[key]) if key in FIELDS else key


def entity_label(entity_type: str) -> str:
    return _(ENTITIES[entity_type]) if entity_type in ENTITIES else entity_type


def shown_value(key: str, value: Any) -> str:
    """A recorded value as text: phones masked, yes/no, lists joined, nothing as a dash."""
    if value is None or value == "" or value == []:
        return _EMPTY
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        item_key = key if key not in LABELLED_LISTS else "status"  # each item a labelled code
        return "、".join(shown_value(item_key, v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {shown_value(str(k), v)}" for k, v in value.items())
    if isinstance(value, str) and _PHONE_FIELD.search(key):
        return mask_phone(value) or _EMPTY
    if isinstance(value, str) and key in LABELLED:
        return label(value)
    if isinstance(value, str) and _ISO_TIME.match(value):
        return localtime(dt.datetime.fromisoformat(value))
    return str(value)


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[Change]:
    """What changed, field by field, in the order the row recorded them."""
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*after.keys(), *before.keys()]))
    return [
        Change(field_label(k), shown_value(k, before.get(k)), shown_value(k, after.get(k)))
        for k in keys
        if before.get(k) != after.get(k)
    ]


def describe(
    *,
    username: str | None,
    action: str,
    entity_type: str,
    entity_id: str | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    names: Mapping[str, str],
) -> AuditLine:
    person = who(username, names)
    entity = entity_label(entity_type)
    if entity_id:
        entity = _("%(entity)s %(id)s", entity=entity, id=entity_id)
    recorded = after if action != "delete" else before
    details = [
        (field_label(k), shown_value(k, v))
        for k, v in (recorded or {}).items()
        if k not in BOOKKEEPING
    ]
    if action == "update":
        moved = changes(before, after)
        if len(moved) == 1:
            c = moved[0]
            sentence = _(
                "%(who)s changed %(field)s from %(before)s to %(after)s",
                who=person,
                field=c.field,
                before=c.before,
                after=c.after,
            )
            return AuditLine(person, sentence, entity, moved)
        sentence = _("%(who)s changed %(entity)s", who=person, entity=entity)
        return AuditLine(person, sentence, entity, moved)
    if action == "create":
        sentence = _("%(who)s created %(entity)s", who=person, entity=entity)
        return AuditLine(person, sentence, entity, details=details)
    if action == "delete":
        sentence = _("%(who)s removed %(entity)s", who=person, entity=entity)
        return AuditLine(person, sentence, entity, details=details)
    # any other action (a sign-in, an export, a read): its label says it, beside the person
    return AuditLine(person, "", entity, changes(before, after) if before else [], details)
