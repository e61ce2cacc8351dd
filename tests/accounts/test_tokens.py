"""API tokens (issue #14, item 13): 24 hours by default; listed and revoked by their owner and by
user managers (admins, district officers in their district), at once and audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from yiyang.accounts.models import AuthSession, User
from yiyang.audit.models import AuditEvent
from yiyang.core.config import Settings

pytestmark = pytest.mark.api


def test_api_tokens_last_24_hours_by_default(client, login, monkeypatch) -> None:
    monkeypatch.delenv("YIYANG_API_TOKEN_HOURS", raising=False)
    assert Settings(_env_file=None).api_token_hours == 24
    before = dt.datetime.now(dt.UTC)
    r = client.post("/api/auth/token", json={"username": "street", "password": "Yiyang@2026"})
    expires = dt.datetime.fromisoformat(r.json()["expires_at"])
    assert before + dt.timedelta(hours=23) < expires <= before + dt.timedelta(hours=25)


def test_owners_list_their_tokens_and_revoke_one_at_once(client, login, session) -> None:
    a, b = login("street"), login("street")
    listed = client.get("/api/auth/tokens", headers=a.headers).json()
    api = [t for t in listed if t["kind"] == "api"]
    assert len(api) >= 2
    assert {k for t in listed for k in t} == {
        "id",
        "kind",
        "created_at",
        "expires_at",
        "ip",
        "current",
    }
    current = [t for t in listed if t["current"]]
    assert len(current) == 1
    other = next(t for t in api if not t["current"])
    assert client.get("/api/auth/me", headers=b.headers).status_code == 200
    assert client.delete(f"/api/auth/tokens/{other['id']}", headers=a.headers).status_code == 204
    assert client.get("/api/auth/me", headers=b.headers).status_code == 401  # at once
    assert client.get("/api/auth/me", headers=a.headers).status_code == 200
    ids = [t["id"] for t in client.get("/api/auth/tokens", headers=a.headers).json()]
    assert other["id"] not in ids
    audit = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "token_revoked", AuditEvent.entity_id == str(other["id"])
        )
    ).all()
    assert [(e.actor_username, e.entity_type) for e in audit] == [("street", "auth_session")]


def test_others_tokens_are_invisible_without_user_management(client, login, session) -> None:
    street, operator = login("street"), login("operator")
    street_id = session.scalar(select(User.id).where(User.username == "street"))
    street_token = max(
        session.scalars(select(AuthSession.id).where(AuthSession.user_id == street_id))
    )
    r = client.get(f"/api/auth/tokens?user_id={street_id}", headers=operator.headers)
    assert r.status_code == 404
    r = client.delete(f"/api/auth/tokens/{street_token}", headers=operator.headers)
    assert r.status_code == 404
    assert client.get("/api/auth/me", headers=street.headers).status_code == 200


def test_an_admin_revokes_a_users_token(client, login, session) -> None:
    street, admin = login("street"), login("admin")
    street_id = session.scalar(select(User.id).where(User.username == "street"))
    listed = client.get(f"/api/auth/tokens?user_id={street_id}", headers=admin.headers).json()
    assert listed and not any(t["current"] for t in listed)
    for t in listed:
        assert (
            client.delete(f"/api/auth/tokens/{t['id']}", headers=admin.headers).status_code == 204
        )
    assert client.get("/api/auth/me", headers=street.headers).status_code == 401
    revoked = session.scalars(select(AuditEvent).where(AuditEvent.action == "token_revoked")).all()
    assert {e.actor_username for e in revoked} == {"admin"} and len(revoked) == len(listed)


def test_a_district_officer_manages_tokens_in_the_district(client, login, session) -> None:
    login("street")
    district = login("district")
    street_id = session.scalar(select(User.id).where(User.username == "street"))
    listed = client.get(f"/api/auth/tokens?user_id={street_id}", headers=district.headers)
    assert listed.status_code == 200 and listed.json()
    admin_id = session.scalar(select(User.id).where(User.username == "admin"))
    r = client.get(f"/api/auth/tokens?user_id={admin_id}", headers=district.headers)
    assert r.status_code == 404  # the platform admin is outside the district


def test_the_account_page_lists_sessions_and_revokes_a_token(client, login, browser_login) -> None:
    api = login("community")
    csrf = browser_login("community")
    page = client.get("/account")
    assert page.status_code == 200 and "Sessions and API tokens" in page.text
    listed = client.get("/api/auth/tokens", headers=api.headers).json()
    token_id = next(t["id"] for t in listed if t["current"])
    assert f'id="session-{token_id}"' in page.text
    r = client.post(f"/account/sessions/{token_id}/revoke", follow_redirects=False)
    assert r.status_code == 403  # a cookie write needs the session's CSRF token
    r = client.post(
        f"/account/sessions/{token_id}/revoke",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/account"
    assert client.get("/api/auth/me", headers=api.headers).status_code == 401
    assert f'id="session-{token_id}"' not in client.get("/account").text
