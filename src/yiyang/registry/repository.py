"""All elder queries. Every one starts from ``readable(actor)`` (region/role scope)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from yiyang.core.clock import today_local
from yiyang.core.scoping import Actor, elder_scope, row_rule, within_path
from yiyang.regions.models import Region
from yiyang.registry.enums import ElderStatus
from yiyang.registry.models import Elder, ElderCategory, ElderStatusChange
from yiyang.registry.permissions import (
    DETAILS_SHARED,
    MONITORED,
    can_view_medical,
    sees_full_identity,
)
from yiyang.registry.schemas import ElderFilters

COUNT_CAP = 1_000  # beyond this the list says "1,000+" (counting further costs more than it tells)


def readable(actor: Actor) -> Select[Elder]:
    return select(Elder).where(elder_scope(actor))


def get_readable(session: Session, actor: Actor, elder_id: int) -> Elder | None:
    return session.scalar(readable(actor).where(Elder.id == elder_id))


def _birth_bounds(age_min: int | None, age_max: int | None) -> list[Any]:
    today = today_local()
    conds: list[Any] = []
    if age_min is not None:  # born on or before today minus age_min years
        conds.append(Elder.birth_date <= _years_ago(today, age_min))
    if age_max is not None:  # older than age_max+1 excluded
        conds.append(Elder.birth_date > _years_ago(today, age_max + 1))
    return conds


def _years_ago(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


_DIGITS = re.compile(r"^\d+[Xx]?$")


def _free_text(q: str, *, full_identity: bool = True) -> Any:
    """One search box: name prefix, the last four of an ID, a phone or a whole ID number. For a
    role that sees IDs masked a whole number finds by its last four only: an exact match would
    confirm or refute a guessed number, one query per candidate."""
    q = q.strip()
    if len(q) == 18 and _DIGITS.match(q):
        if not full_identity:
            return Elder.id_tail == q[-4:].upper()
        return Elder.id_number == q.upper()
    if len(q) == 4 and _DIGITS.match(q):
        # The ID tail only: a phone-suffix match cannot use an index and would scan the city.
        return Elder.id_tail == q.upper()
    if q.isdigit() and len(q) >= 7:
        return or_(Elder.mobile_phone == q, Elder.home_phone == q)
    return Elder.name.startswith(q, autoescape=True)


def filtered(actor: Actor, f: ElderFilters, region_path: str | None) -> Select[Elder]:
    stmt = readable(actor)
    conds: list[Any] = []
    if f.q:
        conds.append(_free_text(f.q, full_identity=sees_full_identity(actor)))
        if f.q.strip().isdigit() and len(f.q.strip()) >= 7:  # a phone: as for ``phone``
            conds.append(row_rule(DETAILS_SHARED)(actor, Elder.id))
    if f.name:
        conds.append(Elder.name.startswith(f.name.strip(), autoescape=True))
    if f.id_tail:
        conds.append(Elder.id_tail == f.id_tail.upper())
    if f.phone:
        phone = re.sub(r"\D", "", f.phone)
        conds.append(or_(Elder.mobile_phone == phone, Elder.home_phone == phone))
        # a phone the reader may not see must not be confirmed by a search either
        conds.append(row_rule(DETAILS_SHARED)(actor, Elder.id))
    if region_path:
        conds.append(within_path(Elder.region_path, region_path))
    if f.category:
        conds.append(
            exists().where(
                ElderCategory.elder_id == Elder.id,
                ElderCategory.category.in_([c.value for c in f.category]),
            )
        )
    if f.household:
        conds.append(Elder.household == f.household.value)
    if isinstance(f.status, ElderStatus):
        conds.append(Elder.status == f.status.value)
    if f.dementia is not None and can_view_medical(actor):
        # Dementia is medical: the filter applies only for a role that sees the medical profile,
        # and only among elders whose details it is shown (the sharing consent), as for
        # ``phone``; otherwise true and false alike would confirm what the detail hides.
        # The bare column (not "IS true"), so PostgreSQL matches the partial dementia indexes.
        conds.append(Elder.dementia if f.dementia else not_(Elder.dementia))
        conds.append(row_rule(DETAILS_SHARED)(actor, Elder.id))
    conds.extend(_birth_bounds(f.age_min, f.age_max))
    return stmt.where(and_(*conds)) if conds else stmt


_SORTS: dict[str, Any] = {
    "name": (Elder.name.asc(), Elder.id.asc()),
    "-name": (Elder.name.desc(), Elder.id.desc()),
    # Directions match the (birth_date, id) index read forwards or backwards.
    "age": (Elder.birth_date.desc(), Elder.id.desc()),
    "-age": (Elder.birth_date.asc(), Elder.id.asc()),
    # Ids grow with registration, so "newest" is the primary key read backwards.
    "created": (Elder.id.asc(),),
    "-created": (Elder.id.desc(),),
    "id": (Elder.id.asc(),),
    "-id": (Elder.id.desc(),),
}


def _age_today() -> Any:
    """Age in whole years today, in SQL (PostgreSQL and SQLite)."""
    today = today_local()
    born = func.extract("year", Elder.birth_date)
    day_of_year = func.extract("month", Elder.birth_date) * 100 + func.extract(
        "day", Elder.birth_date
    )
    return today.year - born - case((day_of_year > today.month * 100 + today.day, 1), else_=0)


def _order(actor: Actor, sort: str) -> tuple[Any, ...]:
    """The sort; for a role that sees IDs masked, "age" orders by age in years and then by
    registration. Ordered by the exact birth date, an elder's rank among those of one age
    would date the birthday to within days in a large district (the ages beside the ranks
    anchor it), and that is what the masked ID hides."""
    if sort in ("age", "-age") and not sees_full_identity(actor):
        age = _age_today()
        return (age.asc(), Elder.id.desc()) if sort == "age" else (age.desc(), Elder.id.asc())
    return tuple(_SORTS[sort])


def search(
    session: Session, actor: Actor, f: ElderFilters, region_path: str | None = None
) -> tuple[Sequence[Elder], int, bool]:
    """One page, plus the count (capped at COUNT_CAP; the flag says whether it was capped)."""
    base = filtered(actor, f, region_path)
    page = session.scalars(
        base.order_by(*_order(actor, f.sort)).limit(f.page_size).offset((f.page - 1) * f.page_size)
    ).all()
    if f.page == 1 and len(page) < f.page_size:
        return page, len(page), False
    capped = base.with_only_columns(Elder.id).limit(COUNT_CAP + 1).subquery()
    total = session.scalar(select(func.count()).select_from(capped)) or 0
    return page, min(total, COUNT_CAP), total > COUNT_CAP


def iter_filtered(
    session: Session, actor: Actor, f: ElderFilters, region_path: str | None, chunk: int = 2000
) -> Iterator[Elder]:
    """Stream every matching elder (export), in id order, keyset-paged."""
    base = filtered(actor, f, region_path)
    last = 0
    while True:
        rows = session.scalars(base.where(Elder.id > last).order_by(Elder.id).limit(chunk)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        session.expunge_all()


def region_names(session: Session, ids: set[int]) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    rows = session.execute(select(Region.id, Region.code, Region.name).where(Region.id.in_(ids)))
    return {rid: (code, name) for rid, code, name in rows}


def status_history(session: Session, elder_id: int) -> Sequence[ElderStatusChange]:
    return session.scalars(
        select(ElderStatusChange)
        .where(ElderStatusChange.elder_id == elder_id)
        .order_by(ElderStatusChange.at.desc(), ElderStatusChange.id.desc())
    ).all()


def by_id_numbers(session: Session, numbers: Sequence[str]) -> Sequence[Elder]:
    """Unscoped on purpose: the importer must see that an ID already exists elsewhere, to refuse
    it, without ever returning that elder to the caller."""
    return session.scalars(select(Elder).where(Elder.id_number.in_(numbers))).all()


def system_rows(session: Session, elder_ids: Sequence[int], *columns: Any) -> list[Any]:
    """A system read for the alarm pipeline (no user): the named columns of these elders. What
    it returns feeds rules and notification texts; it is never shown to a user unscoped."""
    out: list[Any] = []
    ids = list(elder_ids)
    for i in range(0, len(ids), 1000):
        out.extend(
            session.execute(select(Elder.id, *columns).where(Elder.id.in_(ids[i : i + 1000])))
        )
    return out


def system_entitlement_rows(session: Session) -> Iterator[Any]:
    """A system read for the monthly subsidy run (no user): every active elder's id, region,
    care level and categories — what policies decide entitlement by. Never shown to a user."""
    cats: dict[int, list[str]] = {}
    for elder_id, category in session.execute(
        select(ElderCategory.elder_id, ElderCategory.category)
    ):
        cats.setdefault(elder_id, []).append(category)
    rows = session.execute(
        select(Elder.id, Elder.region_path, Elder.care_level)
        .where(Elder.status == ElderStatus.ACTIVE)
        .order_by(Elder.id)
        .execution_options(yield_per=10_000)
    )
    for elder_id, path, level in rows:
        yield elder_id, path, level, cats.get(elder_id, [])


def shared_ids(session: Session, actor: Actor, elder_ids: set[int]) -> set[int]:
    """Of these elders, those whose private details ``actor`` may see (the
    ``elder.details_shared`` rule), for rows that carry them (alerts, orders, device messages).
    The caller has scoped the rows already."""
    if not elder_ids:
        return set()
    return set(
        session.scalars(
            select(Elder.id).where(
                Elder.id.in_(elder_ids), row_rule(DETAILS_SHARED)(actor, Elder.id)
            )
        )
    )


def monitored_ids(session: Session, actor: Actor, elder_ids: set[int]) -> set[int]:
    """Of these elders, those whose monitoring readings may be shown (the ``elder.monitored``
    rule: the health-monitoring consent in force)."""
    if not elder_ids:
        return set()
    return set(
        session.scalars(
            select(Elder.id).where(Elder.id.in_(elder_ids), row_rule(MONITORED)(actor, Elder.id))
        )
    )


def system_unmonitored(session: Session, elder_ids: Sequence[int]) -> set[int]:
    """A system read for the rule worker (no user): of these elders, those without the
    health-monitoring consent in force, read fresh each batch so that a withdrawal takes effect
    with its commit."""
    out: set[int] = set()
    ids = list(elder_ids)
    for i in range(0, len(ids), 1000):
        out.update(
            session.scalars(
                select(Elder.id).where(
                    Elder.id.in_(ids[i : i + 1000]), Elder.consent_health_monitoring.is_(False)
                )
            )
        )
    return out
