"""Real concurrency on PostgreSQL (two sessions, two threads, one fresh database): two
confirmations of one order pay once and the loser is told why; two submissions of one form
(same idempotency key) make one order."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import temporary_pg_database
from yiyang.accounts.models import User
from yiyang.accounts.service import actor_for
from yiyang.core import db
from yiyang.core.clock import local_zone, today_local
from yiyang.core.errors import Conflict
from yiyang.core.migrate import upgrade
from yiyang.services import dispatch, orders
from yiyang.services.models import Caregiver, ServiceItem, ServiceOrder
from yiyang.services.schemas import OrderCreate
from yiyang.subsidies.models import LedgerEntry

pytestmark = [pytest.mark.api, pytest.mark.postgres]


@pytest.fixture(scope="module")
def fresh_pg() -> Iterator[Engine]:
    from yiyang.demo.load import load

    with temporary_pg_database("yiyang_conc") as url:
        engine = db.make_engine(url)
        upgrade(engine)
        previous = (db._engine, db._factory)
        db.set_engine(engine)
        with db.unit_of_work() as s:
            load(s, 80, seed=3)
        db._engine, db._factory = previous
        yield engine
        engine.dispose()


def race(engine: Engine, work: Callable[[Session], Any], n: int = 2) -> list[Any]:
    """Run ``work`` in ``n`` threads at once, each in its own committed transaction."""
    factory = sessionmaker(engine, expire_on_commit=False)
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        with factory() as s:
            barrier.wait()
            try:
                results[i] = work(s)
                s.commit()
            except Conflict as exc:
                s.rollback()
                results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _actor(s: Session, username: str):  # type: ignore[no-untyped-def]
    return actor_for(s.scalars(select(User).where(User.username == username)).one())


def _order_data(s: Session) -> OrderCreate:
    community = s.scalar(select(User.region_path).where(User.username == "community"))
    from yiyang.registry.repository import readable

    elder = s.scalars(readable(_actor(s, "community")).limit(1)).one()
    assert elder.region_path == community
    item = s.scalar(select(ServiceItem.id).where(ServiceItem.code == "HAIR"))
    at = dt.datetime.combine(today_local() + dt.timedelta(days=1), dt.time(10), tzinfo=local_zone())
    return OrderCreate(elder_id=elder.id, item_id=item, scheduled_at=at)


def test_two_submissions_with_one_key_make_one_order(fresh_pg: Engine) -> None:
    with Session(fresh_pg) as s:
        data = _order_data(s)

    def submit(s: Session) -> int:
        order, _created = orders.place_order(s, _actor(s, "community"), data, "same-form")
        return order.id

    ids = race(fresh_pg, submit)
    assert ids[0] == ids[1]
    with Session(fresh_pg) as s:
        n = s.scalar(
            select(func.count())
            .select_from(ServiceOrder)
            .where(ServiceOrder.idempotency_key == "same-form")
        )
    assert n == 1


def test_two_confirmations_pay_once(fresh_pg: Engine) -> None:
    with sessionmaker(fresh_pg, expire_on_commit=False)() as s:
        data = _order_data(s)
        community, provider, caregiver = (
            _actor(s, u) for u in ("community", "provider", "caregiver")
        )
        order, _ = orders.place_order(s, community, data, "conc-confirm")
        aunt = s.scalar(select(Caregiver.id).where(Caregiver.user_id == caregiver.user_id))
        dispatch.assign(s, provider, order.id, aunt)
        orders.accept(s, caregiver, order.id)
        orders.check_in(s, caregiver, order.id, None, None)
        orders.check_out(s, caregiver, order.id, None, None)
        s.commit()
        oid = order.id

    def confirm(s: Session) -> str:
        return orders.confirm(s, _actor(s, "community"), oid).state

    results = race(fresh_pg, confirm)
    assert sorted(map(type, results), key=str) == sorted([str, Conflict], key=str)
    loser = next(r for r in results if isinstance(r, Conflict))
    assert loser.to_dict()["code"] == "wrong_state" and loser.to_dict()["state"] == "confirmed"
    with Session(fresh_pg) as s:
        keys = s.scalars(select(LedgerEntry.key).where(LedgerEntry.order_id == oid)).all()
    assert keys == [f"pay:{oid}:1"]
