"""Pure service rules: dispatch ranking, on-site proof flags, Bayesian scores, the order state
machine, subsidy eligibility, and the ledger's postings (with Hypothesis properties)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yiyang.services import matching, proof, scoring
from yiyang.services.enums import TRANSITIONS, Flag, OrderState, next_state
from yiyang.subsidies import ledger
from yiyang.subsidies.eligibility import PolicyTerms, entitlement, previous_period
from yiyang.subsidies.enums import CarryOver, PolicyKind

pytestmark = pytest.mark.unit

SH = ZoneInfo("Asia/Shanghai")
MON_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # a Monday
STREET = "/310104000000/310104003000/"
HOME = (31.2, 121.45)


def job(**kw) -> matching.Job:  # type: ignore[no-untyped-def]
    base = dict(
        start=MON_10,
        minutes=90,
        skill="bathing",
        region_path=STREET + "310104003001/",
        lat=HOME[0],
        lon=HOME[1],
    )
    return matching.Job(**{**base, **kw})


def cand(i: int, **kw) -> matching.Candidate:  # type: ignore[no-untyped-def]
    base = dict(
        id=i,
        name=f"c{i}",
        skills=frozenset({"bathing", "cleaning"}),
        region_paths=(STREET,),
        work_days=frozenset(range(5)),
        work_start=dt.time(8),
        work_end=dt.time(18),
        home_lat=HOME[0] + 0.01 * i,
        home_lon=HOME[1],
        max_jobs=8,
        bookings=(),
    )
    return matching.Candidate(**{**base, **kw})


def booking(
    hour: int, minutes: int = 60, lat: float = HOME[0], lon: float = HOME[1]
) -> matching.Booking:
    start = MON_10.replace(hour=hour)
    return matching.Booking(start, start + dt.timedelta(minutes=minutes), lat, lon)


def test_hard_rules_exclude_with_a_reason() -> None:
    cases = {
        "skill": cand(1, skills=frozenset({"cleaning"})),
        "area": cand(2, region_paths=("/310104000000/310104004000/",)),
        "day_off": cand(3, work_days=frozenset({5, 6})),
        "hours": cand(4, work_start=dt.time(11)),
        "full": cand(5, max_jobs=1, bookings=(booking(15),)),
        "clash": cand(6, bookings=(booking(11, 30),)),  # 11:00 starts within 15 min of 11:30
    }
    for why, c in cases.items():
        assert matching.rank(job(), [c])[0].excluded == why, why
    # a job ending past the working day is "hours" too
    assert matching.rank(job(start=MON_10.replace(hour=17)), [cand(7)])[0].excluded == "hours"


def test_load_counts_jobs_that_were_not_read() -> None:
    """The repository reads only the bookings that can clash or precede; the day's count comes
    separately and still fills the day."""
    assert matching.rank(job(), [cand(1, max_jobs=3, load=3)])[0].excluded == "full"
    ranked = matching.rank(job(), [cand(1, load=2), cand(2, load=0)])
    assert [s.load for s in ranked] == [0, 2]


def test_ranking_prefers_near_the_previous_job_then_a_lighter_day() -> None:
    near_home = cand(1)  # 1.1 km from the job, empty day
    far = cand(5)  # 5.6 km
    # busy in the morning right next door: travel 0 km but one job already → 3 km-equivalents
    neighbour_job = cand(9, bookings=(booking(8, 60),))
    ranked = matching.rank(job(), [far, neighbour_job, near_home])
    assert [s.caregiver_id for s in ranked] == [near_home.id, neighbour_job.id, far.id]
    assert ranked[1].travel_km == 0.0 and ranked[1].load == 1


def test_when_nobody_is_eligible_the_misses_are_returned_with_reasons() -> None:
    ranked = matching.rank(job(skill="rehab"), [cand(1), cand(2)])
    assert [s.excluded for s in ranked] == ["skill", "skill"]


def test_expired_certificates_do_not_count() -> None:
    on = dt.date(2026, 11, 23)
    skills = matching.valid_skills(
        ["bathing", "cleaning", "rehab"], {"bathing": dt.date(2026, 11, 1), "rehab": None}, on
    )
    assert skills == frozenset({"cleaning", "rehab"})


def test_route_order_keeps_booked_times_and_breaks_ties_by_distance() -> None:
    t9, t11 = MON_10.replace(hour=9), MON_10.replace(hour=11)
    stops = [(1, t11, 31.3, 121.45), (2, t9, 31.25, 121.45), (3, t9, 31.21, 121.45)]
    assert matching.route_order(31.2, 121.45, stops) == [3, 2, 1]


def test_proof_flags() -> None:
    rules = proof.ProofRules()
    metres = proof.distance_from_home(31.2, 121.45, 31.21, 121.45)
    assert metres is not None and 1000 < metres < 1200
    assert proof.check_in_flags(MON_10, MON_10, metres, rules) == [Flag.FAR_CHECKIN]
    assert proof.check_in_flags(MON_10, MON_10 + dt.timedelta(minutes=45), 20.0, rules) == [
        Flag.LATE_ARRIVAL
    ]
    assert proof.check_in_flags(MON_10, MON_10, None, rules) == []  # no GPS is not an accusation
    out = MON_10 + dt.timedelta(minutes=50)
    assert proof.check_out_flags(MON_10, out, 90, 10.0, rules) == [Flag.SHORT_SERVICE]
    assert proof.check_out_flags(MON_10, out, 60, 10.0, rules) == []
    assert not proof.checkout_overdue(MON_10, 90, MON_10 + dt.timedelta(hours=3), rules)
    assert proof.checkout_overdue(MON_10, 90, MON_10 + dt.timedelta(hours=3, minutes=31), rules)


def test_bayesian_average_two_reviews_do_not_beat_two_hundred() -> None:
    few = scoring.bayesian(10, 2, prior_mean=4.2)  # two five-star reviews
    many = scoring.bayesian(4.8 * 200, 200, prior_mean=4.2)
    assert few.mean == 5.0 and many.mean == 4.8
    assert many.score > few.score
    assert scoring.bayesian(0, 0, prior_mean=4.2).score == 4.2
    with pytest.raises(ValueError):
        scoring.bayesian(0, -1, prior_mean=4.0)


def test_state_machine() -> None:
    assert next_state("placed", "assign") is OrderState.ASSIGNED
    assert next_state("cancelled", "confirm") is None
    assert next_state("in_service", "check_in") is None  # checking in twice
    assert next_state("confirmed", "dispute") is OrderState.DISPUTED
    assert (
        next_state("completed", "cancel") is None
    )  # a delivered service is disputed, not cancelled
    # every state but the terminal one can be left somehow
    reachable = {t for _, t in TRANSITIONS.values()}
    assert set(OrderState) - {OrderState.PLACED} <= reachable


def terms(**kw) -> PolicyTerms:  # type: ignore[no-untyped-def]
    base = dict(
        id=1,
        kind="hours",
        categories=frozenset(),
        min_care_level=2,
        monthly_amount=180,
        amount_by_level={"4": 420},
        starts_on=dt.date(2026, 1, 1),
        ends_on=None,
    )
    return PolicyTerms(**{**base, **kw})


def test_entitlement() -> None:
    nov = dt.date(2026, 11, 1)
    assert entitlement(terms(), [], 4, nov) == 420
    assert entitlement(terms(), [], 3, nov) == 180
    assert entitlement(terms(), [], 1, nov) == 0
    assert entitlement(terms(), [], None, nov) == 0
    tk = terms(
        kind="credit",
        categories=frozenset({"extreme_poverty"}),
        min_care_level=None,
        monthly_amount=60000,
        amount_by_level={},
    )
    assert entitlement(tk, ["extreme_poverty", "advanced_age"], None, nov) == 60000
    assert entitlement(tk, ["advanced_age"], None, nov) == 0
    assert entitlement(terms(ends_on=dt.date(2026, 10, 31)), [], 4, nov) == 0
    assert previous_period("2026-01") == "2025-12"


def test_carry_over_rules() -> None:
    assert ledger.expiring(500, CarryOver.NONE, None) == 500
    assert ledger.expiring(500, CarryOver.CAP, 300) == 200
    assert ledger.expiring(200, CarryOver.CAP, 300) == 0
    assert ledger.expiring(500, CarryOver.UNLIMITED, None) == 0
    assert ledger.expiring(-5, CarryOver.NONE, None) == 0


def test_payment_subsidy_first_then_self_pay() -> None:
    rights = [
        ledger.Entitlement(7, PolicyKind.CREDIT, 5000, priority=20),
        ledger.Entitlement(3, PolicyKind.HOURS, 60, priority=5),
    ]
    # two hours at 40 yuan: the hours policy covers one hour (40 yuan), credit 50 yuan... 40 left
    pay = ledger.plan_payment(
        elder_id=1, provider_id=9, amount_fen=8000, minutes=120, entitlements=rights
    )
    assert pay.minutes_used == 60 and pay.by_policy == {3: 4000, 7: 4000}
    assert pay.subsidy_fen == 8000 and pay.self_pay_fen == 0
    b = ledger.balances(pay.postings)
    assert b["payable:9"] == 8000 and b["credit:1:3"] == -60 and b["credit:1:7"] == -4000
    # a visit item ignores hours policies
    visit = ledger.plan_payment(
        elder_id=1, provider_id=9, amount_fen=12000, minutes=0, entitlements=rights
    )
    assert visit.by_policy == {7: 5000} and visit.self_pay_fen == 7000
    assert ledger.balances(visit.postings)["cash:1"] == -7000


def test_meal_payment_never_subsidises_more_than_the_price() -> None:
    pay = ledger.meal_payment(
        elder_id=1, provider_id=2, price_fen=800, policy_id=4, subsidy_fen=1000
    )
    assert (pay.subsidy_fen, pay.self_pay_fen) == (800, 0)
    assert ledger.balances(pay.postings) == {"fund:4:fen": -800, "payable:2": 800}


def test_unbalanced_or_overdrawing_entries_are_refused() -> None:
    with pytest.raises(ledger.LedgerError):
        ledger.check_balanced([ledger.Posting("payable:1", 5, "fen")])
    with pytest.raises(ledger.LedgerError) as err:
        ledger.check_funds(
            {"credit:1:2": 100},
            [ledger.Posting("credit:1:2", -101, "fen"), ledger.Posting("payable:1", 101, "fen")],
        )
    assert err.value.account == "credit:1:2"
    ledger.check_funds(
        {}, [ledger.Posting("cash:1", -101, "fen"), ledger.Posting("payable:1", 101, "fen")]
    )


entitlement_st = st.builds(
    ledger.Entitlement,
    policy_id=st.integers(1, 6),
    kind=st.sampled_from([PolicyKind.CREDIT, PolicyKind.HOURS]),
    balance=st.integers(-100, 100_000),
    priority=st.integers(0, 3),
)


@settings(max_examples=300, deadline=None)
@given(
    amount=st.integers(0, 200_000),
    minutes=st.integers(0, 600),
    rights=st.lists(entitlement_st, max_size=4, unique_by=lambda e: e.policy_id),
)
def test_any_payment_balances_pays_in_full_and_never_overdraws(
    amount: int, minutes: int, rights: list[ledger.Entitlement]
) -> None:
    pay = ledger.plan_payment(
        elder_id=1, provider_id=2, amount_fen=amount, minutes=minutes, entitlements=rights
    )
    ledger.check_balanced(pay.postings)
    b = ledger.balances(pay.postings)
    assert b.get("payable:2", 0) == amount  # the provider is owed exactly the price
    assert pay.subsidy_fen + pay.self_pay_fen == amount
    assert pay.subsidy_fen == sum(pay.by_policy.values())
    start = {ledger.credit(1, e.policy_id): max(e.balance, 0) for e in rights}
    ledger.check_funds(start, pay.postings)  # never takes a credit below zero
    assert pay.minutes_used <= minutes
    # and its reversal restores every balance
    assert all(
        v == 0 for v in ledger.balances(pay.postings + ledger.reversal(pay.postings)).values()
    )
