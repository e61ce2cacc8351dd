"""JSON API: alerts (scoped list, detail with trail, lifecycle) and rule settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.alarms import describe, rules, service
from yiyang.alarms.enums import AlertState
from yiyang.alarms.models import Alert, AlertEvent, RuleSettings
from yiyang.alarms.repository import filtered
from yiyang.alarms.schemas import AlertDetail, AlertRead, RuleSettingsWrite, Transition
from yiyang.core.auth import require
from yiyang.core.clock import now
from yiyang.core.db import get_session
from yiyang.core.errors import ValidationFailed, field_errors
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor, region_scope_path
from yiyang.core.types import Id
from yiyang.registry import repository as elders

router = APIRouter(prefix="/api", tags=["alerts"])
DB = Annotated[Session, Depends(get_session, scope="function")]
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_ALERTS))]
Handler = Annotated[Actor, Depends(require(Perm.HANDLE_ALERTS))]


def to_read(alert: Alert) -> AlertRead:
    out = AlertRead.model_validate(alert)
    out.explanation = describe.explain(alert.alert_type, alert.detail)
    return out


@router.get("/alerts", response_model=list[AlertRead], summary="Alerts in your area")
def list_alerts(
    actor: Viewer,
    session: DB,
    state: Annotated[list[AlertState] | None, Query()] = None,
    open_only: bool = False,
    severity: str | None = None,
    alert_type: str | None = None,
    elder_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AlertRead]:
    query = filtered(
        actor,
        states=state,
        open_only=open_only,
        severity=severity,
        alert_type=alert_type,
        elder_id=elder_id,
    )
    rows = session.scalars(query.limit(limit).offset(offset))
    return [to_read(a) for a in rows]


def _detail(session: Session, alert: Alert) -> AlertDetail:
    trail = session.scalars(
        select(AlertEvent)
        .where(AlertEvent.alert_id == alert.id)
        .order_by(AlertEvent.at, AlertEvent.id)
    ).all()
    return AlertDetail(**to_read(alert).model_dump(), trail=trail)


@router.get("/alerts/{alert_id}", response_model=AlertDetail, summary="An alert with its trail")
def get_alert(actor: Viewer, session: DB, alert_id: Id) -> AlertDetail:
    return _detail(session, service.get_alert(session, actor, alert_id))


@router.post(
    "/alerts/{alert_id}/transition",
    response_model=AlertDetail,
    summary="Acknowledge, handle, dispatch or resolve",
)
def transition(actor: Handler, session: DB, alert_id: Id, data: Transition) -> AlertDetail:
    alert = service.get_alert(session, actor, alert_id)
    service.transition(
        session,
        actor,
        alert,
        data.state,
        outcome=data.outcome,
        note=data.note,
        version=data.version,
        now=now(),
    )
    return _detail(session, alert)


@router.get("/rule-settings/defaults", summary="The code defaults of every rule parameter")
def rule_defaults(actor: Viewer) -> dict[str, Any]:
    return rules.DEFAULTS.model_dump()


def _validated(params: dict[str, Any]) -> dict[str, Any]:
    try:
        rules.Params.model_validate(params)
    except ValidationError as exc:
        raise ValidationFailed(
            _("Some rule parameters are not valid."), errors=field_errors(exc.errors())
        ) from None
    return params


def _save(
    session: Session, where: Any, key: dict[str, Any], data: RuleSettingsWrite
) -> RuleSettings:
    """Create or replace one settings row (audited through the model)."""
    row = session.scalar(select(RuleSettings).where(where))
    if row is None:
        row = RuleSettings(**key, params={})
        session.add(row)
    row.params, row.note = _validated(data.params), data.note
    session.flush()
    return row


@router.put("/rule-settings/elder/{elder_id}", summary="Set an elder's rule parameters (overrides)")
def put_elder_settings(
    actor: Annotated[Actor, Depends(require(Perm.HANDLE_ALERTS))],
    session: DB,
    elder_id: Id,
    data: RuleSettingsWrite,
) -> dict[str, Any]:
    if elders.get_readable(session, actor, elder_id) is None:
        raise ValidationFailed(_("No such elder in your area."), field="elder_id")
    row = _save(session, RuleSettings.elder_id == elder_id, {"elder_id": elder_id}, data)
    return {"elder_id": elder_id, "params": row.params}


@router.put("/rule-settings/region", summary="Set defaults for a district, street or community")
def put_region_settings(
    actor: Annotated[Actor, Depends(require(Perm.MANAGE_RULES))],
    session: DB,
    data: RuleSettingsWrite,
    region_path: str | None = None,
) -> dict[str, Any]:
    path = region_path or actor.region_path
    if not path.startswith(region_scope_path(actor) or "\0"):
        raise ValidationFailed(_("That region is outside your area."), field="region_path")
    row = _save(session, RuleSettings.region_path == path, {"region_path": path}, data)
    return {"region_path": path, "params": row.params}
