"""Service queries. Every list starts from a scope in ``services.permissions``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, Select, Text, cast, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from yiyang.core.clock import local_zone, today_local
from yiyang.core.db import among
from yiyang.core.scoping import Actor
from yiyang.registry.models import Elder
from yiyang.services.enums import BUSY_STATES, OrderState
from yiyang.services.models import (
    Caregiver,
    Certificate,
    Complaint,
    Provider,
    Rating,
    ServiceItem,
    ServiceOrder,
)
from yiyang.services.permissions import complaint_scope, order_scope, provider_scope


def readable_orders(actor: Actor) -> Select[ServiceOrder]:
    return select(ServiceOrder).where(order_scope(actor))


def get_order(
    session: Session, actor: Actor, order_id: int, *, lock: bool = False
) -> ServiceOrder | None:
    stmt = readable_orders(actor).where(ServiceOrder.id == order_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=local_zone())
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


@dataclass(frozen=True)
class OrderFilters:
    state: str = ""
    day: dt.date | None = None
    caregiver_id: int | None = None
    flagged: bool = False
    elder_id: int | None = None
    # the board as it opens: from today on, and whatever earlier is still open (not months
    # of delivered history first)
    current: bool = False


OPEN_STATES = tuple(
    s.value
    for s in (
        OrderState.PLACED,
        OrderState.ASSIGNED,
        OrderState.ACCEPTED,
        OrderState.ON_THE_WAY,
        OrderState.IN_SERVICE,
        OrderState.COMPLETED,
    )
)


def board(session: Session, actor: Actor, f: OrderFilters, limit: int = 200) -> Sequence[Any]:
    """The orders board: orders in scope with the names a person needs, soonest first."""
    stmt = (
        select(
            ServiceOrder,
            Elder.name.label("elder_name"),
            ServiceItem.name.label("item_name"),
            ServiceItem.category.label("category"),
            Caregiver.name.label("caregiver_name"),
        )
        .join(Elder, Elder.id == ServiceOrder.elder_id)
        .join(ServiceItem, ServiceItem.id == ServiceOrder.item_id)
        .outerjoin(Caregiver, Caregiver.id == ServiceOrder.caregiver_id)
        .where(order_scope(actor))
    )
    if f.state:
        stmt = stmt.where(ServiceOrder.state == f.state)
    if f.day:
        lo, hi = day_bounds(f.day)
        stmt = stmt.where(ServiceOrder.scheduled_at >= lo, ServiceOrder.scheduled_at < hi)
    if f.caregiver_id:
        stmt = stmt.where(ServiceOrder.caregiver_id == f.caregiver_id)
    if f.elder_id:
        stmt = stmt.where(ServiceOrder.elder_id == f.elder_id)
    if f.flagged:
        stmt = stmt.where(func.json_array_length(ServiceOrder.flags) > 0)
    if f.current and not (f.state or f.day or f.flagged):
        since, _end = day_bounds(today_local())
        stmt = stmt.where(
            or_(ServiceOrder.scheduled_at >= since, ServiceOrder.state.in_(OPEN_STATES))
        )
    return session.execute(
        stmt.order_by(ServiceOrder.scheduled_at, ServiceOrder.id).limit(limit)
    ).all()


def trail(session: Session, order_id: int) -> Sequence[Any]:
    from yiyang.services.models import OrderEvent

    return session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
    ).all()


def caregiver_for_user(session: Session, user_id: int) -> Caregiver | None:
    return session.scalar(select(Caregiver).where(Caregiver.user_id == user_id))


def ancestors(path: str) -> list[str]:
    """ "/d/s/c/" → ["/d/", "/d/s/", "/d/s/c/"]: the region paths that cover ``path``."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def candidates(
    session: Session,
    provider_id: int,
    *,
    skill: str | None = None,
    region_path: str | None = None,
    ids: Sequence[int] | None = None,
) -> Sequence[Any]:
    """A provider's active caregivers as plain rows. With ``skill`` and ``region_path`` the
    database drops at once those who lack the skill or do not serve the area (a substring
    test on the JSON text: a caregiver's areas are region paths, so one of them must equal an
    ancestor of the job's path) — the rest of the rules run in Python on far fewer rows."""
    stmt = select(
        Caregiver.id,
        Caregiver.name,
        Caregiver.skills,
        Caregiver.areas,
        Caregiver.work_days,
        Caregiver.work_start,
        Caregiver.work_end,
        Caregiver.home_lat,
        Caregiver.home_lon,
        Caregiver.max_jobs_per_day,
    ).where(Caregiver.provider_id == provider_id, Caregiver.active)
    if skill:
        stmt = stmt.where(cast(Caregiver.skills, Text).contains(f'"{skill}"', autoescape=True))
    if region_path:
        areas = cast(Caregiver.areas, Text)
        stmt = stmt.where(
            or_(*(areas.contains(f'"{a}"', autoescape=True) for a in ancestors(region_path)))
        )
    if ids is not None:
        stmt = stmt.where(among(Caregiver.id, list(ids)))
    # Core execution: plain rows, none of the ORM's per-row bookkeeping (the hot path of dispatch)
    return session.connection().execute(stmt.order_by(Caregiver.id)).all()


def certificates(
    session: Session, caregiver_ids: Sequence[int]
) -> dict[int, dict[str, dt.date | None]]:
    out: dict[int, dict[str, dt.date | None]] = {}
    if not caregiver_ids:
        return out
    rows = session.connection().execute(
        select(Certificate.caregiver_id, Certificate.skill, Certificate.expires_on).where(
            among(Certificate.caregiver_id, list(caregiver_ids))
        )
    )
    for cid, skill, expires in rows:
        held = out.setdefault(cid, {})
        # the latest certificate for a skill counts (None: it never expires)
        known = held.get(skill, dt.date.min) if skill in held else dt.date.min
        if known is not None and (expires is None or expires > known):
            held[skill] = expires
    return out


def bookings(
    session: Session,
    provider_id: int,
    day: dt.date,
    exclude_order: int | None = None,
    caregiver_ids: Sequence[int] | None = None,
    before: dt.datetime | None = None,
) -> tuple[dict[int, list[Any]], dict[int, int]]:
    """Each caregiver's busy jobs that day — (start, minutes, lat, lon), only those starting
    before ``before`` when given — and how many busy jobs each has that day in all."""
    lo, hi = day_bounds(day)
    conds = [
        ServiceOrder.provider_id == provider_id,
        ServiceOrder.scheduled_at >= lo,
        ServiceOrder.scheduled_at < hi,
        ServiceOrder.caregiver_id.is_not(None),
        ServiceOrder.state.in_([s.value for s in BUSY_STATES]),
    ]
    if exclude_order is not None:
        conds.append(ServiceOrder.id != exclude_order)
    if caregiver_ids is not None:
        conds.append(among(ServiceOrder.caregiver_id, list(caregiver_ids)))
    conn = session.connection()  # Core: plain rows on the hot path of dispatch
    counts = {
        cid: int(n)
        for cid, n in conn.execute(
            select(ServiceOrder.caregiver_id, func.count())
            .where(*conds)
            .group_by(ServiceOrder.caregiver_id)
        )
        if cid is not None
    }
    stmt = select(
        ServiceOrder.caregiver_id,
        # the driver's datetime as is (no per-row conversion; SQLite's naive UTC fixed below)
        type_coerce(ServiceOrder.scheduled_at, DateTime(timezone=True)),
        ServiceOrder.booked_minutes,
        ServiceOrder.home_lat,
        ServiceOrder.home_lon,
    ).where(*conds)
    if before is not None:
        stmt = stmt.where(ServiceOrder.scheduled_at < before)
    out: dict[int, list[Any]] = {}
    for cid, start, minutes, lat, lon in conn.execute(stmt):
        assert cid is not None
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
        out.setdefault(cid, []).append((start, minutes, lat, lon))
    return out, counts


def rating_totals(
    session: Session, column: Any, subject_ids: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """(sum of stars, reviews) per provider or caregiver, in one grouped query."""
    if not subject_ids:
        return {}
    rows = session.execute(
        select(column, func.sum(Rating.stars), func.count())
        .where(among(column, list(subject_ids)))
        .group_by(column)
    )
    return {sid: (int(total), int(n)) for sid, total, n in rows}


def platform_mean(session: Session) -> float:
    mean = session.scalar(select(func.avg(Rating.stars)))
    return float(mean) if mean is not None else 4.0


def complaints(session: Session, actor: Actor, state: str = "") -> Sequence[Complaint]:
    stmt = select(Complaint).where(complaint_scope(actor))
    if state:
        stmt = stmt.where(Complaint.state == state)
    return session.scalars(stmt.order_by(Complaint.due_at, Complaint.id).limit(500)).all()


def orderable_items(
    session: Session, actor: Actor, region_path: str | None = None
) -> list[tuple[ServiceItem, str]]:
    """The active catalogue of active providers the actor may order from, with the provider's
    name; for an elder's ``region_path``, only providers serving that community."""
    rows = session.execute(
        select(ServiceItem, Provider.name, Provider.areas)
        .join(Provider, Provider.id == ServiceItem.provider_id)
        .where(ServiceItem.active, Provider.status == "active", provider_scope(actor))
        .order_by(Provider.name, ServiceItem.category, ServiceItem.id)
    ).all()
    return [
        (item, name)
        for item, name, areas in rows
        if region_path is None or any(region_path.startswith(a) for a in areas)
    ]
