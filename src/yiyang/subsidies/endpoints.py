"""Subsidy JSON API: policies, the month's allocation run, balances per elder and reports per
street/community. Scoped by role and region. (Settlement and statements: ``services.endpoints``.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.errors import ValidationFailed
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.registry.service import access_elder
from yiyang.subsidies import policies, reports, service
from yiyang.subsidies.schemas import (
    MONTH_PATTERN,
    BalanceRead,
    MonthOpened,
    PolicyCreate,
    PolicyRead,
    ReportRow,
    SettlementRun,
)

router = APIRouter(prefix="/api/subsidies", tags=["subsidies"])
Manager = Annotated[Actor, Depends(require(Perm.MANAGE_SUBSIDIES))]
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_SUBSIDIES))]


@router.get("/policies", summary="Subsidy policies applying in the caller's area")
def list_policies(actor: Viewer, session: DB) -> list[PolicyRead]:
    return [PolicyRead.model_validate(p) for p in policies.list_policies(session, actor)]


@router.post("/policies", status_code=201, summary="Create a subsidy policy of your district")
def create_policy(actor: Manager, session: DB, body: PolicyCreate) -> PolicyRead:
    errors = policies.check_terms(body)
    if errors:
        field = next(iter(errors))
        raise ValidationFailed(errors[field], field=field, fields=errors)
    return PolicyRead.model_validate(policies.create_policy(session, actor, body))


@router.post("/months/open", summary="Expire what does not carry over; allocate the month")
def open_month(actor: Manager, session: DB, body: SettlementRun) -> MonthOpened:
    run = service.open_month(session, body.period)
    return MonthOpened(
        period=run.period,
        allocations=run.allocations,
        expiries=run.expiries,
        allocated=run.allocated,
        expired=run.expired,
    )


@router.get("/elders/{elder_id}/balances", summary="An elder's subsidy balances")
def balances(actor: Viewer, session: DB, elder_id: Id) -> list[BalanceRead]:
    elder = access_elder(session, actor, elder_id)
    return [BalanceRead(**b) for b in reports.elder_balances(session, elder.id)]


@router.get("/report", summary="Use and balance per street (depth 2) or community (3)")
def report(
    actor: Viewer,
    session: DB,
    period: Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM")],
    depth: Annotated[int, Query(ge=2, le=3, description="2: streets, 3: communities")] = 3,
) -> list[ReportRow]:
    if actor.role in (Role.FAMILY, Role.ELDER):
        return []
    return [ReportRow.of(r) for r in reports.region_report(session, actor, period, depth)]
