"""Saying an elder is away or back, planning and calling off absences (flush only: the request's
session commits, the Audited mixin writes the trail). The rule worker hears of each start and end
from the sweeper (``pipeline/transports/app.py``), never from here: the worker owns the rule
state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from yiyang.core.clock import local_zone
from yiyang.core.clock import now as clock_now
from yiyang.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Role
from yiyang.core.scoping import Actor
from yiyang.presence import repository, state
from yiyang.presence.models import Absence
from yiyang.presence.permissions import can_mark_away
from yiyang.presence.schemas import AbsenceCreate, AbsenceRead, AwayCreate, PresenceRead
from yiyang.registry.models import Elder
from yiyang.registry.service import access_elder

LONGEST = dt.timedelta(days=180)  # an absence planned or said longer than this is a typing slip


def said_as(actor: Actor) -> state.Said:
    if actor.role is Role.ELDER:
        return state.Said.ELDER
    if actor.role is Role.FAMILY:
        return state.Said.FAMILY
    return state.Said.STAFF


def access(session: Session, actor: Actor, elder_id: int, *, write: bool = False) -> Elder:
    """The elder if ``actor`` may read it (else 404); with ``write``, only if they may also say
    where the elder is (else 403)."""
    elder = access_elder(session, actor, elder_id)
    if write and not can_mark_away(actor, elder.region_path):
        raise Forbidden(_("Your role may not say where this elder is."))
    return elder


def _check_until(until: dt.datetime | None, start: dt.datetime) -> None:
    if until is None:
        return
    if until <= start:
        raise ValidationFailed(_("The return must be after the start."), field="until")
    if until - start > LONGEST:
        raise ValidationFailed(_("An absence can last at most 180 days."), field="until")


def _collision(live: Sequence[Absence], start: dt.datetime, until: dt.datetime | None) -> None:
    now = clock_now()
    other = state.collides(live, start, until, now)
    if other is None:
        return
    if state.is_open(other, now):
        raise Conflict(_("The elder is already marked as away."))
    raise ValidationFailed(
        _("Another absence is planned for that time; call it off first."), field="starts_at"
    )


def mark_away(session: Session, actor: Actor, elder_id: int, data: AwayCreate) -> Absence:
    """Away from now, maybe until a time."""
    elder = access(session, actor, elder_id, write=True)
    now = clock_now()
    _check_until(data.until, now)
    live = repository.live(session, actor, elder.id)
    _collision(live, now, data.until)
    return _add(session, actor, elder, now, data.until, data.note)


def plan(session: Session, actor: Actor, elder_id: int, data: AbsenceCreate) -> Absence:
    """An absence from a future time (the sweeper tells the engine when it begins)."""
    elder = access(session, actor, elder_id, write=True)
    now = clock_now()
    if data.starts_at <= now:
        raise ValidationFailed(_("A planned absence starts in the future."), field="starts_at")
    if data.starts_at - now > LONGEST:
        raise ValidationFailed(_("Plan at most 180 days ahead."), field="starts_at")
    _check_until(data.until, data.starts_at)
    _collision(repository.live(session, actor, elder.id), data.starts_at, data.until)
    return _add(session, actor, elder, data.starts_at, data.until, data.note)


def _add(
    session: Session,
    actor: Actor,
    elder: Elder,
    start: dt.datetime,
    until: dt.datetime | None,
    note: str,
) -> Absence:
    absence = Absence(
        elder_id=elder.id,
        region_path=elder.region_path,
        starts_at=start,
        until=until,
        note=note.strip(),
        recorded_by=actor.user_id,
        recorded_as=said_as(actor).value,
    )
    session.add(absence)
    session.flush()
    return absence


def mark_back(session: Session, actor: Actor, elder_id: int) -> Absence:
    """Back home: the open absence ends now."""
    elder = access(session, actor, elder_id, write=True)
    now = clock_now()
    away = state.current(repository.live(session, actor, elder.id), now)
    if away is None:
        raise Conflict(_("The elder is not marked as away."))
    assert isinstance(away, Absence)
    away.ended_at = now
    away.ended_by = actor.user_id
    away.ended_as = said_as(actor).value
    session.flush()
    return away


def cancel(session: Session, actor: Actor, absence_id: int) -> Absence:
    """Call off a planned absence before it begins (one begun ends with "back")."""
    absence = repository.get(session, actor, absence_id)
    if absence is None:
        raise NotFound(_("No such absence."))
    access(session, actor, absence.elder_id, write=True)
    if not state.is_planned(absence, clock_now()):
        raise Conflict(_("Only an absence still to begin can be called off."))
    absence.cancelled_at = clock_now()
    session.flush()
    return absence


def absences(session: Session, actor: Actor, elder_id: int) -> Sequence[Absence]:
    elder = access(session, actor, elder_id)
    return repository.of_elder(session, actor, elder.id)


@dataclass
class Presence:
    """What a page shows of one elder: the state, the absence on now, those planned, and
    whether the reader may change them."""

    elder_id: int
    text: str
    away: Absence | None = None
    planned: list[Absence] = field(default_factory=list)
    can_mark: bool = False
    today: str = ""  # the local date (the earliest return a date field offers)


def _presence(actor: Actor, elder: Elder, live: Sequence[Absence]) -> Presence:
    now = clock_now()
    away = state.current(live, now)
    coming = state.planned(live, now)
    return Presence(
        elder.id,
        state.status_text(away, coming, now, local_zone()),
        away if isinstance(away, Absence) else None,
        [a for a in coming if isinstance(a, Absence)],
        can_mark_away(actor, elder.region_path),
        now.astimezone(local_zone()).date().isoformat(),
    )


def presence(session: Session, actor: Actor, elder_id: int) -> Presence:
    elder = access(session, actor, elder_id)
    return _presence(actor, elder, repository.live_of(session, actor, [elder.id]))


def presence_of(session: Session, actor: Actor, elders: Sequence[Elder]) -> dict[int, Presence]:
    """The presence of elders the caller already read through the scope (a page of cards)."""
    live = repository.live_of(session, actor, [e.id for e in elders])
    return {e.id: _presence(actor, e, [a for a in live if a.elder_id == e.id]) for e in elders}


def read(p: Presence) -> PresenceRead:
    return PresenceRead(
        elder_id=p.elder_id,
        away=p.away is not None,
        absence=AbsenceRead.model_validate(p.away) if p.away is not None else None,
        planned=[AbsenceRead.model_validate(a) for a in p.planned],
        text=p.text,
    )
