"""The overview's figures, read through each domain's own scope: alerts (``alarms``), devices
(``devices``), orders (``services``), check-in tasks (``checkins``) and elders (``registry``),
so the figures are exactly the rows the actor would see behind each link. Three queries: one
row of counts, elders by household, elders by category.

Below them, the reads of the elder's whole picture (``overview/picture.py``): one elder's
counts, alerts, orders, subsidy movements, readings and device bindings, one query each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yiyang.accounts.models import User, UserElderLink
from yiyang.alarms import repository as alerts
from yiyang.alarms.enums import AlertState
from yiyang.alarms.models import Alert
from yiyang.alarms.repository import alert_scope
from yiyang.checkins import repository as checkins
from yiyang.core.scoping import Actor
from yiyang.devices.enums import DeviceStatus
from yiyang.devices.models import Device, DeviceBinding, VitalReading
from yiyang.devices.service import device_scope
from yiyang.registry import repository as elders
from yiyang.registry.enums import ElderStatus
from yiyang.registry.models import Elder, ElderCategory
from yiyang.services.enums import OPEN_STATES
from yiyang.services.models import Caregiver, Provider, ServiceItem, ServiceOrder
from yiyang.services.permissions import order_scope
from yiyang.services.repository import day_bounds
from yiyang.subsidies.models import LedgerAccount, LedgerEntry, LedgerPosting, SubsidyPolicy


@dataclass(frozen=True)
class Overview:
    open_alerts: int
    devices_offline: int
    orders_today: int
    check_ins_open: int
    check_ins_overdue: int
    elders: int
    by_household: dict[str, int]
    by_category: dict[str, int]


def overview(session: Session, actor: Actor, day: dt.date, now: dt.datetime) -> Overview:
    lo, hi = day_bounds(day)
    counts = session.execute(
        select(
            select(func.count())
            .select_from(Alert)
            .where(alert_scope(actor), Alert.state != AlertState.RESOLVED)
            .scalar_subquery(),
            select(func.count())
            .select_from(Device)
            .where(device_scope(actor), Device.status == DeviceStatus.OFFLINE)
            .scalar_subquery(),
            select(func.count())
            .select_from(ServiceOrder)
            .where(
                order_scope(actor), ServiceOrder.scheduled_at >= lo, ServiceOrder.scheduled_at < hi
            )
            .scalar_subquery(),
            *checkins.count_columns(actor, now),
        )
    ).one()
    active = elders.readable(actor).where(Elder.status == ElderStatus.ACTIVE)
    households = dict(
        session.execute(
            active.with_only_columns(Elder.household, func.count()).group_by(Elder.household)
        ).all()
    )
    ids = active.with_only_columns(Elder.id).scalar_subquery()
    categories = dict(
        session.execute(
            select(ElderCategory.category, func.count())
            .where(ElderCategory.elder_id.in_(ids))
            .group_by(ElderCategory.category)
        ).all()
    )
    return Overview(
        open_alerts=counts[0],
        devices_offline=counts[1],
        orders_today=counts[2],
        check_ins_open=counts[3],
        check_ins_overdue=counts[4],
        elders=sum(households.values()),
        by_household={str(k): int(v) for k, v in households.items()},
        by_category={str(k): int(v) for k, v in categories.items()},
    )


# ------------------------------------------------------------------ the elder's whole picture
# Reads for ``overview/picture.py``, each through its domain's scope; the elder itself has been
# checked readable by the registry (``registry.service``) before any of these runs.


@dataclass(frozen=True)
class ElderCounts:
    open_alerts: int
    devices: int
    open_orders: int


def elder_counts(session: Session, actor: Actor, elder_id: int) -> ElderCounts:
    """The figures on the picture's tabs, in one query."""
    row = session.execute(
        select(
            select(func.count())
            .select_from(Alert)
            .where(alert_scope(actor), Alert.elder_id == elder_id)
            .where(Alert.state != AlertState.RESOLVED)
            .scalar_subquery(),
            select(func.count())
            .select_from(Device)
            .where(device_scope(actor), Device.elder_id == elder_id)
            .where(Device.status != DeviceStatus.RETIRED)
            .scalar_subquery(),
            select(func.count())
            .select_from(ServiceOrder)
            .where(order_scope(actor), ServiceOrder.elder_id == elder_id)
            .where(ServiceOrder.state.in_(sorted(OPEN_STATES)))
            .scalar_subquery(),
        )
    ).one()
    return ElderCounts(open_alerts=row[0], devices=row[1], open_orders=row[2])


def elder_alerts(session: Session, actor: Actor, elder_id: int, limit: int) -> Sequence[Alert]:
    return session.scalars(alerts.filtered(actor, elder_id=elder_id).limit(limit)).all()


def elder_orders(session: Session, actor: Actor, elder_id: int, limit: int) -> Sequence[Any]:
    """The elder's latest service orders with the item, provider and caregiver names."""
    return session.execute(
        select(
            ServiceOrder,
            ServiceItem.name.label("item_name"),
            ServiceItem.category.label("category"),
            Provider.name.label("provider_name"),
            Caregiver.name.label("caregiver_name"),
        )
        .join(ServiceItem, ServiceItem.id == ServiceOrder.item_id)
        .join(Provider, Provider.id == ServiceOrder.provider_id)
        .outerjoin(Caregiver, Caregiver.id == ServiceOrder.caregiver_id)
        .where(order_scope(actor), ServiceOrder.elder_id == elder_id)
        .order_by(ServiceOrder.scheduled_at.desc(), ServiceOrder.id.desc())
        .limit(limit)
    ).all()


def elder_ledger(session: Session, elder_id: int, limit: int) -> Sequence[Any]:
    """The latest movements on the elder's subsidy credit accounts (allocations, payments,
    reversals, expiries), newest first, with the policy's name."""
    return session.execute(
        select(
            LedgerEntry.at,
            LedgerEntry.kind,
            LedgerEntry.period,
            LedgerEntry.order_id,
            LedgerPosting.amount,
            LedgerPosting.unit,
            SubsidyPolicy.name.label("policy"),
        )
        .join(LedgerPosting, LedgerPosting.entry_id == LedgerEntry.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .join(SubsidyPolicy, SubsidyPolicy.id == LedgerAccount.policy_id)
        .where(LedgerAccount.elder_id == elder_id, LedgerAccount.kind == "credit")
        .order_by(LedgerEntry.at.desc(), LedgerEntry.id.desc())
        .limit(limit)
    ).all()


def elder_readings(
    session: Session, elder_id: int, since: dt.datetime, metrics: Iterable[str], limit: int
) -> Sequence[Any]:
    """The elder's vital readings since ``since``, oldest first (at most ``limit``, the newest)."""
    newest = (
        select(VitalReading.metric, VitalReading.at, VitalReading.value)
        .where(
            VitalReading.elder_id == elder_id,
            VitalReading.at >= since,
            VitalReading.metric.in_(sorted(metrics)),
        )
        .order_by(VitalReading.at.desc())
        .limit(limit)
        .subquery()
    )
    return session.execute(select(newest).order_by(newest.c.at)).all()


def elder_bindings(session: Session, elder_id: int, limit: int) -> Sequence[Any]:
    """Which devices served the elder, from when to when, newest first. The rows are the
    elder's history (a device since moved elsewhere still served them), so the elder's scope
    decides, not the device's present place."""
    return session.execute(
        select(
            DeviceBinding.bound_at,
            DeviceBinding.unbound_at,
            DeviceBinding.room,
            DeviceBinding.reason,
            Device.id.label("device_id"),
            Device.serial,
            Device.device_type,
        )
        .join(Device, Device.id == DeviceBinding.device_id)
        .where(DeviceBinding.elder_id == elder_id)
        .order_by(DeviceBinding.bound_at.desc(), DeviceBinding.id.desc())
        .limit(limit)
    ).all()


def elder_accounts(session: Session, elder_id: int) -> Sequence[Any]:
    """The platform accounts linked to the elder (family, the elder's own, doctor, caregiver,
    volunteer), with how each is related."""
    return session.execute(
        select(User.display_name, User.role, User.phone, UserElderLink.relation)
        .join(UserElderLink, UserElderLink.user_id == User.id)
        .where(UserElderLink.elder_id == elder_id, User.active)
        .order_by(User.role, User.display_name)
    ).all()
