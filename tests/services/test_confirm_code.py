"""The elder's 6-digit confirmation code (issue #14, item 6): before the step that takes it
every attempt is answered alike and nothing is compared; five wrong codes lock that order's
code and tell the provider admin; every attempt is audited and its record survives the refused
request (API and the caregiver's phone page); the provider admin or the elder's side issues a
new code."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from tests.services.test_services_api import aunt_liu, community_elder, item_id, place
from tests.services.test_services_concurrency import _actor, _order_data, fresh_pg  # noqa: F401
from yiyang.audit.models import AuditEvent
from yiyang.core.clock import local_zone
from yiyang.notifications.models import Notification
from yiyang.services import dispatch, orders
from yiyang.services.models import Caregiver, OrderEvent, ServiceOrder

pytestmark = pytest.mark.api


def placed_and_accepted(client, session, login, key: str) -> int:  # type: ignore[no-untyped-def]
    elder = community_elder(session)
    oid = place(client, login("community"), elder.id, item_id(session, "HAIR"), key).json()["id"]
    r = client.post(
        f"/api/orders/{oid}/assign",
        json={"caregiver_id": aunt_liu(session)},
        headers=login("provider").headers,
    )
    assert r.status_code == 200, r.text
    r = client.post(f"/api/orders/{oid}/accept", headers=login("caregiver").headers)
    assert r.status_code == 200, r.text
    return int(oid)


def checked_in(client, session, login, key: str) -> int:  # type: ignore[no-untyped-def]
    oid = placed_and_accepted(client, session, login, key)
    r = client.post(
        f"/api/orders/{oid}/check-in",
        json={"lat": 31.2, "lon": 121.45},
        headers=login("caregiver").headers,
    )
    assert r.status_code == 200, r.text
    return oid


def the_code(client, login, oid: int) -> str:  # type: ignore[no-untyped-def]
    return str(
        client.get(f"/api/orders/{oid}", headers=login("community").headers).json()["confirm_code"]
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def attempts(session, oid: int) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    session.expire_all()
    rows = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.entity_type == "service_order",
            AuditEvent.entity_id == str(oid),
            AuditEvent.action == "confirm_code_attempt",
        )
        .order_by(AuditEvent.id)
    ).all()
    return [r.after for r in rows]


def test_before_the_service_is_done_right_and_wrong_codes_get_the_same_answer(
    client, login, session
) -> None:
    oid = placed_and_accepted(client, session, login, "code-early")
    caregiver = login("caregiver")
    code = the_code(client, login, oid)
    answers = []
    for given in (code, wrong(code), code, "１２３４５６"):
        for path in ("check-out", "confirm"):
            r = client.post(
                f"/api/orders/{oid}/{path}", json={"code": given}, headers=caregiver.headers
            )
            answers.append((path, r.status_code, r.json()))
    for path in ("check-out", "confirm"):
        seen = [(status, body) for p, status, body in answers if p == path]
        assert all(a == seen[0] for a in seen), seen  # no oracle: the right code is not told
        assert seen[0][0] == 409 and seen[0][1]["detail"]["code"] == "wrong_state"
    # the same as asking without a code at all
    bare = client.post(f"/api/orders/{oid}/check-out", json={}, headers=caregiver.headers)
    assert (bare.status_code, bare.json()) == answers[0][1:]
    session.expire_all()
    order = session.get(ServiceOrder, oid)
    assert order.state == "accepted" and order.code_failures == 0 and order.code_locked_at is None
    logged = attempts(session, oid)
    assert len(logged) == 8 and {a["outcome"] for a in logged} == {"not_now"}
    assert {a["step"] for a in logged} == {"check_out", "confirm"}


def test_five_wrong_codes_lock_the_code_notify_the_provider_and_a_new_code_unlocks(
    client, login, session
) -> None:
    oid = checked_in(client, session, login, "code-lock")
    caregiver = login("caregiver")
    code = the_code(client, login, oid)
    for left in (4, 3, 2, 1):
        r = client.post(
            f"/api/orders/{oid}/check-out", json={"code": wrong(code)}, headers=caregiver.headers
        )
        assert r.status_code == 422, r.text
        assert r.json()["detail"]["field"] == "code"
        assert r.json()["detail"]["tries_left"] == left
    fifth = client.post(
        f"/api/orders/{oid}/check-out", json={"code": "１２３４５６"}, headers=caregiver.headers
    )
    assert fifth.status_code == 409 and fifth.json()["detail"]["code"] == "code_locked"
    assert "provider admin" in fifth.json()["detail"]["message"]
    # locked: the right code is refused alike and confirms nothing
    right = client.post(
        f"/api/orders/{oid}/check-out", json={"code": code}, headers=caregiver.headers
    )
    assert (right.status_code, right.json()) == (fifth.status_code, fifth.json())
    session.expire_all()
    order = session.get(ServiceOrder, oid)
    assert order.state == "in_service" and order.confirmed_at is None
    assert order.code_failures == 5 and order.code_locked_at is not None
    assert [a["outcome"] for a in attempts(session, oid)] == [
        *["wrong"] * 4,
        "locking",
        "locked",
    ]
    locked_rows = session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_id == str(oid), AuditEvent.action == "confirm_code_locked"
        )
    ).all()
    assert len(locked_rows) == 1
    told = session.scalars(
        select(Notification).where(Notification.payload["order_id"].as_integer() == oid)
    ).all()
    assert {(n.channel, n.payload["event"]) for n in told} == {
        ("sms", "code_locked"),
        ("email", "code_locked"),
    }
    # the alternative: check out without the code; a locked code still confirms nothing
    out = client.post(f"/api/orders/{oid}/check-out", json={}, headers=caregiver.headers)
    assert out.status_code == 200 and out.json()["state"] == "completed"
    assert out.json()["code_locked_at"] is not None
    again = client.post(
        f"/api/orders/{oid}/confirm", json={"code": code}, headers=caregiver.headers
    )
    assert again.status_code == 409 and again.json()["detail"]["code"] == "code_locked"
    # the caregiver cannot unlock it; the provider admin can
    assert (
        client.post(f"/api/orders/{oid}/confirm-code", headers=caregiver.headers).status_code == 403
    )
    r = client.post(f"/api/orders/{oid}/confirm-code", headers=login("provider").headers)
    assert r.status_code == 200, r.text
    assert r.json()["code_failures"] == 0 and r.json()["code_locked_at"] is None
    assert "confirm_code" not in r.json()  # the provider side never sees the code
    fresh = the_code(client, login, oid)
    assert fresh != code
    session.expire_all()
    reissued = session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_id == str(oid),
            AuditEvent.entity_type == "service_order",
            AuditEvent.action.in_(["confirm_code_reissued", "update", "create"]),
        )
    ).all()
    assert any(a.action == "confirm_code_reissued" and a.summary == "unlocked" for a in reissued)
    # the audit trail says a code changed, never which
    dumped = repr([(a.before, a.after) for a in reissued])
    assert code not in dumped and fresh not in dumped
    trail = session.scalars(select(OrderEvent.action).where(OrderEvent.order_id == oid)).all()
    assert "code_locked" in trail and "reissue_code" in trail
    done = client.post(
        f"/api/orders/{oid}/confirm", json={"code": fresh}, headers=caregiver.headers
    )
    assert done.status_code == 200 and done.json()["state"] == "confirmed", done.text
    assert attempts(session, oid)[-1]["outcome"] == "right"


def test_a_right_code_is_audited_and_an_old_code_does_not_work_after_a_reissue(
    client, login, session
) -> None:
    oid = checked_in(client, session, login, "code-right")
    caregiver = login("caregiver")
    old = the_code(client, login, oid)
    # the elder's side (here the community worker) may issue a new code too
    r = client.post(f"/api/orders/{oid}/confirm-code", headers=login("community").headers)
    assert r.status_code == 200, r.text
    stale = client.post(
        f"/api/orders/{oid}/check-out", json={"code": old}, headers=caregiver.headers
    )
    assert stale.status_code == 422
    r = client.post(
        f"/api/orders/{oid}/check-out",
        json={"code": the_code(client, login, oid)},
        headers=caregiver.headers,
    )
    assert r.status_code == 200 and r.json()["state"] == "confirmed", r.text
    assert [a["outcome"] for a in attempts(session, oid)] == ["wrong", "right"]
    # once confirmed, codes are not compared any more
    late = client.post(f"/api/orders/{oid}/confirm-code", headers=login("community").headers)
    assert late.status_code == 409


def test_the_phone_page_keeps_the_count_and_shows_the_lock(
    client, browser_login, login, session
) -> None:
    oid = checked_in(client, session, login, "code-page")
    code = the_code(client, login, oid)
    csrf = browser_login("caregiver")
    for _ in range(5):
        page = client.post(
            f"/my-jobs/{oid}/check-out",
            data={"csrf_token": csrf, "code": wrong(code)},
            follow_redirects=True,
        )
        assert "job-error" in page.text
    session.expire_all()
    order = session.get(ServiceOrder, oid)
    assert order.code_failures == 5 and order.code_locked_at is not None
    day = session.get(ServiceOrder, oid).scheduled_at.astimezone(local_zone()).date()
    page = client.get(f"/my-jobs?day={day.isoformat()}")
    card = page.text[page.text.index(f'id="job-{oid}"') :]
    card = card[: card.index("</section>")]
    assert f'id="code-locked-{oid}"' in card and 'name="code"' not in card
    client.post(
        f"/my-jobs/{oid}/check-out",
        data={"csrf_token": csrf, "code": code},
        follow_redirects=False,
    )
    session.expire_all()
    assert session.get(ServiceOrder, oid).state == "in_service"  # locked: not even the right one
    assert len(attempts(session, oid)) == 6
    # the provider admin sees the lock on the order page and issues a new code from there
    csrf = browser_login("provider")
    detail = client.get(f"/orders/{oid}")
    assert 'id="code-locked"' in detail.text and 'data-action="reissue_code"' in detail.text
    client.post(
        f"/orders/{oid}/act",
        data={"csrf_token": csrf, "action": "reissue_code"},
        follow_redirects=False,
    )
    session.expire_all()
    order = session.get(ServiceOrder, oid)
    assert order.code_locked_at is None and order.code_failures == 0
    assert order.confirm_code != code


@pytest.mark.postgres
def test_parallel_wrong_codes_count_exactly_and_lock_at_five(fresh_pg) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Eight wrong codes at once on PostgreSQL, each in its own transaction committed like the
    edge commits a refused attempt: the order row lock serialises them, so exactly five count
    and the rest meet a locked code."""
    factory = sessionmaker(fresh_pg, expire_on_commit=False)
    with factory() as s:
        community, provider, caregiver = (
            _actor(s, u) for u in ("community", "provider", "caregiver")
        )
        order, _ = orders.place_order(s, community, _order_data(s), "conc-code")
        aunt = s.scalar(select(Caregiver.id).where(Caregiver.user_id == caregiver.user_id))
        dispatch.assign(s, provider, order.id, aunt)
        orders.accept(s, caregiver, order.id)
        orders.check_in(s, caregiver, order.id, None, None)
        s.commit()
        oid, code = order.id, order.confirm_code
    n = 8
    barrier = threading.Barrier(n)
    codes: list[str | None] = [None] * n

    def attempt(i: int) -> None:
        with factory() as s:
            barrier.wait()
            try:
                orders.check_out(s, _actor(s, "caregiver"), oid, None, None, wrong(code))
            except orders.AttemptRefused as exc:
                s.commit()
                codes[i] = exc.to_dict()["code"]

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(c or "" for c in codes) == sorted(["validation_failed"] * 4 + ["code_locked"] * 4)
    with factory() as s:
        order = s.get(ServiceOrder, oid)
        assert order is not None and order.code_failures == 5 and order.state == "in_service"
        outcomes = s.scalars(
            select(AuditEvent.summary)
            .where(AuditEvent.entity_id == str(oid), AuditEvent.action == "confirm_code_attempt")
            .order_by(AuditEvent.id)
        ).all()
    assert outcomes == [f"check_out: {o}" for o in ["wrong"] * 4 + ["locking"] + ["locked"] * 3]
