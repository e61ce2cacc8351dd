"""Home services through the API, on SQLite and PostgreSQL: placing (idempotent), dispatch,
on-site proof, confirmation that pays subsidy-first into the double-entry ledger, disputes
reversed by counter-entries, ratings, complaints, meals, settlement (XLSX) and the scope of
every list."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from yiyang.accounts.models import User, UserElderLink
from yiyang.audit.models import AuditEvent
from yiyang.core.clock import local_zone, today_local
from yiyang.notifications.models import Notification
from yiyang.registry.models import Elder, ElderCategory
from yiyang.services.models import Caregiver, OrderEvent, ServiceItem, ServiceOrder
from yiyang.subsidies import repository as ledger_repo
from yiyang.subsidies.models import LedgerEntry

pytestmark = pytest.mark.api

PERIOD = f"{today_local():%Y-%m}"


def tomorrow(hour: int = 10) -> str:
    day = today_local() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=local_zone()).isoformat()


def community_elder(session, *, category: str | None = None, skip: int = 0) -> Elder:  # type: ignore[no-untyped-def]
    path = session.scalar(select(User.region_path).where(User.username == "community"))
    elder = session.scalars(
        select(Elder)
        .where(Elder.region_path == path)
        .order_by(Elder.id.desc())
        .offset(skip)
        .limit(1)
    ).one()
    elder.latitude, elder.longitude = 31.2, 121.45
    session.query(ElderCategory).filter_by(elder_id=elder.id).delete()
    if category:
        session.add(ElderCategory(elder_id=elder.id, category=category))
    session.commit()
    return elder


def item_id(session, code: str) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(ServiceItem.id).where(ServiceItem.code == code))


def aunt_liu(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(Caregiver.id).where(Caregiver.name == "刘阿姨"))


def place(client, who, elder_id: int, item: int, key: str, **extra):  # type: ignore[no-untyped-def]
    body = {"elder_id": elder_id, "item_id": item, "scheduled_at": tomorrow(), **extra}
    return client.post("/api/orders", json=body, headers={**who.headers, "Idempotency-Key": key})


def deliver(client, session, login, order_id: int, *, code: bool = True):  # type: ignore[no-untyped-def]
    """Assign to 刘阿姨, accept, check in and out at the home (with the elder's code)."""
    provider, caregiver = login("provider"), login("caregiver")
    r = client.post(
        f"/api/orders/{order_id}/assign",
        json={"caregiver_id": aunt_liu(session)},
        headers=provider.headers,
    )
    assert r.status_code == 200, r.text
    assert (
        client.post(f"/api/orders/{order_id}/accept", headers=caregiver.headers).status_code == 200
    )
    r = client.post(
        f"/api/orders/{order_id}/check-in",
        json={"lat": 31.2001, "lon": 121.4501},
        headers=caregiver.headers,
    )
    assert r.status_code == 200, r.text
    body: dict[str, object] = {"lat": 31.2, "lon": 121.45}
    if code:
        body["code"] = client.get(
            f"/api/orders/{order_id}", headers=login("community").headers
        ).json()["confirm_code"]
    r = client.post(f"/api/orders/{order_id}/check-out", json=body, headers=caregiver.headers)
    assert r.status_code == 200, r.text
    return r.json()


def assert_ledger_sound(session) -> None:  # type: ignore[no-untyped-def]
    assert ledger_repo.unbalanced_entries(session) == []
    assert ledger_repo.negative_accounts(session) == []


def test_order_flow_pays_subsidy_first_with_proof_and_trail(client, login, session) -> None:
    elder = community_elder(session, category="extreme_poverty")
    r = client.post(
        "/api/subsidies/months/open", json={"period": PERIOD}, headers=login("district").headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["allocations"] >= 1
    community = login("community")
    r = place(client, community, elder.id, item_id(session, "BATH"), "flow-1")
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["state"] == "placed" and order["amount_fen"] == 12000
    # dispatch suggestions: eligible caregivers only, 刘阿姨 among them, each with its reason
    sugg = client.get(f"/api/orders/{order['id']}/suggestions", headers=login("provider").headers)
    assert sugg.status_code == 200, sugg.text
    assert all(s["excluded"] is None for s in sugg.json())
    assert aunt_liu(session) in [s["caregiver_id"] for s in sugg.json()]
    caregiver = login("caregiver")
    provider = login("provider")
    client.post(
        f"/api/orders/{order['id']}/assign",
        json={"caregiver_id": aunt_liu(session)},
        headers=provider.headers,
    )
    client.post(f"/api/orders/{order['id']}/accept", headers=caregiver.headers)
    r = client.post(
        f"/api/orders/{order['id']}/check-in",
        json={"lat": 31.21, "lon": 121.45},
        headers=caregiver.headers,
    )
    assert r.status_code == 200 and "far_checkin" in r.json()["flags"]  # ~1.1 km from the home
    again = client.post(
        f"/api/orders/{order['id']}/check-in",
        json={"lat": 31.2, "lon": 121.45},
        headers=caregiver.headers,
    )
    assert again.status_code == 409 and again.json()["detail"]["code"] == "already_checked_in"
    wrong = client.post(
        f"/api/orders/{order['id']}/check-out", json={"code": "000000x"}, headers=caregiver.headers
    )
    assert wrong.status_code == 422
    code = client.get(f"/api/orders/{order['id']}", headers=community.headers).json()[
        "confirm_code"
    ]
    r = client.post(
        f"/api/orders/{order['id']}/check-out",
        json={"lat": 31.2, "lon": 121.45, "code": code},
        headers=caregiver.headers,
    )
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["state"] == "confirmed" and done["confirmed_via"] == "code"
    assert done["subsidy_fen"] == 12000 and done["self_pay_fen"] == 0
    assert "short_service" in done["flags"]  # checked out minutes after checking in
    balances = client.get(
        f"/api/subsidies/elders/{elder.id}/balances", headers=community.headers
    ).json()
    tk = next(b for b in balances if b["kind"] == "credit")
    assert tk["balance"] == 60000 - 12000
    session.expire_all()
    actions = session.scalars(
        select(OrderEvent.action).where(OrderEvent.order_id == order["id"]).order_by(OrderEvent.id)
    ).all()
    assert actions == ["place", "assign", "accept", "check_in", "check_out", "confirm"]
    audited = session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "service_order",
            AuditEvent.entity_id == str(order["id"]),
            AuditEvent.action == "update",
        )
    ).all()
    assert any(
        a.after.get("state") == "confirmed" and a.before.get("state") == "completed"
        for a in audited
    )
    assert_ledger_sound(session)


def test_double_submit_returns_the_first_order_and_a_reused_key_is_refused(
    client, login, session
) -> None:
    elder = community_elder(session)
    community = login("community")
    first = place(client, community, elder.id, item_id(session, "HAIR"), "dup-1")
    second = place(client, community, elder.id, item_id(session, "HAIR"), "dup-1")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    other = place(client, community, elder.id, item_id(session, "BATH"), "dup-1")
    assert other.status_code == 409 and other.json()["detail"]["code"] == "idempotency_mismatch"
    n = session.scalar(
        select(func.count())
        .select_from(ServiceOrder)
        .where(ServiceOrder.idempotency_key == "dup-1")
    )
    assert n == 1


def test_bad_orders_get_clear_errors(client, login, session) -> None:
    elder = community_elder(session)
    community = login("community")
    past = {
        "elder_id": elder.id,
        "item_id": item_id(session, "HAIR"),
        "scheduled_at": "2020-01-01T10:00:00+08:00",
    }
    r = client.post("/api/orders", json=past, headers=community.headers)
    assert r.status_code == 422 and r.json()["detail"]["field"] == "scheduled_at"
    # paying beyond the balance: subsidy only, and this elder has no subsidy
    r = place(
        client, community, elder.id, item_id(session, "BATH"), "poor-1", pay_with="subsidy_only"
    )
    assert r.status_code == 409 and r.json()["detail"]["code"] == "insufficient_balance"
    assert "0.00" in r.json()["detail"]["message"] and "120.00" in r.json()["detail"]["message"]
    # confirming a cancelled order
    r = place(client, community, elder.id, item_id(session, "HAIR"), "cancel-1")
    oid = r.json()["id"]
    assert (
        client.post(
            f"/api/orders/{oid}/cancel", json={"reason": "去医院了"}, headers=community.headers
        ).status_code
        == 200
    )
    r = client.post(f"/api/orders/{oid}/confirm", json={}, headers=community.headers)
    assert r.status_code == 409 and r.json()["detail"]["code"] == "wrong_state"
    # an assignment the rules exclude: a caregiver without the skill
    r = place(client, community, elder.id, item_id(session, "REHAB"), "rehab-1")
    unskilled = session.scalar(
        select(Caregiver).where(~Caregiver.name.in_(["刘阿姨"])).order_by(Caregiver.id)
    )
    if "rehab" in unskilled.skills:
        unskilled.skills = ["cleaning"]
        session.commit()
    r = client.post(
        f"/api/orders/{r.json()['id']}/assign",
        json={"caregiver_id": unskilled.id},
        headers=login("provider").headers,
    )
    assert r.status_code == 422 and "skill" in r.json()["detail"]["message"]


def test_dispute_reverses_the_payment_by_a_counter_entry(client, login, session) -> None:
    elder = community_elder(session, skip=1)
    community = login("community")
    oid = place(client, community, elder.id, item_id(session, "HAIR"), "disp-1").json()["id"]
    deliver(client, session, login, oid, code=False)
    r = client.post(f"/api/orders/{oid}/confirm", json={}, headers=community.headers)
    assert r.status_code == 200 and r.json()["self_pay_fen"] == 2500  # no subsidy: all self-pay
    r = client.post(
        f"/api/orders/{oid}/dispute", json={"reason": "只剪了一半"}, headers=community.headers
    )
    assert r.status_code == 200 and r.json()["state"] == "disputed"
    session.expire_all()
    entries = session.scalars(
        select(LedgerEntry).where(LedgerEntry.order_id == oid).order_by(LedgerEntry.id)
    ).all()
    assert [e.kind for e in entries] == ["payment", "reversal"]
    assert entries[1].reverses_id == entries[0].id
    paid = ledger_repo.postings_of(session, entries[0].id)
    back = ledger_repo.postings_of(session, entries[1].id)
    assert sorted((p.account, -p.amount) for p in paid) == sorted(
        (p.account, p.amount) for p in back
    )
    assert ledger_repo.balances_by_key(session, ["payable:1"])["payable:1"] >= 0
    # the street finds the dispute unfounded: the service stands and is paid again
    r = client.post(
        f"/api/orders/{oid}/dispute/resolve?upheld=false",
        json={"reason": "回访确认已完成"},
        headers=login("street").headers,
    )
    assert r.status_code == 200 and r.json()["state"] == "confirmed"
    session.expire_all()
    keys = session.scalars(
        select(LedgerEntry.key).where(LedgerEntry.order_id == oid).order_by(LedgerEntry.id)
    ).all()
    assert keys == [f"pay:{oid}:1", f"reverse:{oid}:1", f"pay:{oid}:2"]
    assert_ledger_sound(session)
    # the provider was told about the dispute through the outbox
    assert (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.payload["order_id"].as_integer() == oid)
        )
        >= 1
    )


def test_ratings_and_scores(client, login, session) -> None:
    elder = community_elder(session, skip=2)
    community = login("community")
    oid = place(client, community, elder.id, item_id(session, "HAIR"), "rate-1").json()["id"]
    early = client.post(f"/api/orders/{oid}/rating", json={"stars": 5}, headers=community.headers)
    assert early.status_code == 409  # not yet confirmed
    deliver(client, session, login, oid)
    r = client.post(
        f"/api/orders/{oid}/rating",
        json={"stars": 5, "comment": "很细心"},
        headers=community.headers,
    )
    assert r.status_code == 201, r.text
    assert (
        client.post(
            f"/api/orders/{oid}/rating", json={"stars": 1}, headers=community.headers
        ).status_code
        == 409
    )
    score = client.get(
        f"/api/scores/caregiver/{aunt_liu(session)}", headers=community.headers
    ).json()
    assert score["count"] == 1 and score["mean"] == 5.0
    from yiyang.services.models import Rating

    total, n = session.execute(select(func.sum(Rating.stars), func.count(Rating.id))).one()
    mean = total / n  # the platform-wide prior
    assert score["score"] == pytest.approx((10 * mean + 5) / 11, abs=1e-3)


def test_complaint_workflow_with_deadlines(client, login, session) -> None:
    elder = community_elder(session)
    community = login("community")
    oid = place(client, community, elder.id, item_id(session, "HAIR"), "comp-1").json()["id"]
    r = client.post(
        "/api/complaints",
        json={"order_id": oid, "category": "late", "description": "迟到一个小时"},
        headers=community.headers,
    )
    assert r.status_code == 201, r.text
    c = r.json()
    opened = dt.datetime.fromisoformat(c["opened_at"])
    assert dt.datetime.fromisoformat(c["respond_by"]) - opened == dt.timedelta(days=1)
    assert dt.datetime.fromisoformat(c["due_at"]) - opened == dt.timedelta(days=7)
    assert (
        client.post(
            f"/api/complaints/{c['id']}/investigate", json={}, headers=community.headers
        ).status_code
        == 403
    )
    street = login("street")
    assert (
        client.post(
            f"/api/complaints/{c['id']}/resolve", json={"reason": "已处理"}, headers=street.headers
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/api/complaints/{c['id']}/investigate", json={}, headers=street.headers
        ).json()["state"]
        == "investigating"
    )
    r = client.post(
        f"/api/complaints/{c['id']}/resolve",
        json={"reason": "已约谈护理员并道歉"},
        headers=street.headers,
    )
    assert r.json()["state"] == "resolved" and r.json()["handler_name"] == "街道 王主任"
    listed = client.get("/api/complaints", headers=login("provider").headers).json()
    assert [x["id"] for x in listed if x["id"] == c["id"]] == [c["id"]] and listed[0][
        "overdue"
    ] is False


def test_meals_with_per_meal_subsidy_and_settlement_statement(client, login, session) -> None:
    elder = community_elder(session, category="extreme_poverty")
    community = login("community")
    from yiyang.services.models import Menu

    menu = session.scalar(select(Menu).where(Menu.day == today_local(), Menu.meal == "lunch"))
    r = client.post(
        "/api/meals",
        json={"elder_id": elder.id, "menu_id": menu.id, "mode": "delivery"},
        headers=community.headers,
    )
    assert r.status_code == 201, r.text
    meal = r.json()
    assert (meal["price_fen"], meal["subsidy_fen"], meal["self_pay_fen"]) == (1500, 1000, 500)
    dup = client.post(
        "/api/meals", json={"elder_id": elder.id, "menu_id": menu.id}, headers=community.headers
    )
    assert dup.status_code == 409
    provider = login("provider")
    assert (
        client.post(f"/api/meals/{meal['id']}/serve", headers=provider.headers).status_code == 200
    )
    assert (
        client.post(f"/api/meals/{meal['id']}/serve", headers=provider.headers).status_code == 409
    )
    # a service order in the same month, then settle
    oid = place(client, community, elder.id, item_id(session, "HAIR"), "settle-1").json()["id"]
    deliver(client, session, login, oid)
    r = client.post(
        "/api/subsidies/months/settle", json={"period": PERIOD}, headers=login("district").headers
    )
    assert r.status_code == 200, r.text
    st = next(s for s in r.json() if s["provider_id"] == 1)
    assert st["meals"] >= 1 and st["orders"] >= 1
    assert st["gross_fen"] == st["subsidy_fen"] + st["self_pay_fen"]
    x = client.get(f"/api/subsidies/statements/1/{PERIOD}.xlsx", headers=provider.headers)
    assert x.status_code == 200
    wb = load_workbook(io.BytesIO(x.content))
    rows = list(wb.worksheets[1].iter_rows(values_only=True))
    assert elder.name in [row[4] for row in rows[1:]]
    assert round(sum(row[6] for row in rows[1:]), 2) == st["gross_fen"] / 100
    assert (
        client.get(
            f"/api/subsidies/statements/2/{PERIOD}.xlsx", headers=provider.headers
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/subsidies/statements?period={PERIOD}", headers=community.headers
        ).status_code
        == 403
    )
    report = client.get(
        f"/api/subsidies/report?period={PERIOD}&depth=3", headers=login("street").headers
    )
    assert report.status_code == 200
    street_path = session.scalar(select(User.region_path).where(User.username == "street"))
    assert all(row["region_path"].startswith(street_path) for row in report.json())
    assert_ledger_sound(session)


def test_unaccepted_assignment_escalates_to_the_provider(client, login, session) -> None:
    from yiyang.core.clock import now
    from yiyang.services.timers import escalate_unaccepted

    elder = community_elder(session)
    oid = place(client, login("community"), elder.id, item_id(session, "HAIR"), "esc-1").json()[
        "id"
    ]
    client.post(
        f"/api/orders/{oid}/assign",
        json={"caregiver_id": aunt_liu(session)},
        headers=login("provider").headers,
    )
    session.expire_all()
    order = session.get(ServiceOrder, oid)
    assert escalate_unaccepted(session, now()) == 0  # not yet due
    assert escalate_unaccepted(session, order.accept_due_at + dt.timedelta(seconds=1)) >= 1
    session.expire_all()
    assert session.get(ServiceOrder, oid).escalated_at is not None
    sms = session.scalars(
        select(Notification).where(Notification.payload["order_id"].as_integer() == oid)
    ).all()
    assert {n.channel for n in sms} == {"sms", "email"}
    assert all(n.recipient in ("13900000001", "provider@example.org") for n in sms)


def test_recurring_orders_are_generated_once(client, login, session) -> None:
    elder = community_elder(session)
    community = login("community")
    body = {
        "elder_id": elder.id,
        "item_id": item_id(session, "CLEAN-2H"),
        "weekdays": [0, 1, 2, 3, 4, 5, 6],
        "time_of_day": "15:00",
        "starts_on": str(today_local()),
    }
    r = client.post("/api/order-series", json=body, headers=community.headers)
    assert r.status_code == 201, r.text
    made = r.json()["orders_created"]
    assert 13 <= made <= 14  # today's 15:00 may already have passed
    from yiyang.core.clock import now
    from yiyang.services.models import OrderSeries
    from yiyang.services.series import materialize

    session.expire_all()
    series = session.get(OrderSeries, r.json()["id"])
    actor_user = session.scalar(select(User).where(User.username == "community"))
    from yiyang.accounts.service import actor_for

    assert materialize(session, actor_for(actor_user), series, now()) == 0


@pytest.mark.parametrize("username", ["doctor", "volunteer"])
def test_roles_without_orders_get_403(client, login, username) -> None:
    who = login(username)
    assert client.get("/api/orders", headers=who.headers).status_code == 403
    assert client.post("/api/orders", json={}, headers=who.headers).status_code in (403, 422)


def test_every_order_list_is_scoped(client, login, session) -> None:
    elder = community_elder(session)
    community = login("community")
    mine = place(client, community, elder.id, item_id(session, "HAIR"), "scope-1").json()["id"]
    outsider = session.scalar(
        select(Elder)
        .where(
            ~Elder.region_path.startswith(
                session.scalar(select(User.region_path).where(User.username == "street"))
            )
        )
        .limit(1)
    )
    theirs = place(
        client, login("district"), outsider.id, item_id(session, "HAIR"), "scope-2"
    ).json()["id"]

    def ids(who: str) -> set[int]:
        return {o["id"] for o in client.get("/api/orders", headers=login(who).headers).json()}

    assert mine in ids("community") and theirs not in ids("community")
    assert {mine, theirs} <= ids("district") and {mine, theirs} <= ids("provider")
    assert client.get(f"/api/orders/{theirs}", headers=community.headers).status_code == 404
    # the caregiver sees only jobs assigned to them
    assert mine not in ids("caregiver")
    client.post(
        f"/api/orders/{mine}/assign",
        json={"caregiver_id": aunt_liu(session)},
        headers=login("provider").headers,
    )
    assert mine in ids("caregiver") and theirs not in ids("caregiver")
    # family: only the linked elder's orders
    family_id = session.scalar(select(User.id).where(User.username == "family"))
    linked = set(
        session.scalars(select(UserElderLink.elder_id).where(UserElderLink.user_id == family_id))
    )
    assert all(
        o["elder_id"] in linked
        for o in client.get("/api/orders", headers=login("family").headers).json()
    )
    # another provider's admin sees nothing of provider 1
    from yiyang.accounts.service import create_user
    from yiyang.core.roles import Role

    create_user(
        session,
        username="provider2",
        password="Yiyang@2026",
        display_name="另一家",
        role=Role.PROVIDER_ADMIN,
        region_code="310104000000",
        provider_id=99,
    )
    session.commit()
    assert ids("provider2") == set()
    assert client.get("/api/caregivers", headers=login("provider2").headers).json() == []
    assert len(client.get("/api/caregivers", headers=login("provider").headers).json()) >= 12
    assert client.get("/api/caregivers", headers=community.headers).json() == []
    mine_only = client.get("/api/caregivers", headers=login("caregiver").headers).json()
    assert [c["name"] for c in mine_only] == ["刘阿姨"]
    assert client.get(f"/api/orders/{mine}", headers=login("provider2").headers).status_code == 404


def test_timer_flags_a_missing_check_out(client, login, session) -> None:
    from yiyang.services.timers import tick

    elder = community_elder(session)
    oid = place(client, login("community"), elder.id, item_id(session, "HAIR"), "tick-1").json()[
        "id"
    ]
    caregiver = login("caregiver")
    client.post(
        f"/api/orders/{oid}/assign",
        json={"caregiver_id": aunt_liu(session)},
        headers=login("provider").headers,
    )
    client.post(f"/api/orders/{oid}/accept", headers=caregiver.headers)
    client.post(f"/api/orders/{oid}/check-in", json={}, headers=caregiver.headers)
    session.expire_all()
    order = session.get(ServiceOrder, oid)
    soon = order.checkin_at + dt.timedelta(minutes=order.booked_minutes + 60)
    assert tick(session, soon)["missing_checkouts"] == 0
    late = order.checkin_at + dt.timedelta(minutes=order.booked_minutes + 121)
    assert tick(session, late)["missing_checkouts"] >= 1
    session.expire_all()
    assert "missing_checkout" in session.get(ServiceOrder, oid).flags
    # checking out at last clears the flag (and judges the service by its real length)
    r = client.post(f"/api/orders/{oid}/check-out", json={}, headers=caregiver.headers)
    assert r.status_code == 200 and "missing_checkout" not in r.json()["flags"]
