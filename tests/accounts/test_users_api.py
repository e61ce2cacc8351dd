"""User management through the JSON API (/api/users), per role and region: platform admins manage
everyone, a district officer the users of their district whose role is not above theirs, nobody
else anything; a new account or a reset gets a temporary password shown once, which must be
changed before anything else; deactivating stops the user's tokens; unlocking lifts the sign-in
lock-out; every write is audited without a password or a hash."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from yiyang.accounts.models import PasswordResetRequest, User, UserElderLink
from yiyang.accounts.service import create_user
from yiyang.core.audit_models import AuditEvent
from yiyang.core.roles import Role
from yiyang.regions.models import Region, RegionLevel
from yiyang.regions.service import add_region
from yiyang.registry.models import Elder

pytestmark = pytest.mark.api

COMMUNITY = "310104003001"
STREET = "310104003000"


def _new(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "username": "worker.new",
        "display_name": "新社工",
        "role": "community_worker",
        "region_code": COMMUNITY,
        "phone": "13800005555",
    }
    body.update(over)
    return body


def _elsewhere(session) -> User:  # type: ignore[no-untyped-def]
    """A community worker in another district."""
    district = add_region(session, "310105000000", "长宁区", RegionLevel.DISTRICT, None)
    street = add_region(session, "310105001000", "华阳路街道", RegionLevel.STREET, district)
    community = add_region(session, "310105001001", "某社区", RegionLevel.COMMUNITY, street)
    user = create_user(
        session,
        username="far.worker",
        password=PASSWORD,
        display_name="外区社工",
        role=Role.COMMUNITY_WORKER,
        region_code=community.code,
    )
    session.commit()
    return user


def _token(client, username: str, password: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    r = client.post("/api/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.mark.parametrize("username", ["community", "street", "operator", "family"])
def test_roles_without_the_permission_are_refused(client, login, username: str) -> None:
    headers = login(username).headers
    assert client.get("/api/users", headers=headers).status_code == 403
    assert client.post("/api/users", json=_new(), headers=headers).status_code == 403
    assert client.get("/api/users/reset-requests", headers=headers).status_code == 403


def test_admin_creates_a_user_whose_temporary_password_must_be_changed(
    client, login, session
) -> None:
    admin = login("admin").headers
    r = client.post("/api/users", json=_new(), headers=admin)
    assert r.status_code == 201, r.text
    body = r.json()
    temporary = body["temporary_password"]
    assert body["user"]["must_change_password"] is True and len(temporary) >= 12
    new = _token(client, "worker.new", temporary)
    refused = client.get("/api/elders", headers=new)
    assert refused.status_code == 403
    assert refused.json()["detail"]["code"] == "password_change_required"
    assert client.get("/api/auth/me", headers=new).status_code == 200
    weak = client.post(
        "/api/auth/password",
        json={"current_password": temporary, "new_password": "short"},
        headers=new,
    )
    assert weak.status_code == 422 and weak.json()["detail"]["field"] == "new_password"
    changed = client.post(
        "/api/auth/password",
        json={"current_password": temporary, "new_password": "Mine@2026x"},
        headers=new,
    )
    assert changed.status_code == 200, changed.text
    assert client.get("/api/elders", headers=new).status_code == 200
    # no password, hash or temporary password in the audit trail
    user = session.scalar(select(User).where(User.username == "worker.new"))
    rows = session.scalars(select(AuditEvent).where(AuditEvent.entity_id == str(user.id))).all()
    dumped = json.dumps([[r.action, r.summary, r.before, r.after] for r in rows])
    assert "create" in dumped and "password_changed" in dumped
    assert temporary not in dumped and "Mine@2026x" not in dumped
    assert "password_hash" not in dumped and "argon2" not in dumped


def test_refusals_are_field_level(client, login) -> None:
    admin = login("admin").headers
    cases = [
        (_new(username="ab"), "username"),
        (_new(username="community"), "username"),
        (_new(phone="call me"), "phone"),
        (_new(region_code="999999999999"), "region_code"),
        (_new(role="family"), "elder_ids"),
        (_new(role="family", elder_ids=[2_000_000_000]), "elder_ids"),
        (_new(role="caregiver"), "provider_id"),
    ]
    for body, field in cases:
        r = client.post("/api/users", json=body, headers=admin)
        assert r.status_code == 422, (body, r.text)
        detail = r.json()["detail"]
        fields = [e["field"] for e in detail.get("errors", [])] or [detail.get("field")]
        assert field in fields, (body, detail)


def test_a_family_account_is_linked_to_elders_in_the_area(client, login, session) -> None:
    elder_id = session.scalar(select(Elder.id).order_by(Elder.id).limit(1))
    admin = login("admin").headers
    r = client.post(
        "/api/users",
        json=_new(username="fam.new", role="family", elder_ids=[elder_id]),
        headers=admin,
    )
    assert r.status_code == 201, r.text
    user_id = r.json()["user"]["id"]
    assert r.json()["user"]["elder_ids"] == [elder_id]
    other = session.scalar(select(Elder.id).where(Elder.id != elder_id).limit(1))
    moved = client.patch(f"/api/users/{user_id}", json={"elder_ids": [other]}, headers=admin)
    assert moved.status_code == 200 and moved.json()["elder_ids"] == [other]
    links = session.scalars(select(UserElderLink.elder_id).where(UserElderLink.user_id == user_id))
    assert list(links) == [other]


def test_a_district_officer_manages_only_their_district_and_rank(client, login, session) -> None:
    far = _elsewhere(session)
    officer = login("district").headers
    listed = {u["username"] for u in client.get("/api/users?limit=200", headers=officer).json()}
    assert "community" in listed and "street" in listed
    assert "admin" not in listed and "far.worker" not in listed  # above them; another district
    assert client.get(f"/api/users/{far.id}", headers=officer).status_code == 404
    admin_id = session.scalar(select(User.id).where(User.username == "admin"))
    assert client.post(f"/api/users/{admin_id}/deactivate", headers=officer).status_code == 404
    above = client.post("/api/users", json=_new(role="platform_admin"), headers=officer)
    assert above.status_code == 422 and above.json()["detail"]["field"] == "role"
    outside = client.post("/api/users", json=_new(region_code="310105001001"), headers=officer)
    assert outside.status_code == 422 and outside.json()["detail"]["field"] == "region_code"
    ok = client.post("/api/users", json=_new(), headers=officer)
    assert ok.status_code == 201, ok.text
    own_id = session.scalar(select(User.id).where(User.username == "district"))
    own = client.patch(f"/api/users/{own_id}", json={"role": "street_officer"}, headers=officer)
    assert own.status_code == 422 and own.json()["detail"]["field"] == "role"
    # the platform admin reaches the other district
    admin = login("admin").headers
    assert client.get(f"/api/users/{far.id}", headers=admin).status_code == 200
    found = client.get("/api/users?q=admin", headers=admin).json()
    assert any(u["username"] == "admin" for u in found)


def test_edit_role_and_region(client, login, session) -> None:
    admin = login("admin").headers
    user_id = client.post("/api/users", json=_new(), headers=admin).json()["user"]["id"]
    r = client.patch(
        f"/api/users/{user_id}",
        json={"role": "street_officer", "region_code": STREET, "display_name": "新主任"},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    street = session.scalar(select(Region.path).where(Region.code == STREET))
    assert r.json()["role"] == "street_officer" and r.json()["region_path"] == street
    assert r.json()["display_name"] == "新主任"


def test_deactivate_stops_tokens_and_reactivate_restores(client, login, session) -> None:
    admin = login("admin").headers
    volunteer = login("volunteer").headers
    user_id = session.scalar(select(User.id).where(User.username == "volunteer"))
    assert client.get("/api/auth/me", headers=volunteer).status_code == 200
    r = client.post(f"/api/users/{user_id}/deactivate", headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    assert client.get("/api/auth/me", headers=volunteer).status_code == 401
    refused = client.post("/api/auth/token", json={"username": "volunteer", "password": PASSWORD})
    assert refused.status_code == 401
    assert client.post(f"/api/users/{user_id}/reactivate", headers=admin).json()["active"] is True
    assert login("volunteer").token
    own = session.scalar(select(User.id).where(User.username == "admin"))
    me = client.post(f"/api/users/{own}/deactivate", headers=admin)
    assert me.status_code == 422 and me.json()["detail"]["field"] == "active"


def test_unlock_lifts_the_sign_in_lock_out(client, login, session) -> None:
    admin = login("admin").headers
    for _ in range(5):
        client.post("/api/auth/token", json={"username": "doctor", "password": "wrong-one"})
    locked = client.post("/api/auth/token", json={"username": "doctor", "password": PASSWORD})
    assert locked.status_code == 429
    user_id = session.scalar(select(User.id).where(User.username == "doctor"))
    assert client.get(f"/api/users/{user_id}", headers=admin).json()["locked"] is True
    r = client.post(f"/api/users/{user_id}/unlock", headers=admin)
    assert r.status_code == 200 and r.json()["locked"] is False
    assert login("doctor").token
    assert (
        "account_unlocked"
        in session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_id == str(user_id))
        ).all()
    )


def test_reset_password_issues_a_temporary_one_and_ends_sessions(client, login, session) -> None:
    admin = login("admin").headers
    old = login("operator2").headers
    user_id = session.scalar(select(User.id).where(User.username == "operator2"))
    r = client.post(f"/api/users/{user_id}/password-reset", headers=admin)
    assert r.status_code == 200, r.text
    temporary = r.json()["temporary_password"]
    assert client.get("/api/auth/me", headers=old).status_code == 401
    gone = client.post("/api/auth/token", json={"username": "operator2", "password": PASSWORD})
    assert gone.status_code == 401
    fresh = _token(client, "operator2", temporary)
    assert client.get("/api/alerts", headers=fresh).status_code == 403
    rows = session.scalars(select(AuditEvent).where(AuditEvent.entity_id == str(user_id))).all()
    dumped = json.dumps([[r.action, r.summary, r.before, r.after] for r in rows])
    assert "password_reset" in dumped and temporary not in dumped and "argon2" not in dumped


def test_the_reset_request_queue(client, login, session) -> None:
    from yiyang.accounts import recovery

    recovery.start(session, "volunteer", "203.0.113.9")  # no phone: a request for the admins
    session.commit()
    admin = login("admin").headers
    pending = client.get("/api/users/reset-requests", headers=admin).json()
    mine = [p for p in pending if p["username"] == "volunteer"]
    assert len(mine) == 1 and mine[0]["state"] == "pending"
    officer = login("district").headers
    assert any(
        p["username"] == "volunteer"
        for p in client.get("/api/users/reset-requests", headers=officer).json()
    )
    r = client.post(f"/api/users/reset-requests/{mine[0]['id']}/refuse", headers=admin)
    assert r.status_code == 200 and r.json()["state"] == "refused"
    assert (
        client.post(f"/api/users/reset-requests/{mine[0]['id']}/refuse", headers=admin).status_code
        == 404
    )
    row = session.get(PasswordResetRequest, mine[0]["id"])
    session.refresh(row)
    assert row.state == "refused"
    audited = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "password_reset_request")
    ).all()
    assert any(a.action == "create" and a.after["user_id"] == row.user_id for a in audited)
    assert any(
        a.action == "update" and a.entity_id == str(row.id) and a.after["state"] == "refused"
        for a in audited
    )
