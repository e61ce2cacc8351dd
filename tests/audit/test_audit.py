"""The audit trail: every write recorded with who/when/where/before/after, append-only."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from yiyang.audit.models import AuditEvent
from yiyang.registry.models import Elder

pytestmark = pytest.mark.api


def test_an_edit_records_who_when_where_and_the_change(client, login, session) -> None:
    headers = login("community").headers
    elder = client.get("/api/elders", headers=headers).json()["items"][0]
    full = client.get(f"/api/elders/{elder['id']}", headers=headers).json()
    r = client.patch(
        f"/api/elders/{elder['id']}",
        headers=headers,
        json={"version": full["version"], "key_holder": "楼组长", "contacts": []},
    )
    assert r.status_code == 200
    rows = session.scalars(
        select(AuditEvent).where(
            AuditEvent.elder_id == elder["id"], AuditEvent.action.in_(["update", "delete"])
        )
    ).all()
    update = next(e for e in rows if e.entity_type == "elder")
    assert update.actor_username == "community" and update.actor_role == "community_worker"
    assert update.ip == "testclient" and update.at is not None and update.request_id
    assert update.after == {"key_holder": "楼组长"}
    deleted_contacts = [
        e for e in rows if e.entity_type == "emergency_contact" and e.action == "delete"
    ]
    assert len(deleted_contacts) == len(full["contacts"])
    assert all(e.before["phone"] for e in deleted_contacts)


def test_audit_snapshots_mask_the_id_number(client, login, session) -> None:
    from stdnum.cn import ric

    number = "31010419360101001" + ric.calc_check_digit("310104193601010010")
    r = client.post(
        "/api/elders",
        headers=login("community").headers,
        json={
            "name": "审计测试",
            "id_number": number,
            "address": "测试路1号",
            "region_code": "310104003001",
            "household": "alone",
        },
    )
    created = session.scalars(
        select(AuditEvent).where(
            AuditEvent.elder_id == r.json()["id"],
            AuditEvent.entity_type == "elder",
            AuditEvent.action == "create",
        )
    ).one()
    assert created.after["id_number"] == number[0] + "*" * 16 + number[-1]  # nothing derivable
    assert created.after["name"] == "审计测试"


def test_exports_are_audited_with_their_filters(client, login, session) -> None:
    client.get(
        "/api/elders/export.xlsx", params={"household": "alone"}, headers=login("street").headers
    )
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    assert event.actor_username == "street"
    assert event.after == {"filters": {"household": "alone"}}


def test_audit_filters_by_elder_user_and_time(client, login, session) -> None:
    headers = login("district").headers
    elder_id = session.scalar(select(Elder.id).order_by(Elder.id).limit(1))
    client.get(f"/api/elders/{elder_id}", headers=headers)
    by_elder = client.get("/api/audit", params={"elder_id": elder_id}, headers=headers).json()
    assert by_elder and all(e["elder_id"] == elder_id for e in by_elder)
    by_user = client.get(
        "/api/audit", params={"actor": "district", "action": "read_medical"}, headers=headers
    ).json()
    assert [e["elder_id"] for e in by_user] == [elder_id]
    future = client.get(
        "/api/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=headers
    ).json()
    assert future == []


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"]
)
def test_the_trail_is_append_only_in_the_database(connection, statement) -> None:
    nested = connection.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        connection.execute(text(statement))
    nested.rollback()
