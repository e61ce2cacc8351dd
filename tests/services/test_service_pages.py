"""Service pages through real cookie logins and forms: the board, the order form (a double
submit makes one order), the order page's dispatch suggestions, the caregiver's phone page with
check-in and check-out, and the settlement page — in the default Chinese and in English."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from yiyang.accounts.models import User
from yiyang.registry.models import Elder
from yiyang.services.models import ServiceItem, ServiceOrder

pytestmark = pytest.mark.pages


def _community_elder(session) -> Elder:  # type: ignore[no-untyped-def]
    path = session.scalar(select(User.region_path).where(User.username == "community"))
    return session.scalars(
        select(Elder).where(Elder.region_path == path).order_by(Elder.id)
    ).first()


def test_order_form_double_submit_makes_one_order(client, browser_login, session) -> None:
    csrf = browser_login("community")
    elder = _community_elder(session)
    page = client.get(f"/orders/new?elder_id={elder.id}")
    assert page.status_code == 200 and elder.name in page.text
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page.text).group(1)
    item = session.scalar(select(ServiceItem.id).where(ServiceItem.code == "BATH"))
    form = {
        "csrf_token": csrf,
        "elder_id": elder.id,
        "item_id": item,
        "scheduled_at": "2099-01-01T09:00",
        "idempotency_key": key,
        "quantity": 1,
    }
    bad = client.post("/orders/new", data=form, follow_redirects=False)
    assert bad.status_code == 422 and "90 days" in bad.text  # too far ahead: the form says why
    form["scheduled_at"] = re.search(r'name="scheduled_at"[^>]*value="([^"]+)"', page.text).group(1)
    quoted = client.post("/orders/new", data=form, follow_redirects=False)
    assert quoted.status_code == 200 and 'id="confirm-order"' in quoted.text  # nothing placed yet
    form["step"] = "confirm"
    form["expected_self_pay_fen"] = re.search(
        r'name="expected_self_pay_fen" value="(\d+)"', quoted.text
    ).group(1)
    first = client.post("/orders/new", data=form, follow_redirects=False)
    second = client.post("/orders/new", data=form, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert (
        session.scalar(
            select(func.count())
            .select_from(ServiceOrder)
            .where(ServiceOrder.idempotency_key == key)
        )
        == 1
    )
    detail = client.get(first.headers["location"])
    assert (
        detail.status_code == 200
        and "上门助浴" in detail.text
        and 'id="confirm-code"' in detail.text
    )


def test_provider_board_and_suggestions(client, browser_login, session) -> None:
    browser_login("provider")
    board = client.get("/orders?lang=en")
    assert board.status_code == 200 and 'id="orders"' in board.text
    placed = session.scalar(
        select(ServiceOrder.id).where(ServiceOrder.state == "placed").order_by(ServiceOrder.id)
    )
    page = client.get(f"/orders/{placed}")
    assert 'id="suggestions"' in page.text and "Assign" in page.text
    assert client.get("/caregivers").status_code == 200
    assert "刘阿姨" in client.get("/caregivers").text


def test_caregiver_phone_page_check_in_and_out(client, browser_login, session) -> None:
    csrf = browser_login("caregiver")
    page = client.get("/my-jobs")
    assert page.status_code == 200
    assert "今日工作" in page.text or "Today" in page.text
    accepted = re.search(r'id="job-(\d+)" data-state="accepted"', page.text)
    assert accepted, page.text[:2000]
    oid = int(accepted.group(1))
    order = session.get(ServiceOrder, oid)
    r = client.post(
        f"/my-jobs/{oid}/check-in",
        data={"csrf_token": csrf, "lat": order.home_lat, "lon": order.home_lon},
        follow_redirects=False,
    )
    assert r.status_code == 303
    again = client.post(
        f"/my-jobs/{oid}/check-in", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert "job-error" in again.text  # checking in twice is refused with a message on the page
    wrong = client.post(
        f"/my-jobs/{oid}/check-out",
        data={"csrf_token": csrf, "code": "999999x"},
        follow_redirects=True,
    )
    assert "job-error" in wrong.text
    session.expire_all()
    code = session.get(ServiceOrder, oid).confirm_code
    client.post(
        f"/my-jobs/{oid}/check-out", data={"csrf_token": csrf, "code": code}, follow_redirects=False
    )
    session.expire_all()
    assert session.get(ServiceOrder, oid).state == "confirmed"


def test_settlement_page(client, browser_login) -> None:
    csrf = browser_login("district")
    from yiyang.core.clock import today_local

    period = f"{today_local():%Y-%m}"
    r = client.post(
        "/settlement", data={"csrf_token": csrf, "period": period}, follow_redirects=True
    )
    assert r.status_code == 200 and 'id="statements"' in r.text
    browser_login("doctor")
    assert client.get("/settlement").status_code == 403


def test_subsidy_report_page_is_limited_to_the_area(client, browser_login, session) -> None:
    browser_login("street")
    page = client.get("/subsidies?depth=3")
    assert page.status_code == 200 and 'id="subsidy-report"' in page.text
    street = session.scalar(select(User.region_path).where(User.username == "street"))
    shown = re.findall(r'data-region="([^"]+)"', page.text)
    assert shown and all(path.startswith(street) for path in shown)
    browser_login("district")
    district = re.findall(r'data-region="([^"]+)"', client.get("/subsidies?depth=2").text)
    assert len({p[:27] for p in district}) > 1  # the district sees every street
    browser_login("family")
    assert client.get("/subsidies", follow_redirects=False).headers["location"] == "/my-services"
    browser_login("doctor")
    assert client.get("/subsidies").status_code == 403
