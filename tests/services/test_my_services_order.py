"""The family's and elder's own order (#19): on /my-services, in the elder's card, the price,
what the subsidy pays and what they pay are shown before anything is placed; only "confirm"
places the order, at the figures shown."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from yiyang.accounts.models import User, UserElderLink
from yiyang.core.clock import today_local
from yiyang.services.models import ServiceItem, ServiceOrder

pytestmark = pytest.mark.pages


def _family_elder(session) -> int:  # type: ignore[no-untyped-def]
    uid = session.scalar(select(User.id).where(User.username == "family"))
    return session.scalar(select(UserElderLink.elder_id).where(UserElderLink.user_id == uid))


def _count(session, elder_id: int) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(func.count()).select_from(ServiceOrder).where(ServiceOrder.elder_id == elder_id)
    )


def test_family_sees_the_price_and_confirms_inline(client, browser_login, session) -> None:
    csrf = browser_login("family")
    elder_id = _family_elder(session)
    page = client.get("/my-services")
    assert f'id="order-new-{elder_id}"' in page.text and f'id="see-price-{elder_id}"' in page.text
    bath = session.scalars(select(ServiceItem).where(ServiceItem.code == "BATH")).one()
    key = re.search(
        rf'id="order-new-{elder_id}".*?name="idempotency_key" value="([0-9a-f]+)"',
        page.text,
        re.S,
    ).group(1)
    form = {
        "csrf_token": csrf,
        "elder_id": elder_id,
        "item_id": bath.id,
        "day": (today_local() + dt.timedelta(days=2)).isoformat(),
        "time": "10:00",
        "quantity": 1,
        "idempotency_key": key,
        "step": "quote",
    }
    before = _count(session, elder_id)
    quoted = client.post("/my-services/order", data=form)
    assert quoted.status_code == 200 and 'id="confirm-order"' in quoted.text
    assert 'id="quote-amount">120.00' in quoted.text  # the 120 元 bath, shown before ordering
    assert _count(session, elder_id) == before  # nothing placed by seeing the price
    self_pay = re.search(r'name="expected_self_pay_fen" value="(\d+)"', quoted.text).group(1)
    shown = {"expected_self_pay_fen": self_pay, "expected_amount_fen": "12000"}
    # a confirmation without the figures shown is not a confirmation
    again = client.post("/my-services/order", data={**form, "step": "confirm"})
    assert again.status_code == 200 and _count(session, elder_id) == before
    done = client.post(
        "/my-services/order",
        data={**form, "step": "confirm", **shown},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/my-services#order-")
    order = session.scalars(select(ServiceOrder).where(ServiceOrder.idempotency_key == key)).one()
    assert order.amount_fen == 12000 and order.elder_id == elder_id
    # a changed price between seeing and confirming is refused with the new figures
    bath.price_fen = 15000
    session.flush()
    form["idempotency_key"] = key[::-1]
    changed = client.post(
        "/my-services/order",
        data={**form, "step": "confirm", **shown},
        follow_redirects=False,
    )

    assert changed.status_code == 409 and 'id="quote-amount">150.00' in changed.text
    assert f'id="order-error-{elder_id}"' in changed.text


def test_another_elder_cannot_be_ordered_for(client, browser_login, session) -> None:
    csrf = browser_login("family")
    mine = _family_elder(session)
    other = session.scalar(select(ServiceOrder.elder_id).where(ServiceOrder.elder_id != mine))
    item = session.scalar(select(ServiceItem.id).where(ServiceItem.code == "HAIR"))
    before = _count(session, other)
    r = client.post(
        "/my-services/order",
        data={
            "csrf_token": csrf,
            "elder_id": other,
            "item_id": item,
            "day": (today_local() + dt.timedelta(days=2)).isoformat(),
            "time": "10:00",
            "step": "quote",
        },
    )
    assert r.status_code == 404 and _count(session, other) == before
    assert 'id="confirm-order"' not in r.text
