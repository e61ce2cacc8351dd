"""The staff order form (#19): the elder is found as typed (name, ID tail, phone) among the
elders in the actor's scope, a bad choice is a field error on the HTML page, and the order is
placed only after a confirmation step that shows the price, the subsidy's share and the elder's
own share — the figures the ledger then charges — refusing when the price changed meanwhile."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from yiyang.accounts.models import User
from yiyang.accounts.service import actor_for
from yiyang.core.clock import local_zone, today_local
from yiyang.registry.models import Elder
from yiyang.services import orders
from yiyang.services.models import ServiceItem, ServiceOrder
from yiyang.services.schemas import OrderCreate
from yiyang.subsidies import ledger
from yiyang.subsidies import service as subsidies
from yiyang.subsidies.enums import EntryKind
from yiyang.subsidies.models import LedgerAccount, LedgerPosting, SubsidyPolicy

pytestmark = pytest.mark.pages


def _path(session, username: str = "community") -> str:  # type: ignore[no-untyped-def]
    return session.scalar(select(User.region_path).where(User.username == username))


def _actor(session, username: str = "community"):  # type: ignore[no-untyped-def]
    return actor_for(session.scalars(select(User).where(User.username == username)).one())


def _in_scope(session) -> list[Elder]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(Elder)
            .where(Elder.region_path == _path(session), Elder.status == "active")
            .order_by(Elder.id)
            .limit(40)
        )
    )


def _time() -> str:
    at = dt.datetime.combine(today_local() + dt.timedelta(days=1), dt.time(10))
    return at.strftime("%Y-%m-%dT%H:%M")


def _form(csrf: str, elder_id: object, item_id: int, **more: object) -> dict[str, object]:
    return {
        "csrf_token": csrf,
        "elder_id": elder_id,
        "item_id": item_id,
        "scheduled_at": _time(),
        "quantity": 1,
        "idempotency_key": "k" + str(elder_id)[:20],
        **more,
    }


def _hair(session) -> ServiceItem:  # type: ignore[no-untyped-def]
    return session.scalars(select(ServiceItem).where(ServiceItem.code == "HAIR")).one()


def _credit(session, elder_id: int, policy_id: int) -> int:  # type: ignore[no-untyped-def]
    return int(
        session.scalar(
            select(func.coalesce(func.sum(LedgerPosting.amount), 0))
            .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
            .where(LedgerAccount.key == f"credit:{elder_id}:{policy_id}")
        )
    )


def _subsidised_and_not(session) -> tuple[Elder, Elder]:  # type: ignore[no-untyped-def]
    """An elder whose TK credit pays a haircut in full (given this month's allocation through
    the ledger when the demo has none) and one without any credit."""
    item = _hair(session)
    tk = session.scalar(select(SubsidyPolicy.id).where(SubsidyPolicy.code == "TK-CREDIT"))
    elders = _in_scope(session)
    poor = next(e for e in elders[1:] if _credit(session, e.id, tk) == 0)
    rich = elders[0]
    if _credit(session, rich.id, tk) < item.price_fen * 2:
        subsidies.post(
            session,
            key=f"alloc:{tk}:{rich.id}:test",
            kind=EntryKind.ALLOCATION,
            period=f"{today_local():%Y-%m}",
            postings=ledger.allocation(rich.id, tk, "credit", 60000),
            region_paths={rich.id: rich.region_path},
            elder_id=rich.id,
        )
        session.flush()
    return rich, poor


# --- the elder search -----------------------------------------------------------------------


def test_search_by_name_id_tail_and_phone_within_scope(client, browser_login, session) -> None:
    browser_login("community")
    elder = next(e for e in _in_scope(session) if e.mobile_phone)
    for q in (elder.name, elder.id_number[-4:], elder.mobile_phone):
        r = client.get("/elders/choices", params={"q": q})
        assert r.status_code == 200 and f'id="choice-{elder.id}"' in r.text, q
        assert 'name="elder_id"' in r.text
    # an elder of another community is not listed, even by their full name
    outside = session.scalars(
        select(Elder).where(~Elder.region_path.startswith(_path(session))).order_by(Elder.id)
    ).first()
    r = client.get("/elders/choices", params={"q": outside.name})
    assert f'id="choice-{outside.id}"' not in r.text
    r = client.get("/elders/choices", params={"q": outside.id_number[-4:]})
    assert f'id="choice-{outside.id}"' not in r.text
    # the form has the search box wired to the fragment
    page = client.get("/orders/new")
    assert 'hx-get="/elders/choices"' in page.text and 'id="elder-choices"' in page.text


def test_search_masks_as_the_registry(client, browser_login, session) -> None:
    browser_login("operator")  # sees phones, never the ID number
    elder = _in_scope(session)[0]
    r = client.get("/elders/choices", params={"q": elder.id_number[-4:]})
    assert r.status_code == 200 and elder.id_number not in r.text


@pytest.mark.parametrize("value", ["张三", "", "99999999"])
def test_a_bad_elder_is_a_field_error_on_the_page(client, browser_login, session, value) -> None:
    csrf = browser_login("community")
    r = client.post("/orders/new", data=_form(csrf, value, _hair(session).id))
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert 'id="err-elder_id"' in r.text and '"detail"' not in r.text
    assert "Choose the elder from the search results." in r.text or "No such elder" in r.text


def test_an_out_of_scope_elder_is_refused_beside_the_field(client, browser_login, session) -> None:
    csrf = browser_login("community")
    outside = session.scalars(
        select(Elder).where(~Elder.region_path.startswith(_path(session))).order_by(Elder.id)
    ).first()
    r = client.post("/orders/new", data=_form(csrf, outside.id, _hair(session).id))
    assert r.status_code == 422 and 'id="err-elder_id"' in r.text
    assert session.scalar(select(func.count()).where(ServiceOrder.elder_id == outside.id)) == 0


def test_without_js_enter_in_the_search_lists_the_choices(client, browser_login, session) -> None:
    csrf = browser_login("community")
    elder = _in_scope(session)[0]
    form = _form(csrf, "", _hair(session).id, q=elder.name)
    r = client.post("/orders/new", data=form)
    assert r.status_code == 422 and f'id="choice-{elder.id}"' in r.text


# --- the price confirmation -----------------------------------------------------------------


def _figures(text: str) -> tuple[int, int, int]:
    def fen(key: str) -> int:
        m = re.search(rf'id="quote-{key}">(?:<strong>)?([\d.]+)', text)
        assert m, key
        return round(float(m.group(1)) * 100)

    return fen("amount"), fen("subsidy"), fen("self-pay")


def _place_and_charge(
    client, session, csrf: str, elder: Elder
) -> tuple[tuple[int, int, int], ServiceOrder]:  # type: ignore[no-untyped-def]
    item = _hair(session)
    form = _form(csrf, elder.id, item.id)
    quoted = client.post("/orders/new", data=form)
    assert quoted.status_code == 200 and 'id="confirm-order"' in quoted.text
    shown = _figures(quoted.text)
    before = session.scalar(select(func.count()).select_from(ServiceOrder))
    assert before == session.scalar(select(func.count()).select_from(ServiceOrder))
    expected = re.search(r'name="expected_self_pay_fen" value="(\d+)"', quoted.text).group(1)
    placed = client.post(
        "/orders/new",
        data={**form, "step": "confirm", "expected_self_pay_fen": expected},
        follow_redirects=False,
    )
    assert placed.status_code == 303, placed.text
    order_id = int(placed.headers["location"].rsplit("/", 1)[1])
    order = session.get(ServiceOrder, order_id)
    order.state = "completed"  # the caregiver's steps, not under test here
    session.flush()
    orders.confirm(session, _actor(session), order_id)
    session.flush()
    return shown, order


def test_the_figures_shown_are_what_the_ledger_charges(client, browser_login, session) -> None:
    csrf = browser_login("community")
    rich, poor = _subsidised_and_not(session)
    shown, order = _place_and_charge(client, session, csrf, rich)
    assert shown == (order.amount_fen, order.subsidy_fen, order.self_pay_fen)
    assert order.subsidy_fen == order.amount_fen > 0  # subsidised in full
    shown, order = _place_and_charge(client, session, csrf, poor)
    assert shown == (order.amount_fen, order.subsidy_fen, order.self_pay_fen)
    assert order.subsidy_fen == 0 and order.self_pay_fen == order.amount_fen


def test_without_the_confirmation_nothing_is_placed(client, browser_login, session) -> None:
    csrf = browser_login("community")
    elder = _in_scope(session)[0]
    before = session.scalar(select(func.count()).select_from(ServiceOrder))
    for extra in ({}, {"step": "confirm"}, {"step": "place", "expected_self_pay_fen": "0"}):
        r = client.post("/orders/new", data=_form(csrf, elder.id, _hair(session).id, **extra))
        assert r.status_code == 200 and 'id="confirm-order"' in r.text
    assert session.scalar(select(func.count()).select_from(ServiceOrder)) == before


def test_a_price_changed_meanwhile_is_refused_with_the_new_figures(
    client, browser_login, session
) -> None:
    csrf = browser_login("community")
    _rich, poor = _subsidised_and_not(session)
    item = _hair(session)
    form = _form(csrf, poor.id, item.id)
    quoted = client.post("/orders/new", data=form)
    expected = re.search(r'name="expected_self_pay_fen" value="(\d+)"', quoted.text).group(1)
    item.price_fen += 500
    session.flush()
    r = client.post(
        "/orders/new", data={**form, "step": "confirm", "expected_self_pay_fen": expected}
    )
    assert r.status_code == 409 and 'id="form-error"' in r.text
    assert _figures(r.text)[2] == item.price_fen  # the new figures, to confirm again
    placed = select(func.count()).where(
        ServiceOrder.idempotency_key == form["idempotency_key"], ServiceOrder.elder_id == poor.id
    )
    assert session.scalar(placed) == 0


def test_the_api_refuses_a_changed_price_with_409(login, client, session) -> None:
    who = login("community")
    _rich, poor = _subsidised_and_not(session)
    item = _hair(session)
    at = dt.datetime.combine(today_local() + dt.timedelta(days=1), dt.time(10), tzinfo=local_zone())
    body = {"elder_id": poor.id, "item_id": item.id, "scheduled_at": at.isoformat()}
    q = client.post("/api/orders/quote", json=body, headers=who.headers)
    assert q.status_code == 200 and q.json()["self_pay_fen"] == item.price_fen
    r = client.post(
        "/api/orders",
        json={**body, "expected_self_pay_fen": item.price_fen - 1},
        headers=who.headers,
    )
    assert r.status_code == 409 and r.json()["detail"]["code"] == "price_changed"
    assert r.json()["detail"]["self_pay_fen"] == item.price_fen
    ok = client.post(
        "/api/orders", json={**body, "expected_self_pay_fen": item.price_fen}, headers=who.headers
    )
    assert ok.status_code == 201


def test_quote_is_the_ledgers_plan(session) -> None:
    rich, _poor = _subsidised_and_not(session)
    item = _hair(session)
    at = dt.datetime.combine(today_local() + dt.timedelta(days=1), dt.time(10), tzinfo=local_zone())
    q = orders.quote(
        session,
        _actor(session),
        OrderCreate(elder_id=rich.id, item_id=item.id, scheduled_at=at, quantity=2),
    )
    assert (q.amount_fen, q.subsidy_fen, q.self_pay_fen) == (5000, 5000, 0)
    assert q.balances and q.balances[0][1] == "fen"
