"""Dispatch: the provider's caregivers as the matcher (``services/matching.py``, pure) sees
them, ranked suggestions for an order, and assigning a caregiver (refused on a hard rule,
allowed with a note on a soft one)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from yiyang.core.clock import now, to_local
from yiyang.core.errors import ValidationFailed
from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _
from yiyang.core.scoping import Actor
from yiyang.services import matching
from yiyang.services import repository as repo
from yiyang.services.models import Caregiver, ServiceItem, ServiceOrder
from yiyang.services.orders import get_order, move

ACCEPT_WINDOW = dt.timedelta(minutes=30)  # a caregiver answers an assignment within this


def _job(order: ServiceOrder, item: ServiceItem) -> matching.Job:
    return matching.Job(
        start=to_local(order.scheduled_at),
        minutes=order.booked_minutes,
        skill=item.required_skill,
        region_path=order.region_path,
        lat=order.home_lat,
        lon=order.home_lon,
    )


def candidates_for(
    session: Session,
    order: ServiceOrder,
    item: ServiceItem,
    *,
    prefilter: bool = True,
    bookings: bool = True,
) -> list[matching.Candidate]:
    """The provider's caregivers as the matcher sees them, with that day's bookings. With
    ``prefilter`` the database first drops those without the skill or the area (the hard
    rules the matcher would apply anyway)."""
    day = to_local(order.scheduled_at).date()
    if prefilter:
        staff = repo.candidates(
            session, order.provider_id, skill=item.required_skill, region_path=order.region_path
        )
    else:
        staff = repo.candidates(session, order.provider_id)
    ids = [c.id for c in staff]
    certs = repo.certificates(session, ids)
    busy: dict[int, list[Any]] = {}
    load: dict[int, int] = {}
    if bookings:
        end = order.scheduled_at + dt.timedelta(minutes=order.booked_minutes)
        busy, load = repo.bookings(
            session,
            order.provider_id,
            day,
            exclude_order=order.id,
            caregiver_ids=ids,
            before=end + matching.TRAVEL_BUFFER,
        )
    out = []
    for c in staff:
        out.append(
            matching.Candidate(
                id=c.id,
                name=c.name,
                skills=matching.valid_skills(c.skills, certs.get(c.id, {}), day),
                region_paths=tuple(c.areas),
                work_days=frozenset(c.work_days),
                work_start=c.work_start,
                work_end=c.work_end,
                home_lat=c.home_lat,
                home_lon=c.home_lon,
                max_jobs=c.max_jobs_per_day,
                load=load.get(c.id, 0),
                # aware UTC times compare correctly with the local job start
                bookings=tuple(
                    matching.Booking(s, s + dt.timedelta(minutes=m), la, lo)
                    for s, m, la, lo in busy.get(c.id, [])
                ),
            )
        )
    return out


def suggest(
    session: Session, actor: Actor, order_id: int, limit: int = 10
) -> list[matching.Suggestion]:
    order = get_order(session, actor, order_id)
    item = session.get(ServiceItem, order.item_id)
    assert item is not None
    job = _job(order, item)
    ranked = matching.rank(job, candidates_for(session, order, item), limit=limit)
    if not ranked:
        # nobody has the skill and the area: say so over all the provider's staff (their
        # bookings cannot change that reason, so they are not read)
        everyone = candidates_for(session, order, item, prefilter=False, bookings=False)
        ranked = matching.rank(job, everyone, limit=limit)
    return ranked


EXCLUSIONS = {
    "skill": N_("lacks the skill or a valid certificate"),
    "area": N_("does not serve this area"),
    "day_off": N_("is off that day"),
    "hours": N_("is outside working hours"),
    "full": N_("has a full day"),
    "clash": N_("has another job at that time"),
}
HARD = {"skill", "area"}  # an assignment the rules exclude for these reasons is refused


def assign(
    session: Session, actor: Actor, order_id: int, caregiver_id: int, note: str | None = None
) -> ServiceOrder:
    order = get_order(session, actor, order_id, lock=True)
    caregiver = session.get(Caregiver, caregiver_id)
    if caregiver is None or caregiver.provider_id != order.provider_id or not caregiver.active:
        raise ValidationFailed(
            _("This caregiver does not work for the order's provider."), field="caregiver_id"
        )
    item = session.get(ServiceItem, order.item_id)
    assert item is not None
    ranked = matching.rank(
        _job(order, item),
        [c for c in candidates_for(session, order, item, prefilter=False) if c.id == caregiver_id],
        limit=1,
    )
    why = ranked[0].excluded if ranked else "skill"
    if why in HARD:
        raise ValidationFailed(
            _("This caregiver cannot take the job: %(why)s.", why=_(EXCLUSIONS[why])),
            field="caregiver_id",
        )
    if why and not note:
        raise ValidationFailed(
            _("%(why)s — give a note to assign anyway.", why=_(EXCLUSIONS[why])), field="note"
        )
    before_caregiver = order.caregiver_id
    order.caregiver_id = caregiver.id
    at = now()
    order.assigned_at = at
    order.accept_due_at = min(
        at + ACCEPT_WINDOW, max(at + dt.timedelta(minutes=5), order.scheduled_at)
    )
    order.escalated_at = None
    order.accepted_at = None
    move(
        session,
        actor,
        order,
        "assign",
        note,
        caregiver_id=caregiver.id,
        previous=before_caregiver,
        override=why,
    )
    return order
