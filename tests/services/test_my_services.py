"""The elder's and family's own page (large print): the family confirms a delivered service
with one button, rates it with stars, sees the subsidy left and orders today's lunch at the
subsidised price; staff are sent to the board, and nobody reaches another family's elder."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from yiyang.accounts.models import User, UserElderLink
from yiyang.services.models import MealOrder, Rating, ServiceOrder

pytestmark = pytest.mark.pages


def _family_elder(session) -> int:  # type: ignore[no-untyped-def]
    uid = session.scalar(select(User.id).where(User.username == "family"))
    return session.scalar(select(UserElderLink.elder_id).where(UserElderLink.user_id == uid))


def test_family_confirms_rates_and_orders_a_meal(client, browser_login, session) -> None:
    csrf = browser_login("family")
    assert client.get("/orders", follow_redirects=False).headers["location"] == "/my-services"
    elder_id = _family_elder(session)
    waiting = session.scalar(
        select(ServiceOrder).where(
            ServiceOrder.elder_id == elder_id, ServiceOrder.state == "completed"
        )
    )
    assert waiting is not None, "the demo leaves one service for the family to confirm"
    page = client.get("/my-services")
    assert (
        page.status_code == 200 and f'id="order-{waiting.id}" data-state="completed"' in page.text
    )
    r = client.post(
        f"/my-services/{waiting.id}/confirm", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and "error" not in r.headers["location"]
    session.expire_all()
    assert session.get(ServiceOrder, waiting.id).state == "confirmed"
    assert session.get(ServiceOrder, waiting.id).confirmed_via == "elder"
    client.post(f"/my-services/{waiting.id}/rate", data={"csrf_token": csrf, "stars": 4})
    assert session.scalar(select(Rating.stars).where(Rating.order_id == waiting.id)) == 4
    page = client.get("/my-services")
    assert 'id="menu-' in page.text
    menu_id = int(page.text.split('id="menu-', 1)[1].split("-", 1)[0])
    r = client.post(
        "/my-services/meal",
        data={"csrf_token": csrf, "elder_id": elder_id, "menu_id": menu_id, "mode": "delivery"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "error" not in r.headers["location"]
    meal = session.scalar(
        select(MealOrder).where(MealOrder.elder_id == elder_id, MealOrder.menu_id == menu_id)
    )
    assert meal is not None and meal.mode == "delivery"
    assert meal.price_fen == meal.subsidy_fen + meal.self_pay_fen
    # a second order of the same meal is refused with a message on the page
    again = client.post(
        "/my-services/meal",
        data={"csrf_token": csrf, "elder_id": elder_id, "menu_id": menu_id},
        follow_redirects=True,
    )
    assert 'id="mine-error"' in again.text


def test_another_familys_elder_is_out_of_reach(client, browser_login, session) -> None:
    csrf = browser_login("family")
    mine = _family_elder(session)
    other = session.scalar(
        select(ServiceOrder).where(ServiceOrder.elder_id != mine).order_by(ServiceOrder.id)
    )
    r = client.post(
        f"/my-services/{other.id}/confirm", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert "No such order" in r.text or "没有这个订单" in r.text
    session.expire_all()
    assert session.get(ServiceOrder, other.id).state == other.state


def test_staff_are_sent_to_the_board(client, browser_login) -> None:
    browser_login("community")
    assert client.get("/my-services", follow_redirects=False).headers["location"] == "/orders"
