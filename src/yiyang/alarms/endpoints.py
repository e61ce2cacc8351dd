"""JSON API: alerts (scoped list, detail with trail, lifecycle) and rule settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.alarms import describe, limits, repository, rules, service, settings
from yiyang.alarms.enums import AlertState
from yiyang.alarms.models import Alert, AlertEvent
from yiyang.alarms.repository import filtered
from yiyang.alarms.schemas import (
    AlertDetail,
    AlertRead,
    AlertTransition,
    EffectiveSettingsRead,
    RuleSettingsRead,
    RuleSettingsUpdate,
    SafeRangeRead,
)
from yiyang.core.auth import require
from yiyang.core.clock import now
from yiyang.core.db import DB
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id, Offset, Text
from yiyang.registry import repository as elders

router = APIRouter(prefix="/api", tags=["alerts"])
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_ALERTS))]
Handler = Annotated[Actor, Depends(require(Perm.HANDLE_ALERTS))]
RuleManager = Annotated[Actor, Depends(require(Perm.MANAGE_RULES))]


def to_read(alert: Alert, shown: bool) -> AlertRead:
    """An alert for a reader; ``shown``: its figures may be shown to them
    (``describe.figures_shown``: the ``elder.details_shared`` and ``elder.monitored`` rules)."""
    out = AlertRead.model_validate(alert)
    out.detail = describe.shown_detail(alert.detail, shown)
    out.explanation = describe.explain(alert.alert_type, out.detail)
    return out


def to_reads(session: Session, actor: Actor, alerts: Sequence[Alert]) -> list[AlertRead]:
    ids = {a.elder_id for a in alerts}
    shared = elders.shared_ids(session, actor, ids)
    monitored = elders.monitored_ids(session, actor, ids & shared)
    return [
        to_read(a, describe.figures_shown(a.elder_id in shared, a.elder_id in monitored))
        for a in alerts
    ]


@router.get("/alerts", response_model=list[AlertRead], summary="Alerts in your area")
def list_alerts(
    actor: Viewer,
    session: DB,
    state: Annotated[list[AlertState] | None, Query()] = None,
    open_only: bool = False,
    severity: Text | None = None,
    alert_type: Text | None = None,
    elder_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[Offset, Query()] = 0,
) -> list[AlertRead]:
    query = filtered(
        actor,
        states=state,
        open_only=open_only,
        severity=severity,
        alert_type=alert_type,
        elder_id=elder_id,
    )
    rows = session.scalars(query.limit(limit).offset(offset)).all()
    return to_reads(session, actor, rows)


def _detail(session: Session, actor: Actor, alert: Alert) -> AlertDetail:
    trail = session.scalars(
        select(AlertEvent)
        .where(AlertEvent.alert_id == alert.id)
        .order_by(AlertEvent.at, AlertEvent.id)
    ).all()
    (read,) = to_reads(session, actor, [alert])
    return AlertDetail(**read.model_dump(), trail=trail)


@router.get("/alerts/{alert_id}", response_model=AlertDetail, summary="An alert with its trail")
def get_alert(actor: Viewer, session: DB, alert_id: Id) -> AlertDetail:
    return _detail(session, actor, service.get_alert(session, actor, alert_id))


@router.post(
    "/alerts/{alert_id}/transition",
    response_model=AlertDetail,
    summary="Acknowledge, handle, dispatch or resolve",
)
def transition(actor: Handler, session: DB, alert_id: Id, data: AlertTransition) -> AlertDetail:
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
    return _detail(session, actor, alert)


@router.get(
    "/rule-settings/defaults",
    response_model=rules.Params,
    summary="The code defaults of every rule parameter",
)
def rule_defaults(actor: Viewer) -> JSONResponse:
    # Answered as declared, unvalidated: a default such as ``geofence_radius_m = 500`` stays
    # ``500`` (validating through the model would make it ``500.0``).
    return JSONResponse(jsonable_encoder(rules.DEFAULTS.model_dump()))


@router.get(
    "/rule-settings/limits",
    response_model=list[SafeRangeRead],
    summary="The safe range of every rule parameter (the table in docs/devices.md)",
)
def rule_limits(actor: Viewer) -> list[SafeRangeRead]:
    return [SafeRangeRead(**row) for row in limits.rows(rules.Params, rules.DEFAULTS)]


@router.get(
    "/rule-settings/elder/{elder_id}",
    response_model=EffectiveSettingsRead,
    summary="An elder's overrides and the parameters in effect",
)
def get_elder_settings(actor: Viewer, session: DB, elder_id: Id) -> EffectiveSettingsRead:
    elder = settings.access_elder(session, actor, elder_id)
    row = repository.settings_row(session, elder_id=elder.id)
    params, rejected = settings.effective(session, elder)
    return EffectiveSettingsRead(
        elder_id=elder.id,
        params=row.params if row else {},
        note=row.note if row else None,
        effective=params.model_dump(mode="json"),
        rejected=rejected,
    )


@router.put(
    "/rule-settings/elder/{elder_id}",
    response_model=RuleSettingsRead,
    summary="Set an elder's rule parameters (overrides, within the safe ranges)",
)
def put_elder_settings(
    actor: RuleManager, session: DB, elder_id: Id, data: RuleSettingsUpdate
) -> RuleSettingsRead:
    row = settings.set_elder_settings(session, actor, elder_id, data.params, data.note)
    return RuleSettingsRead.model_validate(row)


@router.put(
    "/rule-settings/region",
    response_model=RuleSettingsRead,
    summary="Set defaults for a district, street or community (within the safe ranges)",
)
def put_region_settings(
    actor: RuleManager,
    session: DB,
    data: RuleSettingsUpdate,
    region_path: Annotated[str | None, Query(max_length=255)] = None,
) -> RuleSettingsRead:
    path = region_path or actor.region_path
    row = settings.set_region_settings(session, actor, path, data.params, data.note)
    return RuleSettingsRead.model_validate(row)
