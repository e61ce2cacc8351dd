"""The staff elder page's presence panel (HTMX): where the elder is, away now (maybe until a
time), back, plan and call off an absence. Loaded into the registry's elder page by its own
request (``/elders/{id}/presence``), so the registry imports nothing of presence. The elder's
and family's buttons are on their own page (``/my-services``, services/pages.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from yiyang.core.auth import require
from yiyang.core.clock import local_zone
from yiyang.core.db import DB
from yiyang.core.errors import ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.presence import service
from yiyang.presence.schemas import AbsenceCreate, AwayCreate
from yiyang.web.actions import run_action
from yiyang.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_ELDERS))]
Note = Annotated[str, Form(max_length=200)]
When = Annotated[str, Form(max_length=32)]


def local_time(value: str, field: str) -> dt.datetime | None:
    """A ``datetime-local`` field (local time, no offset) as an aware time; empty: None."""
    if not value.strip():
        return None
    try:
        at = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(_("Enter a date and time."), field=field) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=local_zone())
    return at.astimezone(dt.UTC)


def _panel(request: Request, actor: Actor, session: DB, elder_id: int, error: str = "") -> Response:
    return render(
        request,
        "presence/_panel.html",
        p=service.presence(session, actor, elder_id),
        error=error,
    )


def _act(
    request: Request, actor: Actor, session: DB, elder_id: int, op: Callable[[], object]
) -> Response:
    """Run the action; an HTMX form gets the panel again (with the refusal, if any), a plain
    form goes back to the elder's page."""
    refused = run_action(session, op)
    if request.headers.get("hx-request") == "true":
        return _panel(request, actor, session, elder_id, refused.message if refused else "")
    return RedirectResponse(f"/elders/{elder_id}#presence", status_code=303)


@router.get("/elders/{elder_id}/presence")
def presence_panel(request: Request, actor: Viewer, session: DB, elder_id: Id) -> Response:
    return _panel(request, actor, session, elder_id)


@router.post("/elders/{elder_id}/presence/away")
def away_now(
    request: Request,
    actor: Viewer,
    session: DB,
    elder_id: Id,
    until: When = "",
    note: Note = "",
) -> Response:
    def op() -> object:
        data = AwayCreate(until=local_time(until, "until"), note=note)
        return service.mark_away(session, actor, elder_id, data)

    return _act(request, actor, session, elder_id, op)


@router.post("/elders/{elder_id}/presence/back")
def back_home(request: Request, actor: Viewer, session: DB, elder_id: Id) -> Response:
    return _act(
        request, actor, session, elder_id, lambda: service.mark_back(session, actor, elder_id)
    )


@router.post("/elders/{elder_id}/presence/plan")
def plan_absence(
    request: Request,
    actor: Viewer,
    session: DB,
    elder_id: Id,
    starts_at: When = "",
    until: When = "",
    note: Note = "",
) -> Response:
    def op() -> object:
        start = local_time(starts_at, "starts_at")
        if start is None:
            raise ValidationFailed(_("Enter when the absence begins."), field="starts_at")
        data = AbsenceCreate(starts_at=start, until=local_time(until, "until"), note=note)
        return service.plan(session, actor, elder_id, data)

    return _act(request, actor, session, elder_id, op)


@router.post("/elders/{elder_id}/presence/cancel/{absence_id}")
def cancel_absence(
    request: Request, actor: Viewer, session: DB, elder_id: Id, absence_id: Id
) -> Response:
    return _act(
        request, actor, session, elder_id, lambda: service.cancel(session, actor, absence_id)
    )
