"""Linking another parent with an invitation code: a community worker or the family member
already linked issues a one-time code, shown once; a family member who enters it is linked to
that elder, audited; the code is used once, expires, and five wrong codes lock the tries."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from yiyang.accounts.models import LinkInvitation, User, UserElderLink
from yiyang.core.audit_models import AuditEvent
from yiyang.registry.models import Elder

pytestmark = pytest.mark.pages


def _uid(session, username: str) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(User.id).where(User.username == username))


def _linked(session, username: str) -> set[int]:  # type: ignore[no-untyped-def]
    uid = _uid(session, username)
    return set(session.scalars(select(UserElderLink.elder_id).where(UserElderLink.user_id == uid)))


def _other_elder(session) -> int:  # type: ignore[no-untyped-def]
    """An elder of the community worker's community not linked to the family member."""
    community = session.scalar(select(User.region_path).where(User.username == "community"))
    mine = _linked(session, "family")
    return next(
        e
        for e in session.scalars(
            select(Elder.id).where(Elder.region_path.startswith(community)).order_by(Elder.id)
        )
        if e not in mine
    )


def _issue(client, csrf: str, elder_id: int) -> str:  # type: ignore[no-untyped-def]
    page = client.get(f"/invitations/new?elder_id={elder_id}")
    assert page.status_code == 200 and 'id="issue-invitation"' in page.text
    r = client.post("/invitations", data={"csrf_token": csrf, "elder_id": elder_id})
    assert r.status_code == 200
    found = re.search(r'id="invitation-code">(\d{4}) (\d{4})<', r.text)
    assert found, r.text[:2000]
    return found.group(1) + found.group(2)


def _redeem(client, csrf: str, code: str) -> str:  # type: ignore[no-untyped-def]
    r = client.post(
        "/invitations/redeem", data={"csrf_token": csrf, "code": code}, follow_redirects=False
    )
    assert r.status_code == 303
    return str(r.headers["location"])


def test_a_community_worker_invites_and_the_family_links(client, browser_login, session) -> None:
    elder_id = _other_elder(session)
    csrf = browser_login("community")
    detail = client.get(f"/elders/{elder_id}").text
    assert f'href="/invitations/new?elder_id={elder_id}" id="invite-family"' in detail
    code = _issue(client, csrf, elder_id)
    stored = session.scalar(select(LinkInvitation).where(LinkInvitation.elder_id == elder_id))
    assert stored is not None and code not in stored.code_hash and len(stored.code_hash) == 64
    csrf = browser_login("family")
    assert _redeem(client, csrf, code) == "/my-services?linked=1"
    assert elder_id in _linked(session, "family")
    page = client.get("/my-services?linked=1").text
    assert f'id="elder-{elder_id}"' in page and 'id="linked"' in page
    session.expire_all()
    used = session.get(LinkInvitation, stored.id)
    assert used.used_by == _uid(session, "family") and used.used_at is not None
    links = session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "user_elder_link", AuditEvent.actor_username == "family"
        )
    ).all()
    assert any(a.action == "create" and a.elder_id in (elder_id, None) for a in links), links
    # once only
    assert "error=" in _redeem(client, csrf, code)


def test_the_linked_family_member_invites_only_for_their_own_elder(
    client, browser_login, session
) -> None:
    csrf = browser_login("family")
    mine = min(_linked(session, "family"))
    assert len(_issue(client, csrf, mine)) == 8
    other = _other_elder(session)
    assert client.get(f"/invitations/new?elder_id={other}").status_code == 403
    r = client.post("/invitations", data={"csrf_token": csrf, "elder_id": other})
    assert r.status_code == 403
    assert session.scalar(select(LinkInvitation).where(LinkInvitation.elder_id == other)) is None
    browser_login("caregiver")  # may not edit elders: no invitations
    assert client.get(f"/invitations/new?elder_id={mine}").status_code == 403


def test_expired_codes_and_five_wrong_codes_are_refused(client, browser_login, session) -> None:
    elder_id = _other_elder(session)
    code = _issue(client, browser_login("community"), elder_id)
    row = session.scalar(select(LinkInvitation).where(LinkInvitation.elder_id == elder_id))
    row.expires_at = row.created_at - dt.timedelta(minutes=1)
    session.commit()
    csrf = browser_login("family")
    assert "error=" in _redeem(client, csrf, code)
    for attempt in range(5):
        location = _redeem(client, csrf, f"0000000{attempt}")
        assert "error=" in location
    fresh_csrf = browser_login("community")
    fresh = _issue(client, fresh_csrf, elder_id)
    csrf = browser_login("family")
    location = _redeem(client, csrf, fresh)  # right code, but the tries are locked
    assert "error=" in location and elder_id not in _linked(session, "family")
    failed = session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.action == "invitation_failed", AuditEvent.actor_username == "family"
        )
    ).all()
    assert len(failed) >= 5


def test_an_elder_cannot_redeem(client, browser_login, session) -> None:
    code = _issue(client, browser_login("community"), _other_elder(session))
    assert "error=" in _redeem(client, browser_login("elder"), code)
