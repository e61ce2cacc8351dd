"""The overview's figures, read through each domain's own scope: alerts (``alarms``), devices
(``devices``), orders (``services``) and elders (``registry``), so the figures are exactly the
rows the actor would see behind each link. Three queries: one row of counts, elders by
household, elders by category."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yiyang.alarms.enums import AlertState
from yiyang.alarms.models import Alert
from yiyang.alarms.repository import alert_scope
from yiyang.core.scoping import Actor
from yiyang.devices.enums import DeviceStatus
from yiyang.devices.models import Device
from yiyang.devices.service import device_scope
from yiyang.registry import repository as elders
from yiyang.registry.enums import ElderStatus
from yiyang.registry.models import Elder, ElderCategory
from yiyang.services.models import ServiceOrder
from yiyang.services.permissions import order_scope
from yiyang.services.repository import day_bounds


@dataclass(frozen=True)
class Overview:
    open_alerts: int
    devices_offline: int
    orders_today: int
    elders: int
    by_household: dict[str, int]
    by_category: dict[str, int]


def overview(session: Session, actor: Actor, day: dt.date) -> Overview:
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
        elders=sum(households.values()),
        by_household={str(k): int(v) for k, v in households.items()},
        by_category={str(k): int(v) for k, v in categories.items()},
    )
