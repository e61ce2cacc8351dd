"""The ledger's invariants under random operation sequences, against the real database:
allocations, payments (subsidy-first and subsidy-only), repeated posts, reversals and expiries
in any order leave every entry balanced, no credit or payable account below zero, every key
posted once, and the provider owed exactly what was paid minus what was reversed."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from yiyang.core.clock import now
from yiyang.core.errors import Conflict
from yiyang.subsidies import ledger, service
from yiyang.subsidies import repository as repo
from yiyang.subsidies.enums import EntryKind
from yiyang.subsidies.models import LedgerAccount, LedgerEntry, SubsidyPolicy

pytestmark = pytest.mark.api

ELDERS = [900_001, 900_002, 900_003]
PROVIDER = 77

op = st.one_of(
    st.tuples(st.just("alloc"), st.integers(0, 2), st.integers(1, 50_000)),
    st.tuples(
        st.just("pay"),
        st.integers(0, 2),
        st.integers(0, 40_000),
        st.integers(0, 240),
        st.booleans(),
    ),
    st.tuples(st.just("repeat"), st.integers(0, 30)),
    st.tuples(st.just("reverse"), st.integers(0, 30)),
    st.tuples(st.just("expire"), st.integers(0, 2)),
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(op, min_size=1, max_size=25))
def test_random_operation_sequences_keep_the_ledger_sound(session, ops) -> None:  # type: ignore[no-untyped-def]
    credit = session.scalar(
        select(SubsidyPolicy).where(SubsidyPolicy.kind == "credit").order_by(SubsidyPolicy.id)
    )
    hours = session.scalar(select(SubsidyPolicy).where(SubsidyPolicy.kind == "hours"))
    policies = [credit.id, hours.id]
    nested = session.begin_nested()
    try:
        paid: dict[int, int] = {}  # order → fen owed to the provider
        reversed_: set[int] = set()
        at = now()
        for n, step in enumerate(ops):
            kind = step[0]
            if kind == "alloc":
                _k, e, amount = step
                pol = credit if n % 2 else hours
                service.post(
                    session,
                    key=f"alloc:{pol.id}:{ELDERS[e]}:t{n}",
                    kind=EntryKind.ALLOCATION,
                    period="2026-11",
                    postings=ledger.allocation(ELDERS[e], pol.id, pol.kind, amount),
                    region_paths={ELDERS[e]: "/t/"},
                )
            elif kind == "pay":
                _k, e, amount, minutes, only = step
                order = 5_000_000 + n
                try:
                    posted, _plan = service.pay_order(
                        session,
                        order_id=order,
                        elder_id=ELDERS[e],
                        region_path="/t/",
                        provider_id=PROVIDER,
                        amount_fen=amount,
                        minutes=minutes,
                        policy_ids=policies,
                        subsidy_only=only,
                        at=at,
                    )
                except Conflict:
                    assert only  # only a subsidy-only payment may be refused
                    continue
                assert posted.created
                paid[order] = amount
            elif kind == "repeat" and paid:
                order = sorted(paid)[step[1] % len(paid)]
                before = session.scalar(select(func.count()).select_from(LedgerEntry))
                again, _plan = service.pay_order(
                    session,
                    order_id=order,
                    elder_id=ELDERS[0],
                    region_path="/t/",
                    provider_id=PROVIDER,
                    amount_fen=1,
                    minutes=0,
                    policy_ids=policies,
                    subsidy_only=False,
                    at=at,
                )
                assert not again.created  # the same key: nothing new
                assert session.scalar(select(func.count()).select_from(LedgerEntry)) == before
            elif kind == "reverse" and paid:
                order = sorted(paid)[step[1] % len(paid)]
                r = service.reverse_order(session, order, 1, at)
                assert r is not None
                assert r.created == (order not in reversed_)
                reversed_.add(order)
            elif kind == "expire":
                e = ELDERS[step[1]]
                key = ledger.credit(e, credit.id)
                left = repo.balances_by_key(session, [key]).get(key, 0)
                if left > 0:
                    service.post(
                        session,
                        key=f"expire:{credit.id}:{e}:t{n}",
                        kind=EntryKind.EXPIRY,
                        period="2026-11",
                        postings=ledger.expiry(e, credit.id, credit.kind, left),
                    )
        assert repo.unbalanced_entries(session) == []
        assert repo.negative_accounts(session) == []
        owed = repo.balances_by_key(session, [ledger.payable(PROVIDER)]).get(
            ledger.payable(PROVIDER), 0
        )
        assert owed == sum(a for o, a in paid.items() if o not in reversed_)
        dupes = session.scalar(
            select(func.count()).select_from(
                select(LedgerEntry.key)
                .group_by(LedgerEntry.key)
                .having(func.count() > 1)
                .subquery()
            )
        )
        assert dupes == 0
    finally:
        nested.rollback()


def test_open_month_is_idempotent_and_applies_carry_over(session) -> None:  # type: ignore[no-untyped-def]
    """Opening a month twice allocates once; each later month first expires what the rule
    does not carry over: 特困 credit carries nothing, 低保 carries up to its cap (a month)."""
    first = service.open_month(session, "2031-01")
    assert first.allocations > 0
    again = service.open_month(session, "2031-01")
    assert again.allocations == 0 and again.expiries == 0
    service.open_month(session, "2031-02")
    tk = session.scalar(select(SubsidyPolicy).where(SubsidyPolicy.code == "TK-CREDIT"))
    db = session.scalar(select(SubsidyPolicy).where(SubsidyPolicy.code == "DB-CREDIT"))
    for policy, most in ((tk, tk.monthly_amount), (db, db.carry_cap + db.monthly_amount)):
        keys = session.scalars(
            select(LedgerAccount.key).where(
                LedgerAccount.policy_id == policy.id, LedgerAccount.kind == "credit"
            )
        ).all()
        assert keys
        balances = repo.balances_by_key(session, keys)
        # nobody in these tests spends: 特困 holds exactly February's credit, 低保 February's
        # plus the capped carry-over (elders allocated since an earlier month reach the cap)
        assert max(balances.values()) == most
        assert all(0 < b <= most for b in balances.values())
    assert repo.unbalanced_entries(session) == [] and repo.negative_accounts(session) == []
