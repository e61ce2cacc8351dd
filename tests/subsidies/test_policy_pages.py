"""Subsidy policy pages (#19): a district officer creates, edits and ends a policy of the
district, a bad value is refused beside its field, every change is in the audit trail; region
staff read the policies, no one else changes them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from yiyang.audit.models import AuditEvent
from yiyang.core.clock import today_local
from yiyang.subsidies import policies
from yiyang.subsidies.models import SubsidyPolicy
from yiyang.subsidies.schemas import PolicyCreate

pytestmark = pytest.mark.pages


def _form(csrf: str, **more: object) -> dict[str, object]:
    return {
        "csrf_token": csrf,
        "code": "TEST-CREDIT",
        "name": "测试居家服务补贴",
        "kind": "credit",
        "categories": ["extreme_poverty", "low_income"],
        "monthly_amount": "450.5",
        "carry_over": "cap",
        "carry_cap": "200",
        "priority": "30",
        "starts_on": f"{today_local():%Y-%m-01}",
        **more,
    }


def _trail(session, policy_id: int) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.entity_type == "subsidy_policy",
                AuditEvent.entity_id == str(policy_id),
            )
            .order_by(AuditEvent.id)
        )
    )


def test_district_officer_creates_edits_and_ends_a_policy(client, browser_login, session) -> None:
    csrf = browser_login("district")
    listing = client.get("/subsidies/policies")
    assert listing.status_code == 200 and 'id="new-policy"' in listing.text
    assert client.get("/subsidies/policies/new").status_code == 200
    r = client.post("/subsidies/policies/new", data=_form(csrf), follow_redirects=False)
    assert r.status_code == 303, r.text
    policy_id = int(re.search(r"/subsidies/policies/(\d+)", r.headers["location"]).group(1))
    policy = session.get(SubsidyPolicy, policy_id)
    assert (policy.monthly_amount, policy.carry_cap, policy.kind) == (45050, 20000, "credit")
    assert policy.categories == ["extreme_poverty", "low_income"]
    assert policy.region_path == session.scalar(
        select(AuditEvent.region_path).where(AuditEvent.id == _trail(session, policy_id)[0].id)
    )
    page = client.get(r.headers["location"])
    assert 'id="saved"' in page.text and 'value="450.5"' in page.text
    # edit: hours by care level
    r = client.post(
        f"/subsidies/policies/{policy_id}",
        data=_form(csrf, kind="hours", monthly_amount="3", level_4="7.5", carry_over="none"),
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    session.expire_all()
    policy = session.get(SubsidyPolicy, policy_id)
    assert (policy.kind, policy.monthly_amount, policy.amount_by_level) == (
        "hours",
        180,
        {"4": 450},
    )
    # end it tomorrow
    last = today_local() + dt.timedelta(days=1)
    r = client.post(
        f"/subsidies/policies/{policy_id}/end",
        data={"csrf_token": csrf, "ends_on": last.isoformat()},
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.expire_all()
    assert session.get(SubsidyPolicy, policy_id).ends_on == last
    trail = _trail(session, policy_id)
    assert [e.action for e in trail][:1] == ["create"] or trail[0].before is None
    assert len(trail) == 3 and all(e.actor_username == "district" for e in trail)
    assert trail[1].before["kind"] == "credit" and trail[1].after["kind"] == "hours"
    assert trail[2].after["ends_on"] == last.isoformat()


@pytest.mark.parametrize(
    ("field", "more"),
    [
        ("monthly_amount", {"monthly_amount": "six hundred"}),
        ("monthly_amount", {"monthly_amount": "0"}),
        ("code", {"code": "bad code!"}),
        ("carry_cap", {"carry_cap": ""}),
        ("ends_on", {"ends_on": "2000-01-01"}),
        ("per_meal_fen", {"kind": "per_meal", "per_meal": ""}),
    ],
)
def test_a_bad_value_is_refused_beside_its_field(
    client, browser_login, session, field, more
) -> None:
    csrf = browser_login("district")
    r = client.post("/subsidies/policies/new", data=_form(csrf, **more))
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert f'id="err-{field}"' in r.text and 'aria-invalid="true"' in r.text
    assert "Input should" not in r.text and "String should" not in r.text  # no pydantic English
    assert (
        session.scalar(select(SubsidyPolicy.id).where(SubsidyPolicy.code == "TEST-CREDIT")) is None
    )


def test_a_taken_code_and_an_end_in_the_past_are_refused(client, browser_login, session) -> None:
    csrf = browser_login("district")
    taken = session.scalar(select(SubsidyPolicy.code).order_by(SubsidyPolicy.id))
    r = client.post("/subsidies/policies/new", data=_form(csrf, code=taken))
    assert r.status_code == 422 and 'id="err-code"' in r.text
    pid = session.scalar(select(SubsidyPolicy.id).order_by(SubsidyPolicy.id))
    r = client.post(
        f"/subsidies/policies/{pid}/end", data={"csrf_token": csrf, "ends_on": "2001-01-01"}
    )
    assert r.status_code == 422 and 'id="err-end"' in r.text
    assert session.get(SubsidyPolicy, pid).ends_on is None


@pytest.mark.parametrize("who", ["street", "community"])
def test_region_staff_read_but_may_not_change(client, browser_login, session, who) -> None:
    csrf = browser_login(who)
    pid = session.scalar(select(SubsidyPolicy.id).order_by(SubsidyPolicy.id))
    listing = client.get("/subsidies/policies")
    assert listing.status_code == 200 and f'id="policy-{pid}"' in listing.text
    assert 'id="new-policy"' not in listing.text
    page = client.get(f"/subsidies/policies/{pid}")
    assert (
        page.status_code == 200 and "disabled" in page.text and 'id="save-policy"' not in page.text
    )
    assert client.get("/subsidies/policies/new").status_code == 403
    assert client.post("/subsidies/policies/new", data=_form(csrf)).status_code == 403
    before = session.get(SubsidyPolicy, pid).name
    r = client.post(f"/subsidies/policies/{pid}", data=_form(csrf, name="改名"))
    assert r.status_code == 403
    assert session.get(SubsidyPolicy, pid).name == before


@pytest.mark.parametrize("who", ["operator", "provider", "caregiver"])
def test_roles_without_subsidies_are_refused(client, browser_login, who) -> None:
    browser_login(who)
    assert client.get("/subsidies/policies").status_code == 403


def test_check_terms_is_pure() -> None:
    start = dt.date(2026, 1, 1)
    base = {"code": "X1", "name": "测试", "starts_on": start}
    assert policies.check_terms(PolicyCreate(kind="credit", monthly_amount=100, **base)) == {}
    assert "monthly_amount" in policies.check_terms(PolicyCreate(kind="hours", **base))
    assert (
        policies.check_terms(PolicyCreate(kind="hours", amount_by_level={"3": 300}, **base)) == {}
    )
    assert "per_meal_fen" in policies.check_terms(PolicyCreate(kind="per_meal", **base))
    capped = PolicyCreate(kind="credit", monthly_amount=1, carry_over="cap", **base)
    assert "carry_cap" in policies.check_terms(capped)
    ended = PolicyCreate(kind="credit", monthly_amount=1, ends_on=dt.date(2025, 1, 1), **base)
    assert "ends_on" in policies.check_terms(ended)
    body, errors = policies.from_form(
        {"kind": "hours", "monthly_amount": "2.5", "per_meal": "x"}, []
    )
    assert body["monthly_amount"] == 150 and "per_meal_fen" in errors


def test_the_api_shares_the_rules(client, login, session) -> None:
    district, street, family = login("district"), login("street"), login("family")
    body = {"code": "API-1", "name": "接口补贴", "kind": "credit", "starts_on": "2026-01-01"}
    r = client.post("/api/subsidies/policies", json=body, headers=district.headers)
    assert r.status_code == 422 and r.json()["detail"]["field"] == "monthly_amount"
    body["monthly_amount"] = 30000
    r = client.post("/api/subsidies/policies", json=body, headers=district.headers)
    assert r.status_code == 201, r.text
    again = client.post("/api/subsidies/policies", json=body, headers=district.headers)
    assert again.status_code == 422 and again.json()["detail"]["field"] == "code"
    assert (
        client.post(
            "/api/subsidies/policies", json={**body, "code": "API-2"}, headers=street.headers
        ).status_code
        == 403
    )
    listed = client.get("/api/subsidies/policies", headers=street.headers).json()
    assert "API-1" in {p["code"] for p in listed}
    assert client.get("/api/subsidies/policies", headers=family.headers).json() == []
