"""Alert pages: the scoped list and an alert with its trail and lifecycle actions (the live
operator console is built on these in the console issue); the alarm rule settings of a region
and of one elder (issue #19), for those who may set them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.alarms import describe, repository, service, settings
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
from yiyang.core.errors import ValidationFailed
from yiyang.core.i18n import N_, gettext
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.regions import repository as regions
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
    ),
    NavEntry("rules", "/rule-settings", N_("Alarm rules"), needs(Perm.MANAGE_RULES), 45),
)
register_globals(
    explain=describe.explain,
    alert_title=describe.title,
    trail_label=describe.trail_label,
    STATE_LABELS=STATE_LABELS,
    SEVERITY_LABELS=SEVERITY_LABELS,
    OUTCOME_LABELS=OUTCOME_LABELS,
    # a unit or label as shown ("%" must not go through the templates' formatting gettext)
    rule_text=lambda text: gettext(text) if text else "",
    SENSITIVITY_LABELS={
        "low": N_("low: waits longer"),
        "normal": N_("normal"),
        "high": N_("high: sooner"),
    },
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


# -- alarm rule settings (issue #19): a region's, an elder's ---------------------------------

RuleManager = Annotated[Actor, Depends(require(Perm.MANAGE_RULES))]


def _settings_page(
    request: Request,
    session: Session,
    actor: Actor,
    layers: list[tuple[str, Any]],
    own: int,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    typed: Mapping[str, Any] | None = None,
    **context: Any,
) -> Response:
    rows = settings.param_rows(layers, own)
    note = typed.get("note") if typed is not None else None
    if note is None:
        elder = context.get("elder")
        row = (
            repository.settings_row(session, elder_id=elder.id)
            if elder is not None
            else repository.settings_row(session, region_path=context.get("region_path"))
        )
        note = row.note if row else ""
    return render(
        request,
        "alarms/rule_settings.html",
        status_code=status_code,
        rows=rows,
        typed=typed,
        errors=errors or {},
        note=note or "",
        region_names=repository.region_names(session, [path for path, _layer in layers]),
        **context,
    )


@router.get("/rule-settings")
def region_rules_page(
    request: Request, actor: RuleManager, session: DB, region: str = "", saved: bool = False
) -> Response:
    path = settings.check_region(session, actor, region or actor.region_path)
    layers, own = settings.region_layers_for_page(session, path)
    return _settings_page(
        request,
        session,
        actor,
        layers,
        own,
        region_path=path,
        saved=saved,
        regions=regions.visible(session, actor),
        action=f"/rule-settings?{urlencode({'region': path})}",
    )


@router.post("/rule-settings")
async def region_rules_save(
    request: Request, actor: RuleManager, session: DB, region: str = ""
) -> Response:
    path = settings.check_region(session, actor, region or actor.region_path)
    form = await request.form()
    params, errors = settings.form_params(form)
    note = str(form.get("note") or "").strip() or None
    if not errors:
        try:
            settings.set_region_settings(session, actor, path, params, note)
            return RedirectResponse(
                f"/rule-settings?{urlencode({'region': path, 'saved': 1})}", status_code=303
            )
        except ValidationFailed as exc:
            errors = settings.errors_by_param(exc)
    layers, own = settings.region_layers_for_page(session, path)
    return _settings_page(
        request,
        session,
        actor,
        layers,
        own,
        status_code=422,
        errors=errors,
        typed=dict(form),
        region_path=path,
        saved=False,
        regions=regions.visible(session, actor),
        action=f"/rule-settings?{urlencode({'region': path})}",
    )


@router.get("/elders/{elder_id}/rule-settings")
def elder_rules_page(
    request: Request, actor: RuleManager, session: DB, elder_id: Id, saved: bool = False
) -> Response:
    elder = settings.access_elder(session, actor, elder_id)
    layers, own = settings.elder_layers_for_page(session, elder)
    return _settings_page(
        request,
        session,
        actor,
        layers,
        own,
        elder=elder,
        saved=saved,
        verdicts=settings.current_feedback(session, elder),
        action=f"/elders/{elder.id}/rule-settings",
    )


@router.post("/elders/{elder_id}/rule-settings")
async def elder_rules_save(
    request: Request, actor: RuleManager, session: DB, elder_id: Id
) -> Response:
    elder = settings.access_elder(session, actor, elder_id)
    form = await request.form()
    params, errors = settings.form_params(form)
    note = str(form.get("note") or "").strip() or None
    if not errors:
        try:
            settings.set_elder_settings(session, actor, elder.id, params, note)
            return RedirectResponse(f"/elders/{elder.id}/rule-settings?saved=1", status_code=303)
        except ValidationFailed as exc:
            errors = settings.errors_by_param(exc)
    layers, own = settings.elder_layers_for_page(session, elder)
    return _settings_page(
        request,
        session,
        actor,
        layers,
        own,
        status_code=422,
        errors=errors,
        typed=dict(form),
        elder=elder,
        saved=False,
        verdicts=settings.current_feedback(session, elder),
        action=f"/elders/{elder.id}/rule-settings",
    )
