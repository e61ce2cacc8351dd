"""Ledger queries: accounts by key, balances (always derived from postings), entries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from yiyang.core.db import among
from yiyang.subsidies import ledger
from yiyang.subsidies.models import LedgerAccount, LedgerEntry, LedgerPosting


def account_ids(session: Session, keys: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    if len(wanted) > 20_000:  # a month's run: one pass over the table beats any key list
        want = set(wanted)
        rows = session.execute(select(LedgerAccount.key, LedgerAccount.id))
        return {k: a for k, a in rows if k in want}
    out: dict[str, int] = {}
    postgres = session.get_bind().dialect.name == "postgresql"
    for i in range(0, len(wanted), 5000):
        chunk = wanted[i : i + 5000]
        cond = (
            LedgerAccount.key == any_(bindparam(None, chunk, type_=ARRAY(String)))
            if postgres
            else LedgerAccount.key.in_(chunk)
        )
        out.update(
            {
                k: a
                for k, a in session.execute(select(LedgerAccount.key, LedgerAccount.id).where(cond))
            }
        )
    return out


def lock_accounts(session: Session, ids: Sequence[int]) -> None:
    """Serialise writers on these accounts (PostgreSQL row locks, in id order so two payments
    never deadlock); SQLite transactions are already serial (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql" and ids:
        session.execute(
            select(LedgerAccount.id)
            .where(among(LedgerAccount.id, sorted(ids)))
            .order_by(LedgerAccount.id)
            .with_for_update()
        ).all()


def balances_by_id(session: Session, ids: Sequence[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(LedgerPosting.account_id, func.sum(LedgerPosting.amount))
        .where(among(LedgerPosting.account_id, list(ids)))
        .group_by(LedgerPosting.account_id)
    )
    return {a: int(s) for a, s in rows}


def balances_by_key(session: Session, keys: Iterable[str]) -> dict[str, int]:
    ids = account_ids(session, keys)
    by_id = balances_by_id(session, list(ids.values()))
    return {k: by_id.get(i, 0) for k, i in ids.items()}


def entry_by_key(session: Session, key: str) -> LedgerEntry | None:
    return session.scalar(select(LedgerEntry).where(LedgerEntry.key == key))


def postings_of(session: Session, entry_id: int) -> list[ledger.Posting]:
    rows = session.execute(
        select(LedgerAccount.key, LedgerPosting.amount, LedgerPosting.unit)
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .where(LedgerPosting.entry_id == entry_id)
        .order_by(LedgerPosting.id)
    )
    return [ledger.Posting(k, int(a), u) for k, a, u in rows]


def unbalanced_entries(session: Session) -> list[Any]:
    """Entries whose postings do not sum to zero per unit (should always be empty)."""
    return list(
        session.execute(
            select(LedgerPosting.entry_id, LedgerPosting.unit, func.sum(LedgerPosting.amount))
            .group_by(LedgerPosting.entry_id, LedgerPosting.unit)
            .having(func.sum(LedgerPosting.amount) != 0)
        )
    )


def negative_accounts(session: Session) -> list[Any]:
    """Credit or payable accounts below zero (should always be empty)."""
    return list(
        session.execute(
            select(LedgerAccount.key, func.sum(LedgerPosting.amount))
            .join(LedgerPosting, LedgerPosting.account_id == LedgerAccount.id)
            .where(LedgerAccount.kind.in_(sorted(ledger.NON_NEGATIVE)))
            .group_by(LedgerAccount.key)
            .having(func.sum(LedgerPosting.amount) < 0)
        )
    )
