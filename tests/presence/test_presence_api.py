"""The presence API per role: the elder themself, their family (whatever their consent to share
details), the community worker and street officer of the elder's region may say the elder is
away or back and plan absences; staff of another street get 404 (they may not know the elder),
a caregiver who serves the elder and an operator 403. Every write is in the audit trail."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from yiyang.accounts.models import User, UserElderLink
from yiyang.core.audit_models import AuditEvent
from yiyang.presence.models import Absence
from yiyang.regions.models import Region
from yiyang.registry.models import Elder

pytestmark = pytest.mark.api


def _linked(session, username: str) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(UserElderLink.elder_id)
        .join(User, User.id == UserElderLink.user_id)
        .where(User.username == username)
        .order_by(UserElderLink.elder_id)
        .limit(1)
    )


@pytest.fixture
def elder_id(session) -> int:  # type: ignore[no-untyped-def]
    """The demo elder: the 'elder' user themself, linked to the 'family' user."""
    eid = _linked(session, "elder")
    assert eid == _linked(session, "family")
    return eid


def _soon(hours: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat()


@pytest.mark.parametrize("username", ["elder", "family", "community", "street"])
def test_who_may_say_away_and_back(client, login, session, elder_id, username) -> None:  # type: ignore[no-untyped-def]
    who = login(username)
    r = client.post(
        f"/api/elders/{elder_id}/away",
        json={"until": _soon(50), "note": "at my daughter's"},
        headers=who.headers,
    )
    assert r.status_code == 201, r.text
    absence = r.json()
    said = {"elder": "elder", "family": "family"}.get(username, "staff")
    assert absence["recorded_as"] == said and absence["note"] == "at my daughter's"
    state = client.get(f"/api/elders/{elder_id}/presence", headers=who.headers).json()
    assert state["away"] and state["absence"]["id"] == absence["id"]
    assert state["text"].startswith("Away, expected back")
    again = client.post(f"/api/elders/{elder_id}/away", json={}, headers=who.headers)
    assert again.status_code == 409  # already away
    r = client.post(f"/api/elders/{elder_id}/back", headers=who.headers)
    assert r.status_code == 200 and r.json()["ended_at"] and r.json()["ended_as"] == said
    assert client.post(f"/api/elders/{elder_id}/back", headers=who.headers).status_code == 409
    state = client.get(f"/api/elders/{elder_id}/presence", headers=who.headers).json()
    assert not state["away"] and state["text"] == "At home"
    listed = client.get(f"/api/elders/{elder_id}/absences", headers=who.headers).json()
    assert [a["id"] for a in listed][:1] == [absence["id"]]


def test_family_without_consent_to_share_details_may_still(
    client, login, session, elder_id
) -> None:  # type: ignore[no-untyped-def]
    elder = session.get(Elder, elder_id)
    elder.consent_share_with_family = False  # the state in force (a test shortcut)
    session.flush()
    who = login("family")
    r = client.post(f"/api/elders/{elder_id}/away", json={}, headers=who.headers)
    assert r.status_code == 201, r.text
    state = client.get(f"/api/elders/{elder_id}/presence", headers=who.headers).json()
    assert state["away"] and state["text"] == "Away"


def _other_street_elder(session) -> int:  # type: ignore[no-untyped-def]
    path = session.scalar(select(User.region_path).where(User.username == "street"))
    other = session.scalar(
        select(Region.path)
        .where(Region.level == "street", Region.path != path)
        .order_by(Region.path)
        .limit(1)
    )
    return session.scalar(
        select(Elder.id).where(Elder.region_path.startswith(other)).order_by(Elder.id).limit(1)
    )


def test_staff_of_another_street_get_404(client, login, session) -> None:  # type: ignore[no-untyped-def]
    outside = _other_street_elder(session)
    who = login("street")
    for method, url, body in (
        ("post", f"/api/elders/{outside}/away", {}),
        ("post", f"/api/elders/{outside}/back", None),
        ("post", f"/api/elders/{outside}/absences", {"starts_at": _soon(5)}),
        ("get", f"/api/elders/{outside}/absences", None),
        ("get", f"/api/elders/{outside}/presence", None),
    ):
        r = client.request(method, url, json=body, headers=who.headers)
        assert r.status_code == 404, (url, r.text)
    # and an absence there cannot be called off from here
    admin = login("admin")
    made = client.post(
        f"/api/elders/{outside}/absences", json={"starts_at": _soon(5)}, headers=admin.headers
    ).json()
    r = client.post(f"/api/absences/{made['id']}/cancel", headers=who.headers)
    assert r.status_code == 404


@pytest.mark.parametrize("username", ["caregiver", "operator"])
def test_caregiver_and_operator_may_read_but_not_say(client, login, session, username) -> None:  # type: ignore[no-untyped-def]
    elder = _linked(session, "caregiver")
    who = login(username)
    assert client.get(f"/api/elders/{elder}/presence", headers=who.headers).status_code == 200
    r = client.post(f"/api/elders/{elder}/away", json={}, headers=who.headers)
    assert r.status_code == 403, r.text
    r = client.post(
        f"/api/elders/{elder}/absences", json={"starts_at": _soon(5)}, headers=who.headers
    )
    assert r.status_code == 403


def test_plan_and_cancel_an_absence(client, login, session, elder_id) -> None:  # type: ignore[no-untyped-def]
    who = login("family")
    body = {"starts_at": _soon(24), "until": _soon(72), "note": "visiting my son"}
    r = client.post(f"/api/elders/{elder_id}/absences", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    planned = r.json()
    state = client.get(f"/api/elders/{elder_id}/presence", headers=who.headers).json()
    assert not state["away"] and [p["id"] for p in state["planned"]] == [planned["id"]]
    assert state["text"].startswith("At home; going away")
    overlap = {"starts_at": _soon(48), "until": _soon(96)}
    r = client.post(f"/api/elders/{elder_id}/absences", json=overlap, headers=who.headers)
    assert r.status_code == 422 and r.json()["detail"]["field"] == "starts_at"
    r = client.post(f"/api/absences/{planned['id']}/cancel", headers=who.headers)
    assert r.status_code == 200 and r.json()["cancelled_at"]
    assert (
        client.post(f"/api/absences/{planned['id']}/cancel", headers=who.headers).status_code == 409
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"starts_at": "2020-01-01T08:00:00+08:00"}, "starts_at"),  # in the past
        ({"starts_at": _soon(10), "until": _soon(5)}, "until"),  # back before it begins
        ({"starts_at": _soon(10), "until": _soon(5000)}, "until"),  # longer than 180 days
    ],
)
def test_a_plan_that_makes_no_sense_is_refused_by_field(
    client, login, elder_id, body, field
) -> None:  # type: ignore[no-untyped-def]
    who = login("community")
    r = client.post(f"/api/elders/{elder_id}/absences", json=body, headers=who.headers)
    assert r.status_code == 422 and r.json()["detail"]["field"] == field, r.text


def test_every_write_is_audited(client, login, session, elder_id) -> None:  # type: ignore[no-untyped-def]
    who = login("elder")
    made = client.post(
        f"/api/elders/{elder_id}/away", json={"until": _soon(30)}, headers=who.headers
    ).json()
    client.post(f"/api/elders/{elder_id}/back", headers=who.headers)
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "absence", AuditEvent.elder_id == elder_id)
        .order_by(AuditEvent.id)
    ).all()[-2:]
    assert [r.action for r in rows] == ["create", "update"]
    assert rows[0].after["recorded_as"] == "elder" and rows[0].after["until"]
    assert {r.actor_username for r in rows} == {"elder"} and rows[0].elder_id == elder_id
    assert rows[1].before["ended_at"] is None and rows[1].after["ended_at"]
    assert session.get(Absence, made["id"]).ended_as == "elder"
