"""Home services benchmarks (issue #6), on PostgreSQL at 127.0.0.1:5432.

1. Month-end settlement for ``--elders`` elders and ``--orders`` confirmed orders: the month's
   orders are generated and paid (subsidy first) into the ledger beforehand; the timed run is
   what the district does at month end — close the month (expire what does not carry over,
   allocate next month for every eligible elder) and settle every provider's statement — plus
   one provider's XLSX statement on its own.
2. Dispatch suggestion: one provider with ``--caregivers`` caregivers (3 jobs each already
   booked that day); ``--suggest`` orders each ranked through ``services.dispatch.suggest``
   (queries + pure ranking), p50/p95/max.

    .venv/bin/python bench/services_bench.py                 # 100,000 elders, 1,000,000 orders
    .venv/bin/python bench/services_bench.py --orders 100000 # quicker
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select, text

sys.path.insert(0, str(Path(__file__).parent))
from alarm_bench import pct, recreate_database

DB = "yiyang_services_bench"


def _table(model: Any) -> Table:
    t = model.__table__
    assert isinstance(t, Table)
    return t


def seed(session: Any, elders: int, orders: int, providers: int, period: str) -> dict[str, Any]:
    from yiyang.core.bulk import insert_returning_ids, insert_rows
    from yiyang.demo.load import load
    from yiyang.regions.models import Region
    from yiyang.registry.models import Elder, ElderCategory
    from yiyang.services.models import Provider, ServiceItem, ServiceOrder
    from yiyang.subsidies import ledger
    from yiyang.subsidies import service as subsidies
    from yiyang.subsidies.eligibility import month_start
    from yiyang.subsidies.enums import EntryKind

    t0 = time.perf_counter()
    load(session, 100, seed=3)
    rnd = random.Random(5)
    communities = list(
        session.execute(select(Region.id, Region.path).where(Region.level == "community"))
    )
    now = dt.datetime.now(dt.UTC)
    rows = []
    for i in range(elders):
        rid, path = rnd.choice(communities)
        rows.append(
            {
                "name": f"老人{i:06d}",
                "gender": "female" if i % 2 else "male",
                "birth_date": dt.date(1930 + i % 30, 1 + i % 12, 1 + i % 28),
                "id_number": f"B{i:017d}",
                "id_tail": f"{i % 10000:04d}",
                "address": f"测试路{i}号",
                "region_id": rid,
                "region_path": path,
                "household": "alone",
                "care_level": rnd.choice([None, 0, 1, 2, 3, 4, 5, 6]),
                "chronic_conditions": [],
                "allergies": [],
                "medications": [],
                "mobility": "independent",
                "dementia": False,
                "consent_data_processing": True,
                "consent_health_monitoring": True,
                "consent_share_with_family": True,
                "status": "active",
                "created_at": now,
                "updated_at": now,
                "version": 1,
                "latitude": 31.17 + rnd.uniform(-0.03, 0.03),
                "longitude": 121.44 + rnd.uniform(-0.03, 0.03),
            }
        )
    conn = session.connection()
    elder_ids = insert_returning_ids(conn, _table(Elder), rows)
    paths = {e: r["region_path"] for e, r in zip(elder_ids, rows, strict=True)}
    cats = []
    for e in elder_ids:
        x = rnd.random()
        if x < 0.08:
            cats.append({"elder_id": e, "category": "extreme_poverty"})
        elif x < 0.20:
            cats.append({"elder_id": e, "category": "minimum_living"})
    insert_rows(conn, _table(ElderCategory), cats)
    base = session.scalars(select(ServiceItem).where(ServiceItem.provider_id == 1)).all()
    provider_ids = [1]
    for p in range(2, providers + 1):
        prov = Provider(
            name=f"服务商{p:02d}",
            licence_no=f"BENCH{p:06d}",
            contact_name="经理",
            contact_phone="13900000000",
            region_path="/310104000000/",
            areas=["/310104000000/"],
        )
        session.add(prov)
        session.flush()
        provider_ids.append(prov.id)
        for it in base:
            session.add(
                ServiceItem(
                    provider_id=prov.id,
                    code=it.code,
                    name=it.name,
                    category=it.category,
                    unit=it.unit,
                    price_fen=it.price_fen,
                    duration_min=it.duration_min,
                    required_skill=it.required_skill,
                    policy_ids=it.policy_ids,
                )
            )
    session.flush()
    items = {(i.provider_id, i.code): i for i in session.scalars(select(ServiceItem))}
    print(
        f"  {elders:,} elders, {len(cats):,} with a subsidy category, {providers} providers"
        f" in {time.perf_counter() - t0:.0f}s",
        flush=True,
    )

    t0 = time.perf_counter()
    first = subsidies.open_month(session, period)  # the month's allocations, as on its first day
    print(
        f"  opened {period}: {first.allocations:,} allocations in {time.perf_counter() - t0:.1f}s",
        flush=True,
    )

    t0 = time.perf_counter()
    start = dt.datetime.combine(month_start(period), dt.time(8), tzinfo=dt.UTC)
    codes = ["HAIR", "CLEAN-2H", "BATH", "ESCORT", "REHAB"]
    order_rows = []
    for n in range(orders):
        e = elder_ids[rnd.randrange(elders)]
        pid = provider_ids[rnd.randrange(providers)]
        it = items[(pid, rnd.choice(codes))]
        qty = 2 if it.unit == "hour" else 1
        at = start + dt.timedelta(minutes=rnd.randrange(27 * 24 * 60))
        order_rows.append(
            {
                "elder_id": e,
                "region_path": paths[e],
                "provider_id": pid,
                "item_id": it.id,
                "state": "confirmed",
                "quantity": qty,
                "scheduled_at": at,
                "booked_minutes": it.duration_min * qty,
                "unit_price_fen": it.price_fen,
                "amount_fen": it.price_fen * qty,
                "address": "x",
                "placed_by_name": "bench",
                "idempotency_key": f"b{n}",
                "confirm_code": "000000",
                "flags": [],
                "confirmed_at": at + dt.timedelta(hours=2),
                "confirmed_via": "code",
                "pay_with": "subsidy_first",
                "pay_round": 1,
                "subsidy_fen": 0,
                "self_pay_fen": 0,
                "created_at": at,
                "updated_at": at,
                "version": 1,
            }
        )
    order_ids = insert_returning_ids(conn, _table(ServiceOrder), order_rows)
    print(f"  {orders:,} confirmed orders in {time.perf_counter() - t0:.0f}s", flush=True)

    # pay them (subsidy first) against running balances, exactly as confirmation does one by one
    t0 = time.perf_counter()
    bal: dict[str, int] = {}
    for key, amount in session.execute(
        text(
            "SELECT a.key, SUM(p.amount) FROM ledger_account a"
            " JOIN ledger_posting p ON p.account_id = a.id"
            " WHERE a.kind = 'credit' GROUP BY a.key"
        )
    ):
        bal[key] = int(amount)
    kinds = {
        p.id: p.kind
        for p in session.scalars(
            select(__import__("yiyang.subsidies.models", fromlist=["SubsidyPolicy"]).SubsidyPolicy)
        )
    }
    entries, groups = [], []
    for oid, r in zip(order_ids, order_rows, strict=True):
        it_policies = items_by_id(items)[r["item_id"]].policy_ids
        rights = [
            ledger.Entitlement(p, kinds[p], bal.get(ledger.credit(r["elder_id"], p), 0))
            for p in it_policies
            if kinds[p] in ("credit", "hours")
        ]
        minutes = r["booked_minutes"] if items_by_id(items)[r["item_id"]].unit == "hour" else 0
        plan = ledger.plan_payment(
            elder_id=r["elder_id"],
            provider_id=r["provider_id"],
            amount_fen=r["amount_fen"],
            minutes=minutes,
            entitlements=rights,
        )
        for post in plan.postings:
            if post.account.startswith("credit:"):
                bal[post.account] = bal.get(post.account, 0) + post.amount
        entries.append(
            {
                "key": f"pay:{oid}:1",
                "kind": EntryKind.PAYMENT.value,
                "period": period,
                "order_id": oid,
                "meal_order_id": None,
                "provider_id": r["provider_id"],
                "elder_id": r["elder_id"],
                "reverses_id": None,
                "actor_id": None,
                "actor_name": "bench",
                "at": r["confirmed_at"],
            }
        )
        groups.append(plan.postings)
    subsidies._write(session, entries, groups, paths)
    n_postings = sum(len(g) for g in groups)
    print(
        f"  paid them: {len(entries):,} ledger entries, {n_postings:,} postings"
        f" in {time.perf_counter() - t0:.0f}s",
        flush=True,
    )
    return {"elders": elder_ids, "providers": provider_ids, "postings": n_postings}


_ITEMS: dict[int, Any] = {}


def items_by_id(items: dict[Any, Any]) -> dict[int, Any]:
    if not _ITEMS:
        _ITEMS.update({i.id: i for i in items.values()})
    return _ITEMS


def next_period(period: str) -> str:
    y, m = map(int, period.split("-"))
    return f"{y + (m == 12)}-{1 if m == 12 else m + 1:02d}"


def bench_dispatch(session: Any, caregivers: int, suggest: int) -> dict[str, float]:
    from yiyang.accounts.models import User
    from yiyang.accounts.service import actor_for
    from yiyang.core.bulk import insert_returning_ids, insert_rows
    from yiyang.core.clock import local_zone
    from yiyang.services import dispatch
    from yiyang.services.models import Caregiver, Certificate, ServiceItem, ServiceOrder

    rnd = random.Random(9)
    conn = session.connection()
    skills = ["cleaning", "bathing", "haircut", "escort", "rehab"]
    streets = [
        r[0] for r in session.execute(text("SELECT path FROM region WHERE level = 'street'"))
    ]
    rows = [
        {
            "provider_id": 1,
            "user_id": None,
            "name": f"护理员{i:04d}",
            "phone": "13900000000",
            "skills": rnd.sample(skills, 3),
            "areas": [rnd.choice(streets)] if i % 4 else ["/310104000000/"],
            "work_days": [0, 1, 2, 3, 4, 5, 6],
            "work_start": dt.time(7),
            "work_end": dt.time(19),
            "max_jobs_per_day": 8,
            "home_lat": 31.17 + rnd.uniform(-0.03, 0.03),
            "home_lon": 121.44 + rnd.uniform(-0.03, 0.03),
            "active": True,
            "created_at": dt.datetime.now(dt.UTC),
        }
        for i in range(caregivers)
    ]
    ids = insert_returning_ids(conn, session.get_bind().dialect and Caregiver.__table__, rows)  # type: ignore[arg-type]
    insert_rows(
        conn,
        Certificate.__table__,
        [
            {
                "caregiver_id": c,
                "skill": "bathing",
                "name": "护理员证",
                "number": str(c),
                "expires_on": dt.date(2030, 1, 1),
            }
            for c in ids
        ],
    )  # type: ignore[arg-type]
    day = dt.date.today() + dt.timedelta(days=3)
    elders = [
        r
        for r in session.execute(
            text(
                "SELECT id, region_path, latitude, longitude FROM elder"
                " WHERE latitude IS NOT NULL LIMIT 20000"
            )
        )
    ]
    items = {
        i.code: i for i in session.scalars(select(ServiceItem).where(ServiceItem.provider_id == 1))
    }
    booked = []
    for c in ids:  # three jobs each that day: 9:00, 13:00, 16:00
        for hour in (9, 13, 16):
            e = rnd.choice(elders)
            at = dt.datetime.combine(day, dt.time(hour), tzinfo=local_zone())
            booked.append(
                {
                    "elder_id": e.id,
                    "region_path": e.region_path,
                    "provider_id": 1,
                    "item_id": items["HAIR"].id,
                    "caregiver_id": c,
                    "state": "accepted",
                    "quantity": 1,
                    "scheduled_at": at,
                    "booked_minutes": 30,
                    "unit_price_fen": 2500,
                    "amount_fen": 2500,
                    "address": "x",
                    "home_lat": e.latitude,
                    "home_lon": e.longitude,
                    "placed_by_name": "bench",
                    "idempotency_key": f"d{c}:{hour}",
                    "confirm_code": "000000",
                    "flags": [],
                    "pay_with": "subsidy_first",
                    "pay_round": 0,
                    "subsidy_fen": 0,
                    "self_pay_fen": 0,
                    "created_at": at,
                    "updated_at": at,
                    "version": 1,
                }
            )
    targets = []
    for n in range(suggest):
        e = rnd.choice(elders)
        at = dt.datetime.combine(day, dt.time(10 + n % 3, 30), tzinfo=local_zone())
        targets.append(
            {
                **booked[0],
                "elder_id": e.id,
                "region_path": e.region_path,
                "caregiver_id": None,
                "state": "placed",
                "item_id": items["BATH"].id,
                "booked_minutes": 90,
                "scheduled_at": at,
                "home_lat": e.latitude,
                "home_lon": e.longitude,
                "idempotency_key": f"t{n}",
            }
        )
    insert_rows(conn, ServiceOrder.__table__, booked)  # type: ignore[arg-type]
    target_ids = insert_returning_ids(conn, ServiceOrder.__table__, targets)  # type: ignore[arg-type]
    session.commit()
    session.execute(text("ANALYZE"))
    actor = actor_for(session.scalars(select(User).where(User.username == "provider")).one())
    times = []
    found = 0
    for oid in target_ids:
        t = time.perf_counter()
        ranked = dispatch.suggest(session, actor, oid)
        times.append((time.perf_counter() - t) * 1000)
        found += bool(ranked and ranked[0].excluded is None)
        session.rollback()
    return {
        "p50": statistics.median(times),
        "p95": pct(times, 95),
        "max": max(times),
        "eligible_found": found,
        "n": len(times),
        "booked": len(booked),
    }


def month_end(engine: Any, period: str) -> None:
    from yiyang.core import audit, db
    from yiyang.services.models import Provider
    from yiyang.subsidies import service as subsidies
    from yiyang.subsidies import settlement

    print("month end:", flush=True)
    with audit.acting_as(audit.AuditActor(None, "bench")), db.unit_of_work() as session:
        t0 = time.perf_counter()
        run = subsidies.open_month(session, next_period(period))
        t_open = time.perf_counter() - t0
        t1 = time.perf_counter()
        statements = settlement.settle(session, period)
        t_settle = time.perf_counter() - t1
        session.commit()
        total = time.perf_counter() - t0
        biggest = max(statements, key=lambda s: s.orders)
        provider = session.get(Provider, biggest.provider_id)
        assert provider is not None
        t2 = time.perf_counter()
        xlsx = settlement.statement_xlsx(session, provider.name, biggest.provider_id, period)
        t_xlsx = time.perf_counter() - t2
    gross = sum(s.gross_fen for s in statements)
    orders = sum(s.orders for s in statements)
    print(
        f"  close {period} / open {next_period(period)}: {run.expiries:,} expiries"
        f" + {run.allocations:,} allocations in {t_open:.1f}s"
    )
    print(
        f"  settle {period}: {len(statements)} provider statements over {orders:,} paid"
        f" orders, {gross / 100:,.2f} yuan, in {t_settle:.1f}s"
    )
    print(f"  month-end total: {total:.1f}s (target ≤ 60 s)")
    print(
        f"  one provider's XLSX statement: {biggest.orders:,} lines,"
        f" {len(xlsx) / 1e6:.1f} MB in {t_xlsx:.1f}s"
    )


def main() -> None:
    from yiyang import domains

    domains.install()  # the domains' scoping rules, as the app and the CLI install them
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--elders", type=int, default=100_000)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--providers", type=int, default=20)
    ap.add_argument("--caregivers", type=int, default=2_000)
    ap.add_argument("--suggest", type=int, default=200)
    ap.add_argument("--only", choices=["settlement", "dispatch"], help="run one of the two")
    args = ap.parse_args()

    from yiyang.core import audit, db

    engine = recreate_database(DB)
    period = "2026-10"
    if args.only == "dispatch":
        args.elders, args.orders = 20_000, 0
    print(f"seeding {args.elders:,} elders and {args.orders:,} orders for {period} …", flush=True)
    with audit.acting_as(audit.AuditActor(None, "bench")), db.unit_of_work() as session:
        seed(session, args.elders, args.orders, args.providers, period)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    if args.only != "dispatch":
        month_end(engine, period)
    if args.only != "settlement":
        print(f"dispatch: {args.caregivers:,} caregivers …", flush=True)
        with db.unit_of_work() as session:
            d = bench_dispatch(session, args.caregivers, args.suggest)
        print(
            f"  {d['n']} suggestions among {args.caregivers:,} caregivers ({d['booked']:,} jobs"
            f" booked that day): p50 {d['p50']:.1f} ms, p95 {d['p95']:.1f} ms,"
            f" max {d['max']:.1f} ms (target p95 ≤ 50 ms); an eligible caregiver found for"
            f" {d['eligible_found']} of {d['n']}"
        )


if __name__ == "__main__":
    main()
