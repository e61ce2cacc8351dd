"""Alert pages: the scoped list and an alert with its trail and lifecycle actions. (The live
operator console is built on these in the console issue.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from yiyang.alarms import describe, service
from yiyang.alarms.endpoints import to_reads
from yiyang.alarms.enums import (
    OUTCOME_LABELS,
    SEVERITY_LABELS,
    STATE_LABELS,
    TRANSITIONS,
    AlertState,
    Outcome,
)
from yiyang.alarms.models import AlertEvent
from yiyang.alarms.repository import filtered
from yiyang.core.auth import require
from yiyang.core.clock import now
from yiyang.core.db import DB
from yiyang.core.i18n import N_
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.registry import repository as elders
from yiyang.registry.permissions import shown_details
from yiyang.web.nav import NavEntry, needs, register_nav
from yiyang.web.templating import register_globals, render

router = APIRouter(include_in_schema=False)
register_nav(
    NavEntry(
        "alerts",
        "/alerts",
        N_("Alerts"),
        needs(
            Perm.VIEW_ALERTS, unless=(Perm.OWN_SERVICES,)
        ),  # the alert history is on their home page
        40,
    )
)
register_globals(
    explain=describe.explain,
    alert_title=describe.title,
    trail_label=describe.trail_label,
    STATE_LABELS=STATE_LABELS,
    SEVERITY_LABELS=SEVERITY_LABELS,
    OUTCOME_LABELS=OUTCOME_LABELS,
)


@router.get("/alerts")
def alerts_page(
    request: Request,
    actor: Annotated[Actor, Depends(require(Perm.VIEW_ALERTS))],
    session: DB,
    state: str = "open",
    severity: str = "",
) -> Response:
    query = filtered(
        actor,
        open_only=state == "open",
        states=[state] if state and state != "open" else None,
        severity=severity or None,
    )
    alerts = to_reads(session, actor, session.scalars(query.limit(200)).all())
    names = {
        e.id: e.name
        for e in session.scalars(
            elders.readable(actor).where(elders.Elder.id.in_({a.elder_id for a in alerts}))
        )
    }
    return render(
        request, "alerts/list.html", alerts=alerts, names=names, state=state, severity=severity
    )


@router.get("/alerts/{alert_id}")
def alert_page(
    request: Request,
    actor: Annotated[Actor, Depends(require(Perm.VIEW_ALERTS))],
    session: DB,
    alert_id: Id,
) -> Response:
    alert = service.get_alert(session, actor, alert_id)
    trail = session.scalars(
        select(AlertEvent)
        .where(AlertEvent.alert_id == alert.id)
        .order_by(AlertEvent.at, AlertEvent.id)
    ).all()
    elder = elders.get_readable(session, actor, alert.elder_id)
    private = shown_details(actor, elder) if elder is not None else None
    return render(
        request,
        "alerts/detail.html",
        alert=to_reads(session, actor, [alert])[0],
        trail=trail,
        elder=elder,
        private=private,
        next_states=sorted(TRANSITIONS[AlertState(alert.state)]),
        outcomes=list(Outcome),
    )


@router.post("/alerts/{alert_id}")
def alert_action(
    actor: Annotated[Actor, Depends(require(Perm.HANDLE_ALERTS))],
    session: DB,
    alert_id: Id,
    state: Annotated[AlertState, Form()],
    version: Annotated[int, Form()],
    outcome: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    alert = service.get_alert(session, actor, alert_id)
    service.transition(
        session,
        actor,
        alert,
        state,
        outcome=Outcome(outcome) if outcome else None,
        note=note or None,
        version=version,
        now=now(),
    )
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)
