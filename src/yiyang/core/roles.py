"""Roles and the permissions each one holds, declared in code and checked by name.

Scope (which elders a role sees) is decided in ``yiyang.core.scoping``; this table decides what a
role may *do* and which sensitive fields it may see unmasked (PIPL minimum necessary).
"""

from __future__ import annotations

import enum

from yiyang.core.i18n import N_


class Role(enum.StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    DISTRICT_OFFICER = "district_officer"
    STREET_OFFICER = "street_officer"
    COMMUNITY_WORKER = "community_worker"
    OPERATOR = "operator"  # call-centre operator
    PROVIDER_ADMIN = "provider_admin"
    CAREGIVER = "caregiver"
    DOCTOR = "doctor"
    VOLUNTEER = "volunteer"
    FAMILY = "family"
    ELDER = "elder"


class Perm(enum.StrEnum):
    VIEW_ELDERS = "can_view_elders"
    EDIT_ELDERS = "can_edit_elders"
    IMPORT_ELDERS = "can_import_elders"
    EXPORT_ELDERS = "can_export_elders"
    VIEW_ID_NUMBER = "can_view_id_number"  # unmasked resident ID
    VIEW_PHONE = "can_view_phone"  # unmasked phones
    VIEW_MEDICAL = "can_view_medical"  # full medical profile (each read is audited)
    VIEW_AUDIT = "can_view_audit"
    MANAGE_USERS = "can_manage_users"
    VIEW_DEVICES = "can_view_devices"
    MANAGE_DEVICES = "can_manage_devices"  # register, bind, retire devices
    VIEW_ALERTS = "can_view_alerts"
    HANDLE_ALERTS = "can_handle_alerts"  # acknowledge, dispatch, resolve
    # Everything that tunes an elder's alarms: region defaults and per-elder rule parameters
    # (within the safe ranges of alarms/limits.py), in the holder's own area.
    MANAGE_RULES = "can_manage_rules"
    VIEW_DEAD_LETTERS = "can_view_dead_letters"  # rejected device messages (raw payloads)
    VIEW_ORDERS = "can_view_orders"
    PLACE_ORDERS = "can_place_orders"  # order for an elder; rate it, complain about it
    MANAGE_ORDERS = "can_manage_orders"  # provider side: assign, reassign, cancel
    DELIVER_ORDERS = "can_deliver_orders"  # caregiver: accept, check in and out
    MANAGE_CAREGIVERS = "can_manage_caregivers"  # a provider's staff and catalog
    MANAGE_PROVIDERS = "can_manage_providers"  # register and suspend providers
    HANDLE_COMPLAINTS = "can_handle_complaints"
    VIEW_SUBSIDIES = "can_view_subsidies"  # balances and use
    MANAGE_SUBSIDIES = "can_manage_subsidies"  # policies, allocation, month-end
    VIEW_SETTLEMENT = "can_view_settlement"  # provider statements
    # The region overview (open alerts, devices offline, orders today, elders by category and
    # household) of the holder's own region: the first screen of officers and community workers.
    VIEW_OVERVIEW = "can_view_region_overview"
    # The elder's and family's own page (their services, meals, ratings); staff order elsewhere.
    OWN_SERVICES = "can_use_own_services"
    # Check-in tasks (``checkins``): the calls to make to quiet homes in the holder's region,
    # and recording a call's outcome (community workers; officers and operators only read).
    VIEW_CHECK_INS = "can_view_check_ins"
    HANDLE_CHECK_INS = "can_handle_check_ins"
    # Say an elder is away or back and plan absences (presence): the elder, their family, and
    # region staff who may edit the elder there.
    MARK_AWAY = "can_mark_away"
    # The region tree of the holder's area: add, rename and retire streets and communities, load
    # the official division list (district officers; street officers keep the district's tree).
    MANAGE_REGIONS = "can_manage_regions"


# Roles whose scope is a region subtree; the others see only elders linked to them.
REGION_SCOPED = frozenset(
    {Role.DISTRICT_OFFICER, Role.STREET_OFFICER, Role.COMMUNITY_WORKER, Role.OPERATOR}
)

_STAFF = {Perm.VIEW_ELDERS, Perm.VIEW_PHONE}
_ALARMS = {Perm.VIEW_DEVICES, Perm.VIEW_ALERTS, Perm.HANDLE_ALERTS}
_ORDERING = {Perm.VIEW_ORDERS, Perm.PLACE_ORDERS, Perm.VIEW_SUBSIDIES}
ROLE_PERMS: dict[Role, frozenset[Perm]] = {
    # Everything but the elder's and family's own page (an admin has no elder of their own).
    Role.PLATFORM_ADMIN: frozenset(Perm) - {Perm.OWN_SERVICES},
    Role.DISTRICT_OFFICER: frozenset(
        _STAFF
        | {Perm.EDIT_ELDERS, Perm.IMPORT_ELDERS, Perm.EXPORT_ELDERS, Perm.VIEW_ID_NUMBER}
        | {Perm.VIEW_MEDICAL, Perm.VIEW_AUDIT, Perm.MANAGE_USERS}
        | _ALARMS
        | {Perm.MANAGE_DEVICES, Perm.MANAGE_RULES, Perm.VIEW_DEAD_LETTERS}
        | _ORDERING
        | {Perm.HANDLE_COMPLAINTS, Perm.MANAGE_PROVIDERS, Perm.MANAGE_SUBSIDIES}
        | {Perm.VIEW_SETTLEMENT, Perm.VIEW_OVERVIEW, Perm.VIEW_CHECK_INS}
        | {Perm.MARK_AWAY, Perm.MANAGE_REGIONS}
    ),
    Role.STREET_OFFICER: frozenset(
        _STAFF
        | {Perm.EDIT_ELDERS, Perm.IMPORT_ELDERS, Perm.EXPORT_ELDERS, Perm.VIEW_ID_NUMBER}
        | {Perm.VIEW_MEDICAL, Perm.VIEW_AUDIT}
        | _ALARMS
        | {Perm.MANAGE_DEVICES, Perm.MANAGE_RULES}
        | _ORDERING
        | {Perm.HANDLE_COMPLAINTS, Perm.VIEW_OVERVIEW, Perm.VIEW_CHECK_INS}
        | {Perm.MARK_AWAY}
    ),
    Role.COMMUNITY_WORKER: frozenset(
        _STAFF
        | {Perm.EDIT_ELDERS, Perm.IMPORT_ELDERS, Perm.EXPORT_ELDERS, Perm.VIEW_ID_NUMBER}
        | {Perm.VIEW_MEDICAL}
        | _ALARMS
        | {Perm.MANAGE_DEVICES, Perm.VIEW_OVERVIEW}
        | _ORDERING
        | {Perm.VIEW_CHECK_INS, Perm.HANDLE_CHECK_INS}
        | {Perm.MARK_AWAY}
    ),
    # Operators must call elders and read the medical profile to brief 120, but never need
    # the ID number.
    # Operators also take orders by phone (the 12349 hotline).
    Role.OPERATOR: frozenset(
        _STAFF
        | {Perm.VIEW_MEDICAL}
        | _ALARMS
        | {Perm.VIEW_ORDERS, Perm.PLACE_ORDERS, Perm.VIEW_CHECK_INS}
    ),
    Role.PROVIDER_ADMIN: frozenset(
        {Perm.VIEW_ELDERS, Perm.VIEW_ORDERS, Perm.MANAGE_ORDERS, Perm.MANAGE_CAREGIVERS}
        | {Perm.VIEW_SETTLEMENT}
    ),
    Role.CAREGIVER: frozenset(
        {Perm.VIEW_ELDERS, Perm.VIEW_PHONE, Perm.VIEW_ORDERS, Perm.DELIVER_ORDERS}
    ),
    Role.DOCTOR: frozenset(
        {Perm.VIEW_ELDERS, Perm.VIEW_PHONE, Perm.VIEW_MEDICAL, Perm.VIEW_ALERTS}
    ),
    Role.VOLUNTEER: frozenset({Perm.VIEW_ELDERS}),
    Role.FAMILY: frozenset(
        {Perm.VIEW_ELDERS, Perm.VIEW_PHONE, Perm.VIEW_MEDICAL, Perm.VIEW_ALERTS, Perm.VIEW_DEVICES}
        | _ORDERING
        | {Perm.OWN_SERVICES, Perm.MARK_AWAY}
    ),
    Role.ELDER: frozenset(
        {Perm.VIEW_ELDERS, Perm.VIEW_PHONE, Perm.VIEW_MEDICAL, Perm.VIEW_ALERTS, Perm.VIEW_DEVICES}
        | _ORDERING
        | {Perm.OWN_SERVICES, Perm.MARK_AWAY}
    ),
}


ROLE_LABELS: dict[Role, str] = {
    Role.PLATFORM_ADMIN: N_("Platform admin"),
    Role.DISTRICT_OFFICER: N_("District officer"),
    Role.STREET_OFFICER: N_("Street officer"),
    Role.COMMUNITY_WORKER: N_("Community worker"),
    Role.OPERATOR: N_("Call-centre operator"),
    Role.PROVIDER_ADMIN: N_("Provider admin"),
    Role.CAREGIVER: N_("Caregiver"),
    Role.DOCTOR: N_("Family doctor"),
    Role.VOLUNTEER: N_("Volunteer"),
    Role.FAMILY: N_("Family member"),
    Role.ELDER: N_("Elder"),
}


def has_perm(role: Role, perm: Perm) -> bool:
    return perm in ROLE_PERMS[role]
