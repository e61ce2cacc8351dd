"""The subsidy ledger's rules (pure): which postings an allocation, an expiry, a payment or a
reversal makes. Every entry balances to zero per unit; ``credit`` and ``payable`` accounts never
go negative; corrections are counter-entries, never edits.

Accounts (a key names each; amounts are integers — fen for money, minutes for time):
- ``fund:<policy>:<unit>`` the government budget of a policy (a source: runs negative);
- ``credit:<elder>:<policy>`` an elder's remaining entitlement under a policy;
- ``spent:<policy>`` minutes of service consumed under an hours policy;
- ``cash:<elder>`` what the elder paid themselves (a source: runs negative);
- ``payable:<provider>`` what the district and the elders owe a provider, settled monthly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from yiyang.subsidies.enums import CarryOver, PolicyKind

FEN = "fen"
MIN = "min"


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount: int
    unit: str


def fund(policy_id: int, unit: str) -> str:
    return f"fund:{policy_id}:{unit}"


def credit(elder_id: int, policy_id: int) -> str:
    return f"credit:{elder_id}:{policy_id}"


def spent(policy_id: int) -> str:
    return f"spent:{policy_id}"


def cash(elder_id: int) -> str:
    return f"cash:{elder_id}"


def payable(provider_id: int) -> str:
    return f"payable:{provider_id}"


def kind_of(account: str) -> str:
    return account.split(":", 1)[0]


NON_NEGATIVE = frozenset({"credit", "payable"})


class LedgerError(ValueError):
    """An entry the ledger refuses (unbalanced, or it would overdraw an account)."""

    def __init__(self, message: str, account: str | None = None) -> None:
        super().__init__(message)
        self.account = account


def unit_of(kind: PolicyKind | str) -> str:
    return MIN if PolicyKind(kind) is PolicyKind.HOURS else FEN


def check_balanced(postings: Sequence[Posting]) -> None:
    totals: dict[str, int] = defaultdict(int)
    for p in postings:
        totals[p.unit] += p.amount
    bad = {u: t for u, t in totals.items() if t != 0}
    if bad:
        raise LedgerError(f"entry does not balance: {bad}")


def check_funds(balances: Mapping[str, int], postings: Sequence[Posting]) -> None:
    """Refuse an entry that would take a credit or payable account below zero."""
    delta: dict[str, int] = defaultdict(int)
    for p in postings:
        delta[p.account] += p.amount
    for account, d in delta.items():
        if kind_of(account) in NON_NEGATIVE and balances.get(account, 0) + d < 0:
            raise LedgerError(f"{account} would go below zero", account)


def allocation(elder_id: int, policy_id: int, kind: PolicyKind | str, amount: int) -> list[Posting]:
    unit = unit_of(kind)
    return [
        Posting(fund(policy_id, unit), -amount, unit),
        Posting(credit(elder_id, policy_id), amount, unit),
    ]


def expiry(elder_id: int, policy_id: int, kind: PolicyKind | str, amount: int) -> list[Posting]:
    return [
        Posting(a.account, -a.amount, a.unit) for a in allocation(elder_id, policy_id, kind, amount)
    ]


def expiring(balance: int, rule: CarryOver | str, cap: int | None) -> int:
    """How much of a month-end balance expires under the carry-over rule."""
    if balance <= 0:
        return 0
    rule = CarryOver(rule)
    if rule is CarryOver.NONE:
        return balance
    if rule is CarryOver.CAP:
        return max(0, balance - (cap or 0))
    return 0


@dataclass(frozen=True, slots=True)
class Entitlement:
    """An elder's balance under a policy that may pay for the item being paid."""

    policy_id: int
    kind: PolicyKind
    balance: int  # fen for credit, minutes for hours
    priority: int = 100  # lower pays first


@dataclass(frozen=True, slots=True)
class Payment:
    postings: list[Posting]
    subsidy_fen: int
    self_pay_fen: int
    minutes_used: int
    by_policy: dict[int, int]  # policy id → fen it paid


def plan_payment(
    *,
    elder_id: int,
    provider_id: int,
    amount_fen: int,
    minutes: int,
    entitlements: Iterable[Entitlement],
) -> Payment:
    """Subsidy first, then self-pay. Credit policies pay money; hours policies pay the booked
    time (the district then pays the provider the price of the hours it covered). Policies pay in
    order of priority, then id; the rest is the elder's own."""
    if amount_fen < 0 or minutes < 0:
        raise LedgerError("amounts are never negative")
    postings: list[Posting] = []
    left_fen, left_min = amount_fen, minutes
    by_policy: dict[int, int] = {}
    used_min = 0
    for e in sorted(entitlements, key=lambda e: (e.priority, e.policy_id)):
        if left_fen <= 0:
            break
        if e.balance <= 0:
            continue
        if e.kind is PolicyKind.CREDIT:
            use = min(e.balance, left_fen)
            postings += [
                Posting(credit(elder_id, e.policy_id), -use, FEN),
                Posting(payable(provider_id), use, FEN),
            ]
            left_fen -= use
            by_policy[e.policy_id] = by_policy.get(e.policy_id, 0) + use
        elif e.kind is PolicyKind.HOURS and left_min > 0:
            cover = min(e.balance, left_min)
            fen = left_fen if cover == left_min else min(left_fen, amount_fen * cover // minutes)
            postings += [
                Posting(credit(elder_id, e.policy_id), -cover, MIN),
                Posting(spent(e.policy_id), cover, MIN),
                Posting(fund(e.policy_id, FEN), -fen, FEN),
                Posting(payable(provider_id), fen, FEN),
            ]
            left_min -= cover
            used_min += cover
            left_fen -= fen
            by_policy[e.policy_id] = by_policy.get(e.policy_id, 0) + fen
    if left_fen > 0:
        postings += [
            Posting(cash(elder_id), -left_fen, FEN),
            Posting(payable(provider_id), left_fen, FEN),
        ]
    check_balanced(postings)
    return Payment(postings, amount_fen - left_fen, left_fen, used_min, by_policy)


def meal_payment(
    *, elder_id: int, provider_id: int, price_fen: int, policy_id: int | None, subsidy_fen: int
) -> Payment:
    """A meal: the per-meal subsidy (never more than the price) from the policy's fund, the rest
    self-paid."""
    sub = min(max(subsidy_fen, 0), price_fen) if policy_id is not None else 0
    postings: list[Posting] = []
    if sub:
        assert policy_id is not None
        postings += [
            Posting(fund(policy_id, FEN), -sub, FEN),
            Posting(payable(provider_id), sub, FEN),
        ]
    if price_fen - sub:
        postings += [
            Posting(cash(elder_id), -(price_fen - sub), FEN),
            Posting(payable(provider_id), price_fen - sub, FEN),
        ]
    check_balanced(postings)
    return Payment(postings, sub, price_fen - sub, 0, {policy_id: sub} if sub and policy_id else {})


def reversal(postings: Iterable[Posting]) -> list[Posting]:
    """The counter-entry: every posting negated. The original stays as it was."""
    return [Posting(p.account, -p.amount, p.unit) for p in postings]


def balances(postings: Iterable[Posting]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for p in postings:
        out[p.account] += p.amount
    return dict(out)
