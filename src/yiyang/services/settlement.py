"""Month-end settlement: how the district pays providers for completed service orders and
meals. Per provider, what was paid in the month (payments, meals, minus reversals), split into
subsidy and self-pay — computed from the subsidy ledger alone — and the statement as an XLSX
workbook."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.orm import Session

from yiyang.core import audit
from yiyang.core.clock import now, to_local
from yiyang.core.i18n import gettext as _
from yiyang.registry.models import Elder
from yiyang.services.models import MealOrder, Menu, ServiceItem, ServiceOrder
from yiyang.subsidies.enums import EntryKind
from yiyang.subsidies.models import LedgerAccount, LedgerEntry, LedgerPosting, SettlementStatement

PAID_KINDS = (EntryKind.PAYMENT.value, EntryKind.MEAL.value, EntryKind.REVERSAL.value)


def _money_columns() -> tuple[Any, Any]:
    gross = func.sum(case((LedgerAccount.kind == "payable", LedgerPosting.amount), else_=0))
    self_pay = func.sum(case((LedgerAccount.kind == "cash", -LedgerPosting.amount), else_=0))
    return gross, self_pay


def settle(session: Session, period: str) -> list[SettlementStatement]:
    """Rebuild the month's statements for every provider (a statement is derived from the
    ledger, so settling again after a late reversal gives the corrected figures)."""
    gross, self_pay = _money_columns()
    rows = session.execute(
        select(
            LedgerEntry.provider_id,
            LedgerEntry.kind,
            func.count(func.distinct(LedgerEntry.id)),
            gross,
            self_pay,
        )
        .join(LedgerPosting, LedgerPosting.entry_id == LedgerEntry.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .where(
            LedgerEntry.period == period,
            LedgerEntry.kind.in_(PAID_KINDS),
            LedgerPosting.unit == "fen",
        )
        .group_by(LedgerEntry.provider_id, LedgerEntry.kind)
    ).all()
    totals: dict[int, dict[str, int]] = {}
    for provider_id, kind, n, g, s in rows:
        t = totals.setdefault(
            provider_id, {"orders": 0, "reversals": 0, "meals": 0, "gross": 0, "self": 0}
        )
        t[{"payment": "orders", "reversal": "reversals", "meal": "meals"}[kind]] += int(n)
        t["gross"] += int(g or 0)
        t["self"] += int(s or 0)
    session.execute(delete(SettlementStatement).where(SettlementStatement.period == period))
    at = now()
    values = [
        {
            "period": period,
            "provider_id": pid,
            "orders": t["orders"],
            "reversals": t["reversals"],
            "meals": t["meals"],
            "gross_fen": t["gross"],
            "subsidy_fen": t["gross"] - t["self"],
            "self_pay_fen": t["self"],
            "settled_at": at,
        }
        for pid, t in sorted(totals.items())
    ]
    if values:
        session.execute(insert(SettlementStatement), values)
    audit.record(
        session,
        "settle",
        "settlement",
        period,
        summary=f"{len(values)} provider statements",
        after={"providers": len(values), "gross_fen": sum(v["gross_fen"] for v in values)},
    )
    return list(
        session.scalars(
            select(SettlementStatement)
            .where(SettlementStatement.period == period)
            .order_by(SettlementStatement.provider_id)
        )
    )


def statements(
    session: Session, period: str, provider_id: int | None = None
) -> Sequence[SettlementStatement]:
    stmt = select(SettlementStatement).where(SettlementStatement.period == period)
    if provider_id is not None:
        stmt = stmt.where(SettlementStatement.provider_id == provider_id)
    return session.scalars(stmt.order_by(SettlementStatement.provider_id)).all()


@dataclass(frozen=True)
class Line:
    entry_id: int
    kind: str
    at: Any
    order_id: int | None
    meal_order_id: int | None
    elder_name: str
    service: str
    gross_fen: int
    self_pay_fen: int

    @property
    def subsidy_fen(self) -> int:
        return self.gross_fen - self.self_pay_fen


def lines(session: Session, provider_id: int, period: str) -> list[Line]:
    """Each payment, meal and reversal of the provider's month, with who and what."""
    gross, self_pay = _money_columns()
    keys = (
        LedgerEntry.id,
        LedgerEntry.kind,
        LedgerEntry.at,
        LedgerEntry.order_id,
        LedgerEntry.meal_order_id,
        LedgerEntry.elder_id,
    )
    money = (
        select(*keys, gross.label("gross"), self_pay.label("self"))
        .join(LedgerPosting, LedgerPosting.entry_id == LedgerEntry.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .where(
            LedgerEntry.period == period,
            LedgerEntry.provider_id == provider_id,
            LedgerEntry.kind.in_(PAID_KINDS),
            LedgerPosting.unit == "fen",
        )
        .group_by(*keys)
        .subquery()
    )
    rows = session.execute(
        select(money, Elder.name, ServiceItem.name, Menu.meal, Menu.day)
        .join(Elder, Elder.id == money.c.elder_id)
        .outerjoin(ServiceOrder, ServiceOrder.id == money.c.order_id)
        .outerjoin(ServiceItem, ServiceItem.id == ServiceOrder.item_id)
        .outerjoin(MealOrder, MealOrder.id == money.c.meal_order_id)
        .outerjoin(Menu, Menu.id == MealOrder.menu_id)
        .order_by(money.c.at, money.c.id)
    ).all()
    out = []
    for r in rows:
        service = r[9] or (f"{r[11]} {r[10]}" if r[10] else "")
        out.append(
            Line(
                r.id,
                r.kind,
                r.at,
                r.order_id,
                r.meal_order_id,
                r[8],
                service,
                int(r.gross),
                int(r.self),
            )
        )
    return out


def statement_xlsx(session: Session, provider_name: str, provider_id: int, period: str) -> bytes:
    wb = Workbook(write_only=True)
    summary = wb.create_sheet(_("Summary"))
    detail = wb.create_sheet(_("Details"))
    items = lines(session, provider_id, period)
    gross = sum(i.gross_fen for i in items)
    self_pay = sum(i.self_pay_fen for i in items)
    summary.append([_("Settlement statement"), provider_name, period])
    summary.append([_("Entries"), len(items)])
    summary.append([_("Total (yuan)"), gross / 100])
    summary.append([_("Paid by subsidy (yuan)"), (gross - self_pay) / 100])
    summary.append([_("Paid by the elder (yuan)"), self_pay / 100])
    detail.append(
        [
            _("Entry"),
            _("Kind"),
            _("Time"),
            _("Order"),
            _("Elder"),
            _("Service"),
            _("Total (yuan)"),
            _("Subsidy (yuan)"),
            _("Self-pay (yuan)"),
        ]
    )
    for i in items:
        at = to_local(i.at)
        detail.append(
            [
                i.entry_id,
                i.kind,
                at.strftime("%Y-%m-%d %H:%M") if at else "",
                i.order_id or i.meal_order_id,
                i.elder_name,
                i.service,
                i.gross_fen / 100,
                i.subsidy_fen / 100,
                i.self_pay_fen / 100,
            ]
        )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
