"""Subsidy reports from the ledger: an elder's balances per policy, and use and balance by
street or community within the viewer's area."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from yiyang.core.scoping import Actor, region_scope_path
from yiyang.regions.models import Region
from yiyang.subsidies.models import LedgerAccount, LedgerEntry, LedgerPosting, SubsidyPolicy


def elder_balances(session: Session, elder_id: int) -> list[dict[str, Any]]:
    """An elder's balance on each policy credit account, per unit."""
    rows = session.execute(
        select(
            SubsidyPolicy.id,
            SubsidyPolicy.name,
            SubsidyPolicy.kind,
            LedgerAccount.unit,
            func.coalesce(func.sum(LedgerPosting.amount), 0),
        )
        .join(LedgerAccount, LedgerAccount.policy_id == SubsidyPolicy.id)
        .outerjoin(LedgerPosting, LedgerPosting.account_id == LedgerAccount.id)
        .where(LedgerAccount.kind == "credit", LedgerAccount.elder_id == elder_id)
        .group_by(SubsidyPolicy.id, SubsidyPolicy.name, SubsidyPolicy.kind, LedgerAccount.unit)
        .order_by(SubsidyPolicy.id)
    )
    return [
        {"policy_id": i, "policy": n, "kind": k, "unit": u, "balance": int(b)}
        for i, n, k, u, b in rows
    ]


def region_report(session: Session, actor: Actor, period: str, depth: int) -> list[dict[str, Any]]:
    """Use and balance per region (depth 2: street, 3: community) within the actor's area:
    elders with a credit, allocated and used this month, balance now — per unit."""
    scope = region_scope_path(actor)
    if scope is None:
        return []
    prefix_len = depth * 13 + 1
    region = func.substr(LedgerAccount.region_path, 1, prefix_len).label("region")
    month = LedgerEntry.period == period
    stmt = (
        select(
            region,
            LedgerAccount.unit,
            func.count(func.distinct(LedgerAccount.elder_id)),
            func.sum(
                case((month & (LedgerEntry.kind == "allocation"), LedgerPosting.amount), else_=0)
            ),
            func.sum(
                case(
                    (month & LedgerEntry.kind.in_(["payment", "reversal"]), -LedgerPosting.amount),
                    else_=0,
                )
            ),
            func.sum(LedgerPosting.amount),
        )
        .join(LedgerPosting, LedgerPosting.account_id == LedgerAccount.id)
        .join(LedgerEntry, LedgerEntry.id == LedgerPosting.entry_id)
        .where(LedgerAccount.kind == "credit")
        .group_by(region, LedgerAccount.unit)
        .order_by(region, LedgerAccount.unit)
    )
    if scope != "/":
        stmt = stmt.where(LedgerAccount.region_path.startswith(scope, autoescape=True))
    names = dict(session.execute(select(Region.path, Region.name)).all())
    return [
        {
            "region_path": r,
            "region": names.get(r, r),
            "unit": u,
            "elders": int(n),
            "allocated": int(a or 0),
            "used": int(used or 0),
            "balance": int(b or 0),
        }
        for r, u, n, a, used, b in session.execute(stmt)
    ]
