"""The elder's whole picture: what a member of staff with a region sees about one elder, tab by
tab — profile, devices, alerts, orders and subsidy, readings, contacts and consent, history.

Each tab reads only what it shows, through the owning domain's scope and masks: the elder
through ``registry.service`` (``access_elder`` / ``read_elder``: 404 outside the actor's area,
ID numbers and phones as ``registry.permissions.shown_*`` say, the medical profile only where
the ``elder.details`` mask allows, each read of it audited), alerts through
``alarms.repository``, devices through ``devices.service``, orders through
``services.permissions.order_scope``, the audit trail through ``audit.repository``. The consent
rules (``registry.permissions``: the ``elder.details`` mask, ``monitoring_allowed``) decide what
of the elder's private details and readings is shown. Vital readings are medical data: shown
only where the medical profile is, only while the elder consents to health monitoring, and
each read is audited like the profile."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from yiyang.alarms import describe
from yiyang.audit import repository as audit_trail
from yiyang.audit.schemas import AuditFilters
from yiyang.core import audit
from yiyang.core.clock import now
from yiyang.core.errors import Forbidden
from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor, region_scope_path
from yiyang.devices import service as devices
from yiyang.overview import charts, repository
from yiyang.registry import consents
from yiyang.registry import repository as elders
from yiyang.registry import service as registry
from yiyang.registry.models import Elder
from yiyang.registry.permissions import (
    monitoring_allowed,
    shares_details,
    shown_details,
    shown_phone,
)
from yiyang.registry.schemas import ElderListItem
from yiyang.subsidies import reports

TABS: tuple[tuple[str, str], ...] = (
    ("profile", N_("Profile")),
    ("devices", N_("Devices")),
    ("alerts", N_("Alerts")),
    ("orders", N_("Orders and subsidy")),
    ("readings", N_("Readings")),
    ("contacts", N_("Contacts and consent")),
    ("history", N_("History")),
)
TAB_KEYS = frozenset(k for k, _label in TABS)
READINGS_DAYS = 30
READINGS_LIMIT = 5000
LIST_LIMIT = 50


def may_view(actor: Actor) -> bool:
    """The picture is a staff page for those who look after a region (officers, community
    workers, operators, admins): it needs the registry and a region scope. Person-scoped roles
    — family, the elder themself, providers, caregivers — have their own pages."""
    return actor.can(Perm.VIEW_ELDERS) and region_scope_path(actor) is not None


def check_may_view(actor: Actor) -> None:
    if not may_view(actor):
        raise Forbidden(_("Your role may not do this."))


@dataclass
class Picture:
    """The head of the page (every tab) and the one tab's data."""

    elder: ElderListItem
    counts: repository.ElderCounts
    tab: str
    data: dict[str, Any] = field(default_factory=dict)


def _head(session: Session, actor: Actor, elder: Elder) -> ElderListItem:
    return registry.to_list_item(actor, elder, elders.region_names(session, {elder.region_id}))


def load(session: Session, actor: Actor, elder_id: int, tab: str) -> Picture:
    """The picture's head and ``tab`` for ``actor`` (403 for a role without a region, 404 for
    an elder outside the actor's area)."""
    check_may_view(actor)
    if tab == "profile":
        record = registry.read_elder(session, actor, elder_id)  # audits a medical read
        counts = repository.elder_counts(session, actor, record.id)
        return Picture(record, counts, tab, {"record": record})
    elder = registry.access_elder(session, actor, elder_id)
    head = _head(session, actor, elder)
    counts = repository.elder_counts(session, actor, elder.id)
    return Picture(head, counts, tab, READERS[tab](session, actor, elder))


def _devices(session: Session, actor: Actor, elder: Elder) -> dict[str, Any]:
    return {"devices": devices.search(session, actor, elder_id=elder.id)}


def _alerts(session: Session, actor: Actor, elder: Elder) -> dict[str, Any]:
    # the figures (readings, positions) by consent: shared with the reader and monitored
    shown = describe.figures_shown(shares_details(actor, elder), monitoring_allowed(elder))
    return {
        "alerts": [
            (a, describe.explain(a.alert_type, describe.shown_detail(a.detail, shown)))
            for a in repository.elder_alerts(session, actor, elder.id, LIST_LIMIT)
        ]
    }


def _orders(session: Session, actor: Actor, elder: Elder) -> dict[str, Any]:
    subsidy = actor.can(Perm.VIEW_SUBSIDIES)
    return {
        "orders": repository.elder_orders(session, actor, elder.id, LIST_LIMIT),
        "subsidy": subsidy,
        "balances": reports.elder_balances(session, elder.id) if subsidy else [],
        "ledger": repository.elder_ledger(session, elder.id, LIST_LIMIT) if subsidy else [],
    }


def readings_shown(actor: Actor, elder: Elder) -> bool:
    """Vital signs are medical data, gathered by monitoring the elder consented to: shown where
    the medical profile is (the ``elder.details`` mask: role and consent to share) and only
    while the health-monitoring consent is in force (``monitoring_allowed``)."""
    return shown_details(actor, elder).medical and monitoring_allowed(elder)


def _readings(session: Session, actor: Actor, elder: Elder) -> dict[str, Any]:
    end = now()
    start = end - dt.timedelta(days=READINGS_DAYS)
    if not readings_shown(actor, elder):
        return {
            "charts": [],
            "allowed": shown_details(actor, elder).medical,
            "consent": monitoring_allowed(elder),
            "days": READINGS_DAYS,
        }
    audit.record(
        session,
        "read_medical",
        "elder",
        str(elder.id),
        elder_id=elder.id,
        region_path=elder.region_path,
        summary="elder picture: vital readings",
    )
    series: dict[str, list[tuple[dt.datetime, float]]] = defaultdict(list)
    for r in repository.elder_readings(session, elder.id, start, charts.METRICS, READINGS_LIMIT):
        at = r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC)
        series[r.metric].append((at, float(r.value)))
    return {
        "charts": charts.charts(series, start, end),
        "allowed": True,
        "consent": True,
        "days": READINGS_DAYS,
    }


def _contacts(session: Session, actor: Actor, elder: Elder) -> dict[str, Any]:
    """The contacts and home access as the ``elder.details`` mask shows them, the accounts
    linked to the elder, and each consent with its latest record."""
    private = shown_details(actor, elder)
    contacts = registry.shown_contacts(actor, elder, contact_phones=private.contact_phones)
    accounts = [
        (a.display_name, a.role, a.relation, shown_phone(actor, a.phone))
        for a in repository.elder_accounts(session, elder.id)
    ]
    latest = consents.latest(consents.history(session, elder.id))
    return {
        "contacts": contacts,
        "accounts": accounts,
        "private": private,
        "consents": [(p, given, latest.get(p)) for p, given in consents.in_force(elder).items()],
        "consent_date": elder.consent_date,
    }


def _history(session: Session, actor: Actor, elder: Elder) -> dict[str, Any]:
    trail = actor.can(Perm.VIEW_AUDIT)
    return {
        "statuses": elders.status_history(session, elder.id),
        "bindings": repository.elder_bindings(session, elder.id, LIST_LIMIT),
        "trail": trail,
        "rows": (
            audit_trail.lines(
                session,
                audit_trail.search(session, actor, AuditFilters(elder_id=elder.id, page_size=30)),
            )
            if trail
            else []
        ),
    }


READERS = {
    "devices": _devices,
    "alerts": _alerts,
    "orders": _orders,
    "readings": _readings,
    "contacts": _contacts,
    "history": _history,
}
