"""Posting to the ledger, paying orders and meals, and the monthly allocation run.

Every write goes through ``post``: idempotent by key (a second post with the same key returns
the first entry and writes nothing), balanced per unit, never overdrawing a credit or payable
account (the accounts touched are locked first, then their balances are read)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, insert, select, text
from sqlalchemy.orm import Session

from yiyang.core import audit
from yiyang.core.bulk import insert_returning_ids, insert_rows
from yiyang.core.clock import now, to_local
from yiyang.core.db import upsert
from yiyang.core.errors import Conflict
from yiyang.core.i18n import gettext as _
from yiyang.subsidies import ledger
from yiyang.subsidies import repository as repo
from yiyang.subsidies.eligibility import PolicyTerms, entitlement, month_start, period_of
from yiyang.subsidies.enums import EntryKind, PolicyKind
from yiyang.subsidies.models import LedgerAccount, LedgerEntry, LedgerPosting, SubsidyPolicy


def period_at(at: dt.datetime) -> str:
    local = to_local(at)
    assert local is not None
    return period_of(local.date())


def _account_row(key: str, unit: str, region_paths: Mapping[int, str]) -> dict[str, Any]:
    parts = key.split(":")
    kind = parts[0]
    row: dict[str, Any] = {
        "key": key,
        "kind": kind,
        "unit": unit,
        "elder_id": None,
        "provider_id": None,
        "policy_id": None,
        "region_path": None,
    }
    if kind in ("credit", "cash"):
        row["elder_id"] = int(parts[1])
        row["region_path"] = region_paths.get(row["elder_id"])
        if kind == "credit":
            row["policy_id"] = int(parts[2])
    elif kind in ("fund", "spent"):
        row["policy_id"] = int(parts[1])
    elif kind == "payable":
        row["provider_id"] = int(parts[1])
    return row


def ensure_accounts(
    session: Session, postings: Iterable[ledger.Posting], region_paths: Mapping[int, str]
) -> dict[str, int]:
    units = {p.account: p.unit for p in postings}
    ids = repo.account_ids(session, units)
    missing = [_account_row(k, u, region_paths) for k, u in sorted(units.items()) if k not in ids]
    if missing:
        stmt = upsert(session, LedgerAccount)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]), missing)
        ids = repo.account_ids(session, units)
    return ids


@dataclass(frozen=True)
class Posted:
    entry: LedgerEntry
    created: bool  # False: the key was posted before; nothing was written


def post(
    session: Session,
    *,
    key: str,
    kind: EntryKind,
    period: str,
    postings: Sequence[ledger.Posting],
    region_paths: Mapping[int, str] | None = None,
    **meta: Any,
) -> Posted:
    ledger.check_balanced(postings)
    existing = repo.entry_by_key(session, key)
    if existing is not None:
        return Posted(existing, False)
    ids = ensure_accounts(session, postings, region_paths or {})
    guarded = sorted(
        {ids[p.account] for p in postings if ledger.kind_of(p.account) in ledger.NON_NEGATIVE}
    )
    repo.lock_accounts(session, guarded)
    existing = repo.entry_by_key(session, key)  # a concurrent twin may have committed meanwhile
    if existing is not None:
        return Posted(existing, False)
    by_id = repo.balances_by_id(session, guarded)
    key_of = {i: k for k, i in ids.items()}
    try:
        ledger.check_funds({key_of[i]: b for i, b in by_id.items()}, postings)
    except ledger.LedgerError as exc:
        raise Conflict(
            _("The balance is not enough for this payment."), code="insufficient_balance"
        ) from exc
    actor = audit.current_actor()
    entry = LedgerEntry(
        key=key,
        kind=kind.value,
        period=period,
        actor_id=actor.user_id,
        actor_name=actor.shown_name,
        **meta,
    )
    session.add(entry)
    session.flush()
    if not postings:  # a free service: the entry records that it was settled, at zero
        return Posted(entry, True)
    session.execute(
        insert(LedgerPosting),
        [
            {"entry_id": entry.id, "account_id": ids[p.account], "amount": p.amount, "unit": p.unit}
            for p in postings
        ],
    )
    return Posted(entry, True)


# --- orders ---------------------------------------------------------------------------------


def policies_by_id(session: Session, ids: Iterable[int]) -> dict[int, SubsidyPolicy]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(select(SubsidyPolicy).where(SubsidyPolicy.id.in_(wanted)))
    return {p.id: p for p in rows}


def entitlements(
    session: Session, elder_id: int, policy_ids: Iterable[int], on: dt.date
) -> list[ledger.Entitlement]:
    """The elder's balances under the policies that may pay for an item, today."""
    policies = [
        p
        for p in policies_by_id(session, policy_ids).values()
        if p.active
        and p.kind in (PolicyKind.CREDIT, PolicyKind.HOURS)
        and p.starts_on <= on
        and (p.ends_on is None or on <= p.ends_on)
    ]
    keys = {ledger.credit(elder_id, p.id): p for p in policies}
    bal = repo.balances_by_key(session, keys)
    return [
        ledger.Entitlement(p.id, PolicyKind(p.kind), bal.get(k, 0), p.priority)
        for k, p in keys.items()
    ]


def plan_order(
    session: Session,
    *,
    elder_id: int,
    provider_id: int,
    amount_fen: int,
    minutes: int,
    policy_ids: Sequence[int],
    on: dt.date,
) -> ledger.Payment:
    """How an order would be paid on ``on``: the ledger's own rule (``ledger.plan_payment``) on
    the elder's balances now. ``pay_order`` pays by it (on locked balances), the order form
    shows it before the order is placed, so the figures confirmed are the figures charged."""
    return ledger.plan_payment(
        elder_id=elder_id,
        provider_id=provider_id,
        amount_fen=amount_fen,
        minutes=minutes,
        entitlements=entitlements(session, elder_id, policy_ids, on),
    )


def pay_order(
    session: Session,
    *,
    order_id: int,
    elder_id: int,
    region_path: str,
    provider_id: int,
    amount_fen: int,
    minutes: int,
    policy_ids: Sequence[int],
    subsidy_only: bool,
    at: dt.datetime,
    round_: int = 1,
) -> tuple[Posted, ledger.Payment]:
    """Pay a confirmed order, subsidy first (round 2, 3… after a dispute was rejected).
    ``subsidy_only`` (an elder whose services the district pays in full) refuses when the
    subsidy does not cover it."""
    key = f"pay:{order_id}:{round_}"
    day = to_local(at).date()
    # lock the elder's credit accounts before reading them, then plan on the locked balances
    keys = [ledger.credit(elder_id, p) for p in policy_ids]
    ids = repo.account_ids(session, keys)
    repo.lock_accounts(session, list(ids.values()))
    plan = plan_order(
        session,
        elder_id=elder_id,
        provider_id=provider_id,
        amount_fen=amount_fen,
        minutes=minutes,
        policy_ids=policy_ids,
        on=day,
    )
    if subsidy_only and plan.self_pay_fen > 0:
        raise Conflict(
            _(
                "The subsidy covers %(covered)s yuan of %(amount)s yuan; this order is to be "
                "paid by subsidy only.",
                covered=yuan(plan.subsidy_fen),
                amount=yuan(amount_fen),
            ),
            code="insufficient_balance",
        )
    posted = post(
        session,
        key=key,
        kind=EntryKind.PAYMENT,
        period=period_of(day),
        postings=plan.postings,
        region_paths={elder_id: region_path},
        order_id=order_id,
        provider_id=provider_id,
        elder_id=elder_id,
    )
    return posted, plan


def reverse_order(session: Session, order_id: int, round_: int, at: dt.datetime) -> Posted | None:
    """Counter-post payment round ``round_`` of an order (a dispute): the original entry stays
    untouched."""
    paid = repo.entry_by_key(session, f"pay:{order_id}:{round_}")
    if paid is None:
        return None
    return post(
        session,
        key=f"reverse:{order_id}:{round_}",
        kind=EntryKind.REVERSAL,
        period=period_at(at),
        postings=ledger.reversal(repo.postings_of(session, paid.id)),
        order_id=order_id,
        provider_id=paid.provider_id,
        elder_id=paid.elder_id,
        reverses_id=paid.id,
    )


def yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


# --- the monthly run ------------------------------------------------------------------------


@dataclass
class MonthRun:
    period: str
    allocations: int = 0
    expiries: int = 0
    allocated: dict[int, int] = field(default_factory=dict)  # policy id → amount
    expired: dict[int, int] = field(default_factory=dict)


def _terms(p: SubsidyPolicy) -> PolicyTerms:
    return PolicyTerms(
        p.id,
        p.kind,
        frozenset(p.categories or []),
        p.min_care_level,
        p.monthly_amount,
        p.amount_by_level or {},
        p.starts_on,
        p.ends_on,
    )


def open_month(session: Session, period: str) -> MonthRun:
    """Start a month: what the carry-over rules do not carry from last month expires, then each
    eligible elder gets this month's allocation. Idempotent per (policy, elder, month), so a
    re-run after a crash only finishes what is missing. Payments wait while it runs (the
    accounts table is locked against new row locks on PostgreSQL)."""
    from yiyang.registry.repository import system_entitlement_rows

    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE ledger_account IN EXCLUSIVE MODE"))
    run = MonthRun(period)
    policies = [
        p
        for p in session.scalars(select(SubsidyPolicy).where(SubsidyPolicy.active))
        if p.kind in (PolicyKind.CREDIT, PolicyKind.HOURS)
    ]
    if not policies:
        return run
    done = set(
        session.scalars(
            select(LedgerEntry.key).where(
                LedgerEntry.period == period,
                LedgerEntry.kind.in_([EntryKind.ALLOCATION.value, EntryKind.EXPIRY.value]),
            )
        )
    )
    # last month's closing balance of every credit account, one grouped query: everything
    # except this month's own allocations and expiries (so a re-run sees the same figures)
    balance_rows = session.execute(
        text(
            "SELECT a.key, a.elder_id, a.policy_id, a.region_path, COALESCE(SUM(p.amount), 0) "
            "FROM ledger_account a JOIN ledger_posting p ON p.account_id = a.id "
            "JOIN ledger_entry e ON e.id = p.entry_id "
            "WHERE a.kind = 'credit' "
            "AND NOT (e.period = :period AND e.kind IN ('allocation', 'expiry')) "
            "GROUP BY a.id, a.key, a.elder_id, a.policy_id, a.region_path"
        ),
        {"period": period},
    ).all()
    by_policy = {p.id: p for p in policies}
    entries: list[dict[str, Any]] = []
    postings: list[list[ledger.Posting]] = []
    paths: dict[int, str] = {}
    at = now()
    for _key, elder_id, policy_id, path, balance in balance_rows:
        p = by_policy.get(policy_id)
        if p is None:
            continue
        gone = ledger.expiring(int(balance), p.carry_over, p.carry_cap)
        key = f"expire:{p.id}:{elder_id}:{period}"
        if gone and key not in done:
            entries.append(_entry(key, EntryKind.EXPIRY, period, elder_id, at))
            postings.append(ledger.expiry(elder_id, p.id, p.kind, gone))
            paths[elder_id] = path
            run.expiries += 1
            run.expired[p.id] = run.expired.get(p.id, 0) + gone
    start = month_start(period)
    terms = [_terms(p) for p in policies]
    for elder_id, path, level, categories in system_entitlement_rows(session):
        for t in terms:
            amount = entitlement(t, categories, level, start)
            key = f"alloc:{t.id}:{elder_id}:{period}"
            if amount <= 0 or key in done:
                continue
            entries.append(_entry(key, EntryKind.ALLOCATION, period, elder_id, at))
            postings.append(ledger.allocation(elder_id, t.id, t.kind, amount))
            paths[elder_id] = path
            run.allocations += 1
            run.allocated[t.id] = run.allocated.get(t.id, 0) + amount
    _write(session, entries, postings, paths)
    audit.record(
        session,
        "open_month",
        "subsidy_month",
        period,
        summary=f"{run.allocations} allocations, {run.expiries} expiries",
        after={"allocated": run.allocated, "expired": run.expired},
    )
    return run


def _entry(
    key: str, kind: EntryKind, period: str, elder_id: int, at: dt.datetime
) -> dict[str, Any]:
    actor = audit.current_actor()
    return {
        "key": key,
        "kind": kind.value,
        "period": period,
        "elder_id": elder_id,
        "actor_id": actor.user_id,
        "actor_name": actor.shown_name,
        "at": at,
        "order_id": None,
        "meal_order_id": None,
        "provider_id": None,
        "reverses_id": None,
    }


def _write(
    session: Session,
    entries: list[dict[str, Any]],
    postings: list[list[ledger.Posting]],
    paths: Mapping[int, str],
) -> None:
    """Bulk-write many small entries (COPY on PostgreSQL)."""
    if not entries:
        return
    conn = session.connection()
    flat = [p for group in postings for p in group]
    ids = ensure_accounts(session, flat, paths)
    entry_table = LedgerEntry.__table__
    posting_table = LedgerPosting.__table__
    assert isinstance(entry_table, Table) and isinstance(posting_table, Table)
    for i in range(0, len(entries), 50_000):
        chunk = entries[i : i + 50_000]
        entry_ids = insert_returning_ids(conn, entry_table, chunk)
        rows = [
            {"entry_id": eid, "account_id": ids[p.account], "amount": p.amount, "unit": p.unit}
            for eid, group in zip(entry_ids, postings[i : i + 50_000], strict=True)
            for p in group
        ]
        insert_rows(conn, posting_table, rows)
