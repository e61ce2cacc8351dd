"""Subsidy JSON API: policies, the month's allocation run, balances per elder and reports per
street/community. Scoped by role and region. (Settlement and statements: ``services.endpoints``.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.errors import Conflict
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.registry.service import access_elder
from yiyang.subsidies import reports, service
from yiyang.subsidies.models import SubsidyPolicy
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


@router.get("/policies", summary="Subsidy policies")
def list_policies(actor: Viewer, session: DB) -> list[PolicyRead]:
    rows = session.scalars(select(SubsidyPolicy).order_by(SubsidyPolicy.id))
    return [PolicyRead.model_validate(p) for p in rows]


@router.post("/policies", status_code=201, summary="Create a subsidy policy")
def create_policy(actor: Manager, session: DB, body: PolicyCreate) -> PolicyRead:
    if session.scalar(select(SubsidyPolicy.id).where(SubsidyPolicy.code == body.code)):
        raise Conflict(_("A policy with this code already exists."))
    policy = SubsidyPolicy(**body.model_dump(), region_path=actor.region_path)
    session.add(policy)
    session.flush()
    return PolicyRead.model_validate(policy)


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
