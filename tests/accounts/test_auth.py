"""Login, bearer tokens, cookie sessions with CSRF, slow-down and lock-out."""

import pytest
from sqlalchemy import select

from yiyang.accounts.models import LoginThrottle
from yiyang.audit.models import AuditEvent

from ..conftest import PASSWORD

pytestmark = pytest.mark.api


def test_token_login_and_me(client, login) -> None:
    me = client.get("/api/auth/me", headers=login("street").headers).json()
    assert me["role"] == "street_officer"
    assert "can_view_id_number" in me["permissions"]


def test_api_without_token_is_401(client) -> None:
    r = client.get("/api/elders")
    assert r.status_code == 401
    assert r.json()["detail"]["code"] == "not_authenticated"


def test_bad_token_is_401(client) -> None:
    assert client.get("/api/elders", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_wrong_password_is_401_and_audited(client, session) -> None:
    r = client.post("/api/auth/token", json={"username": "street", "password": "wrong-password"})
    assert r.status_code == 401
    assert r.json()["detail"]["message"] == "Wrong username or password."
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed")).all()
    assert any(e.actor_username == "street" for e in events)


def test_unknown_user_gets_the_same_answer(client) -> None:
    r = client.post("/api/auth/token", json={"username": "nobody", "password": "x"})
    assert r.status_code == 401
    assert r.json()["detail"]["message"] == "Wrong username or password."


def test_repeated_failures_lock_the_account(client, session, monkeypatch) -> None:
    from yiyang.accounts import service

    monkeypatch.setattr(
        service, "failure_delay", lambda n: 0.0
    )  # the wait itself is not under test
    codes = [
        client.post(
            "/api/auth/token", json={"username": "community", "password": "bad"}
        ).status_code
        for _ in range(5)
    ]
    assert codes == [401, 401, 401, 401, 429]
    # Even the right password is refused while locked.
    r = client.post("/api/auth/token", json={"username": "community", "password": PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    lock = session.scalar(
        select(LoginThrottle).where(
            LoginThrottle.scope == "account", LoginThrottle.username == "community"
        )
    )
    assert lock is not None and lock.locked_until is not None


def test_failures_slow_down_progressively() -> None:
    from yiyang.accounts.service import failure_delay

    delays = [failure_delay(n) for n in range(1, 9)]
    assert delays[:2] == [0.0, 0.0]
    assert delays == sorted(delays) and delays[-1] == 4.0


def test_cookie_session_requires_csrf_for_writes(client, browser_login) -> None:
    csrf = browser_login("street")
    body = {"status": "moved_out", "effective_date": "2020-01-01"}
    elder_id = client.get("/api/elders").json()["items"][0]["id"]
    r = client.post(f"/api/elders/{elder_id}/status", json=body)
    assert r.status_code == 403 and r.json()["detail"]["code"] == "csrf"
    r = client.post(f"/api/elders/{elder_id}/status", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200


def test_logout_revokes_the_token(client, login) -> None:
    user = login("street")
    assert client.post("/api/auth/logout", headers=user.headers).status_code == 204
    assert client.get("/api/auth/me", headers=user.headers).status_code == 401


def test_pages_redirect_to_login(client) -> None:
    r = client.get("/elders", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
