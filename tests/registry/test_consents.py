"""Consents (PIPL art. 29, issue #18) through the API and the elder's page: each consent given or
withdrawn on its own, with the text version, who recorded it and when; append-only and audited;
the state in force on the record; the rules between them; who may record; binding a monitoring
device refused without the monitoring consent (with the reason in Chinese), safety devices
always allowed."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from yiyang.accounts.models import User, UserElderLink
from yiyang.audit.models import AuditEvent
from yiyang.registry.consents import CURRENT_VERSION, TEXTS, Purpose
from yiyang.registry.models import ConsentRecord, Elder

pytestmark = pytest.mark.api


def resident_id(body17: str) -> str:
    """A resident ID number with its GB 11643 check digit."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(body17, weights, strict=True))
    return body17 + "10X98765432"[total % 11]


def community_elder(session, *, skip: int = 3) -> Elder:  # type: ignore[no-untyped-def]
    path = session.scalar(select(User.region_path).where(User.username == "community"))
    return session.scalars(
        select(Elder).where(Elder.region_path == path).order_by(Elder.id).offset(skip).limit(1)
    ).one()


def linked_elder(session, username: str) -> int:  # type: ignore[no-untyped-def]
    user = session.scalar(select(User).where(User.username == username))
    return session.scalar(select(UserElderLink.elder_id).where(UserElderLink.user_id == user.id))


def post(client, who, elder_id: int, **body: Any):  # type: ignore[no-untyped-def]
    return client.post(f"/api/elders/{elder_id}/consents", json=body, headers=who.headers)


def state(payload: dict[str, Any]) -> dict[str, bool]:
    return {s["purpose"]: s["in_force"] for s in payload["state"]}


def none_given(session, elder: Elder) -> Elder:  # type: ignore[no-untyped-def]
    """Start from an elder with no consent in force (the demo gives most of them)."""
    if any((elder.consent_data_processing, elder.consent_health_monitoring)):
        session.execute(
            update(Elder)
            .where(Elder.id == elder.id)
            .values(
                consent_data_processing=False,
                consent_health_monitoring=False,
                consent_share_with_family=False,
            )
        )
        session.commit()
        session.refresh(elder)
    return elder


def test_each_consent_is_recorded_with_its_text_who_and_when(client, login, session) -> None:
    elder = none_given(session, community_elder(session))
    community = login("community")
    r = post(client, community, elder.id, purpose="data_processing", action="given")
    assert r.status_code == 201, r.text
    r = post(
        client,
        community,
        elder.id,
        purpose="health_monitoring",
        action="given",
        text_version=CURRENT_VERSION,
        signed_on="2026-01-05",
        method="paper",
        note="签字版存居委会",
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert state(body) == {
        "data_processing": True,
        "health_monitoring": True,
        "share_with_family": False,
    }
    latest = body["history"][0]
    assert latest["purpose"] == "health_monitoring" and latest["action"] == "given"
    assert latest["text_version"] == CURRENT_VERSION and latest["signed_on"] == "2026-01-05"
    assert latest["recorded_by_name"] == "社区 李社工" and latest["note"] == "签字版存居委会"
    assert latest["at"]
    record = client.get(f"/api/elders/{elder.id}", headers=community.headers).json()
    assert record["consent_health_monitoring"] is True
    assert record["consent_date"] == "2026-01-05"
    by_purpose = {c["purpose"]: c for c in record["consents"]}
    assert by_purpose["share_with_family"] == {
        "purpose": "share_with_family",
        "in_force": False,
        "latest": None,
    }
    assert by_purpose["health_monitoring"]["latest"]["text_version"] == CURRENT_VERSION
    # every record and the change of the flags are in the audit trail
    session.expire_all()
    audited = session.execute(
        select(AuditEvent.entity_type, AuditEvent.action, AuditEvent.actor_username).where(
            AuditEvent.elder_id == elder.id,
            AuditEvent.entity_type.in_(("consent_record", "elder")),
        )
    ).all()
    assert [a for a in audited if a.entity_type == "consent_record"] == [
        ("consent_record", "create", "community"),
        ("consent_record", "create", "community"),
    ]
    assert any(a.entity_type == "elder" and a.action == "update" for a in audited)


def test_withdrawing_processing_withdraws_what_rests_on_it(client, login, session) -> None:
    elder = none_given(session, community_elder(session))
    community = login("community")
    for purpose in ("data_processing", "health_monitoring", "share_with_family"):
        assert post(client, community, elder.id, purpose=purpose, action="given").status_code == 201
    r = post(client, community, elder.id, purpose="data_processing", action="withdrawn")
    assert r.status_code == 201, r.text
    assert not any(state(r.json()).values())
    withdrawn = [h for h in r.json()["history"] if h["action"] == "withdrawn"]
    assert sorted(h["purpose"] for h in withdrawn) == sorted(p.value for p in Purpose)
    # the history is kept: the three given and the three withdrawn, newest first
    assert [h["action"] for h in r.json()["history"][:6]] == ["withdrawn"] * 3 + ["given"] * 3


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"purpose": "health_monitoring", "action": "given"}, 422, "purpose"),
        ({"purpose": "share_with_family", "action": "given"}, 422, "purpose"),
        ({"purpose": "data_processing", "action": "withdrawn"}, 409, "purpose"),
        (
            {"purpose": "data_processing", "action": "given", "text_version": "1999-01"},
            422,
            "text_version",
        ),
        (
            {"purpose": "data_processing", "action": "given", "signed_on": "2999-01-01"},
            422,
            "signed_on",
        ),
    ],
)
def test_refusals(client, login, session, body, status, field) -> None:  # type: ignore[no-untyped-def]
    elder = none_given(session, community_elder(session))
    records = select(ConsentRecord.id).where(ConsentRecord.elder_id == elder.id)
    before = session.scalars(records).all()
    r = post(client, login("community"), elder.id, **body)
    assert r.status_code == status, r.text
    assert r.json()["detail"]["field"] == field
    assert session.scalars(records).all() == before  # nothing written


def test_consents_are_not_edited_through_the_record(client, login, session) -> None:
    elder = community_elder(session)
    r = client.patch(
        f"/api/elders/{elder.id}",
        json={"version": elder.version, "consent_share_with_family": True},
        headers=login("community").headers,
    )
    assert r.status_code == 422


def test_the_elder_may_withdraw_but_not_give_and_the_family_neither(client, login, session) -> None:
    elder_id = linked_elder(session, "elder")
    elder, family = login("elder"), login("family")
    r = post(client, family, elder_id, purpose="share_with_family", action="withdrawn")
    assert r.status_code == 403
    r = post(client, elder, elder_id, purpose="share_with_family", action="withdrawn", method="app")
    assert r.status_code == 201, r.text
    assert r.json()["history"][0]["recorded_by_name"] == "老人本人"
    r = post(client, elder, elder_id, purpose="share_with_family", action="given")
    assert r.status_code == 403
    # another elder's consents are out of reach (404, as every outsider)
    outsider = session.scalar(select(Elder.id).where(Elder.id != elder_id).limit(1))
    r = post(client, elder, outsider, purpose="data_processing", action="withdrawn")
    assert r.status_code == 404
    assert client.get(f"/api/elders/{outsider}/consents", headers=elder.headers).status_code == 404


def test_records_are_append_only(session) -> None:
    row = session.scalars(select(ConsentRecord).limit(1)).one()
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(
            text("UPDATE consent_record SET action = 'withdrawn' WHERE id = :id"),
            {"id": row.id},
        )


def test_registration_records_the_consents_ticked(client, login) -> None:
    body = {
        "name": "同意测",
        "id_number": resident_id("11010119500101123"),
        "address": "建国西路1号",
        "region_code": "310104003001",
        "household": "alone",
        "consent_data_processing": True,
        "consent_health_monitoring": True,
        "consent_date": "2026-01-02",
    }
    community = login("community")
    r = client.post("/api/elders", json=body, headers=community.headers)
    assert r.status_code == 201, r.text
    elder = r.json()
    assert elder["consent_health_monitoring"] and not elder["consent_share_with_family"]
    history = client.get(f"/api/elders/{elder['id']}/consents", headers=community.headers).json()
    assert [(h["purpose"], h["signed_on"]) for h in reversed(history["history"])] == [
        ("data_processing", "2026-01-02"),
        ("health_monitoring", "2026-01-02"),
    ]
    # monitoring without processing is refused before anything is written
    refused = {
        **body,
        "id_number": resident_id("11010119500101213"),
        "consent_data_processing": False,
    }
    r = client.post("/api/elders", json=refused, headers=community.headers)
    assert r.status_code == 422


def test_the_page_shows_the_consents_and_records_one(client, browser_login, session) -> None:
    elder = none_given(session, community_elder(session))
    csrf = browser_login("community")
    page = client.get(f"/elders/{elder.id}")
    assert page.status_code == 200
    assert 'id="consent-form"' in page.text and "never recorded" in page.text
    assert TEXTS[CURRENT_VERSION][Purpose.SHARE_WITH_FAMILY]["en"][:40] in page.text
    r = client.post(
        f"/elders/{elder.id}/consents",
        data={
            "csrf_token": csrf,
            "purpose": "data_processing",
            "action": "given",
            "method": "in_person",
            "text_version": CURRENT_VERSION,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get(f"/elders/{elder.id}")
    assert "recorded by 社区 李社工" in page.text and "in person" in page.text
    r = client.post(
        f"/elders/{elder.id}/consents",
        data={"csrf_token": csrf, "purpose": "share_with_family", "action": "withdrawn"},
    )
    assert r.status_code == 409
    assert 'id="consent-error"' in r.text and "not in force" in r.text


def bind(client, who, serial: str, device_type: str, elder_id: int):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/devices",
        json={"serial": serial, "device_type": device_type, "elder_id": elder_id},
        headers=who.headers,
    )


def test_a_monitoring_device_needs_the_monitoring_consent(client, login, session) -> None:
    elder = none_given(session, community_elder(session))
    community = login("community")
    client.cookies.set("lang", "zh_CN")
    r = bind(client, community, "CONSENT-BED-1", "bed_sensor", elder.id)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail["code"] == "monitoring_consent_required" and detail["field"] == "elder_id"
    assert "睡眠监测带" in detail["message"] and "设备健康监测" in detail["message"]
    client.cookies.set("lang", "en")
    for serial, kind in (("CONSENT-SOS-1", "sos_button"), ("CONSENT-SMK-1", "smoke_alarm")):
        r = bind(client, community, serial, kind, elder.id)
        assert r.status_code == 201, r.text  # safety devices need no such consent
    for purpose in ("data_processing", "health_monitoring"):
        assert post(client, community, elder.id, purpose=purpose, action="given").status_code == 201
    r = bind(client, community, "CONSENT-BED-1", "bed_sensor", elder.id)
    assert r.status_code == 201, r.text
