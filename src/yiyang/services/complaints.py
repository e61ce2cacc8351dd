"""Complaints about a service: received → investigating → resolved, each step with a deadline
(accept within one day, answer within seven) that the lists show as overdue."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from yiyang.core.clock import now
from yiyang.core.errors import Conflict, Forbidden, NotFound
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.services import repository as repo
from yiyang.services.enums import LABELS, ComplaintState
from yiyang.services.models import Complaint
from yiyang.services.orders import get_order
from yiyang.services.permissions import complaint_scope
from yiyang.services.schemas import ComplaintCreate

RESPOND_WITHIN = dt.timedelta(days=1)
RESOLVE_WITHIN = dt.timedelta(days=7)

NEXT = {
    "investigate": (ComplaintState.RECEIVED, ComplaintState.INVESTIGATING),
    "resolve": (ComplaintState.INVESTIGATING, ComplaintState.RESOLVED),
}


def open_complaint(session: Session, actor: Actor, data: ComplaintCreate) -> Complaint:
    if not actor.can(Perm.PLACE_ORDERS):
        raise Forbidden(_("Your role may not do this."))
    order = get_order(session, actor, data.order_id)
    at = now()
    complaint = Complaint(
        order_id=order.id,
        elder_id=order.elder_id,
        region_path=order.region_path,
        provider_id=order.provider_id,
        category=data.category,
        description=data.description,
        opened_by=actor.user_id,
        opened_by_name=actor.display_name,
        opened_at=at,
        respond_by=at + RESPOND_WITHIN,
        due_at=at + RESOLVE_WITHIN,
        state=ComplaintState.RECEIVED.value,
    )
    session.add(complaint)
    session.flush()
    return complaint


def access_complaint(session: Session, actor: Actor, complaint_id: int) -> Complaint:
    from sqlalchemy import select

    found = session.scalar(
        select(Complaint).where(Complaint.id == complaint_id, complaint_scope(actor))
    )
    if found is None:
        raise NotFound(_("No such complaint."))
    return found


def advance(session: Session, actor: Actor, complaint_id: int, step: str, text: str) -> Complaint:
    if not actor.can(Perm.HANDLE_COMPLAINTS):
        raise Forbidden(_("Your role may not do this."))
    complaint = access_complaint(session, actor, complaint_id)
    source, target = NEXT[step]
    if complaint.state != source:
        raise Conflict(
            _("This complaint is %(state)s.", state=_(LABELS[complaint.state])), code="wrong_state"
        )
    complaint.state = target.value
    if target is ComplaintState.INVESTIGATING:
        complaint.investigating_at = now()
        complaint.handler_name = actor.display_name
    else:
        complaint.resolved_at = now()
        complaint.resolution = text
    session.flush()
    return complaint


def overdue(c: Complaint, at: dt.datetime) -> bool:
    """Past its deadline for the step it is waiting on."""
    if c.state == ComplaintState.RECEIVED:
        return at > c.respond_by
    if c.state == ComplaintState.INVESTIGATING:
        return at > c.due_at
    return c.resolved_at is not None and c.resolved_at > c.due_at


def listing(session: Session, actor: Actor, state: str = "") -> list[tuple[Complaint, bool]]:
    at = now()
    return [(c, overdue(c, at)) for c in repo.complaints(session, actor, state)]
