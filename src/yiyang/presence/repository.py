"""Queries on absences, always through the ``presence.absences`` scope (the sweeper's look-up
of what is due, which acts for the system, is the one exception and says so)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from yiyang.core.scoping import Actor, row_rule
from yiyang.presence.models import Absence
from yiyang.presence.permissions import ABSENCES
from yiyang.presence.state import DELIVERY_WINDOW

RECENT = 50


def readable(actor: Actor) -> Select[Absence]:
    """Absences ``actor`` may read."""
    return select(Absence).where(row_rule(ABSENCES)(actor, Absence.elder_id, Absence.region_path))


def of_elder(session: Session, actor: Actor, elder_id: int) -> Sequence[Absence]:
    """The elder's latest absences, newest first."""
    return session.scalars(
        readable(actor)
        .where(Absence.elder_id == elder_id)
        .order_by(Absence.starts_at.desc(), Absence.id.desc())
        .limit(RECENT)
    ).all()


def get(session: Session, actor: Actor, absence_id: int) -> Absence | None:
    return session.scalar(readable(actor).where(Absence.id == absence_id))


def live(session: Session, actor: Actor, elder_id: int) -> Sequence[Absence]:
    """The elder's absences not over and not called off (open or planned), locked for a change
    (two taps of "away" at once make one absence)."""
    return session.scalars(
        readable(actor)
        .where(
            Absence.elder_id == elder_id,
            Absence.ended_at.is_(None),
            Absence.cancelled_at.is_(None),
        )
        .order_by(Absence.starts_at)
        .with_for_update()
    ).all()


def live_of(session: Session, actor: Actor, elder_ids: Sequence[int]) -> Sequence[Absence]:
    """Open or planned absences of several elders (a page of cards), one query."""
    return session.scalars(
        readable(actor).where(
            Absence.elder_id.in_(list(elder_ids) or [0]),
            Absence.ended_at.is_(None),
            Absence.cancelled_at.is_(None),
        )
    ).all()


def system_due(session: Session, now: dt.datetime) -> Sequence[Absence]:
    """For the sweeper (acting for the system, no actor): absences whose start, end or return
    time fell within the delivery window up to ``now``."""
    since = now - DELIVERY_WINDOW
    return session.scalars(
        select(Absence)
        .where(
            Absence.cancelled_at.is_(None),
            Absence.starts_at <= now,
            or_(
                Absence.starts_at >= since,
                Absence.ended_at >= since,
                (Absence.ended_at.is_(None) & (Absence.until >= since)),
            ),
        )
        .order_by(Absence.starts_at, Absence.id)
    ).all()
