"""JSON API of presence: away now (maybe until a time), back, plan and call off an absence,
list an elder's absences. Read: whoever may read the elder; write: the elder, their family and
staff who may edit the elder (``permissions``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.presence import service
from yiyang.presence.schemas import AbsenceCreate, AbsenceRead, AwayCreate, PresenceRead

router = APIRouter(prefix="/api", tags=["presence"])
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_ELDERS))]


@router.get(
    "/elders/{elder_id}/presence",
    response_model=PresenceRead,
    summary="Where the elder is by what was said: away or at home, absences planned",
)
def get_presence(actor: Viewer, session: DB, elder_id: Id) -> PresenceRead:
    return service.read(service.presence(session, actor, elder_id))


@router.get(
    "/elders/{elder_id}/absences",
    response_model=list[AbsenceRead],
    summary="The elder's absences, newest first",
)
def list_absences(actor: Viewer, session: DB, elder_id: Id) -> list[AbsenceRead]:
    return [AbsenceRead.model_validate(a) for a in service.absences(session, actor, elder_id)]


@router.post(
    "/elders/{elder_id}/away",
    response_model=AbsenceRead,
    status_code=201,
    summary="The elder is away from now, optionally until a time",
)
def mark_away(actor: Viewer, session: DB, elder_id: Id, data: AwayCreate) -> AbsenceRead:
    return AbsenceRead.model_validate(service.mark_away(session, actor, elder_id, data))


@router.post(
    "/elders/{elder_id}/back",
    response_model=AbsenceRead,
    summary="The elder is back home: the absence on now ends",
)
def mark_back(actor: Viewer, session: DB, elder_id: Id) -> AbsenceRead:
    return AbsenceRead.model_validate(service.mark_back(session, actor, elder_id))


@router.post(
    "/elders/{elder_id}/absences",
    response_model=AbsenceRead,
    status_code=201,
    summary="Plan an absence from a future time, optionally until a time",
)
def plan_absence(actor: Viewer, session: DB, elder_id: Id, data: AbsenceCreate) -> AbsenceRead:
    return AbsenceRead.model_validate(service.plan(session, actor, elder_id, data))


@router.post(
    "/absences/{absence_id}/cancel",
    response_model=AbsenceRead,
    summary="Call off a planned absence before it begins",
)
def cancel_absence(actor: Viewer, session: DB, absence_id: Id) -> AbsenceRead:
    return AbsenceRead.model_validate(service.cancel(session, actor, absence_id))
