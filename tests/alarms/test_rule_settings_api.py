"""Tuning an elder's alarms: only ``can_manage_rules`` (admins, district and street officers), in
their own area; every parameter within its safe range (field-level 422, Chinese by default);
every change audited before/after; a stored unsafe row never reaches the running engine."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import select

from yiyang.accounts.models import User
from yiyang.alarms import service
from yiyang.alarms.models import Alert, AlertEvent, RuleSettings
from yiyang.alarms.repository import ParamsCache
from yiyang.audit.models import AuditEvent
from yiyang.regions.models import Region
from yiyang.registry.models import Elder

pytestmark = pytest.mark.api

ELDER_URL = "/api/rule-settings/elder/{}"
REGION_URL = "/api/rule-settings/region"


@pytest.fixture
def street(session) -> dict:  # type: ignore[no-untyped-def]
    """The street officer's street, an elder in it, and another street with an elder."""
    path = session.scalar(select(User.region_path).where(User.username == "street"))
    other = session.scalar(
        select(Region.path)
        .where(Region.level == "street", Region.path != path)
        .order_by(Region.path)
        .limit(1)
    )
    inside = session.scalar(select(Elder.id).where(Elder.region_path.startswith(path)).limit(1))
    outside = session.scalar(
        select(Elder.id).where(Elder.region_path.startswith(other)).order_by(Elder.id).limit(1)
    )
    assert inside and outside and other
    return {"path": path, "other": other, "inside": inside, "outside": outside}


@pytest.mark.parametrize("username", ["operator", "community", "family", "caregiver"])
def test_roles_without_rule_management_cannot_tune_alarms(client, login, street, username) -> None:
    """The operator could switch off an elder's critical vitals alarms with can_handle_alerts."""
    who = login(username)
    r = client.put(
        ELDER_URL.format(street["inside"]),
        json={"params": {"spo2_warn_below": 88}},
        headers=who.headers,
    )
    assert r.status_code == 403, r.text
    r = client.put(REGION_URL, json={"params": {"inactivity_hours": 20}}, headers=who.headers)
    assert r.status_code == 403


def test_street_officer_tunes_only_their_street(client, login, session, street) -> None:
    who = login("street")
    r = client.put(
        ELDER_URL.format(street["inside"]),
        json={"params": {"heart_rate_crit": [40, 140], "sustain": {"bp": 1}}, "note": "起搏器"},
        headers=who.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["params"] == {"heart_rate_crit": [40, 140], "sustain": {"bp": 1}}
    shown = client.get(ELDER_URL.format(street["inside"]), headers=who.headers).json()
    assert shown["effective"]["heart_rate_crit"] == [40, 140]
    assert shown["effective"]["sustain"]["heart_rate"] == 3  # merged, not replaced
    assert shown["rejected"] == []
    r = client.put(
        ELDER_URL.format(street["outside"]),
        json={"params": {"prewarn_minutes": 20}},
        headers=who.headers,
    )
    assert r.status_code == 404
    assert (
        session.scalar(select(RuleSettings).where(RuleSettings.elder_id == street["outside"]))
        is None
    )
    # region defaults: their street (and below) yes, another street no
    own = client.put(
        REGION_URL,
        params={"region_path": street["path"]},
        json={"params": {"inactivity_hours": 10}},
        headers=who.headers,
    )
    assert own.status_code == 200, own.text
    assert own.json()["region_path"] == street["path"]
    other = client.put(
        REGION_URL,
        params={"region_path": street["other"]},
        json={"params": {"inactivity_hours": 10}},
        headers=who.headers,
    )
    assert other.status_code == 403
    unknown = client.put(
        REGION_URL,
        params={"region_path": street["path"] + "999999999999/"},
        json={"params": {}},
        headers=who.headers,
    )
    assert unknown.status_code == 422 and unknown.json()["detail"]["field"] == "region_path"
    # the district officer reaches the other street
    district = login("district")
    r = client.put(
        ELDER_URL.format(street["outside"]),
        json={"params": {"prewarn_minutes": 20}},
        headers=district.headers,
    )
    assert r.status_code == 200


def _errors(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.text
    found: dict[str, str] = {}
    for e in response.json()["detail"]["errors"]:
        found[e["field"]] = " ".join(filter(None, [found.get(e["field"]), e["message"]]))
    return found


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"heart_rate_warn": [130, 40]}, "params.heart_rate_warn"),  # inverted
        ({"breathing_rate_crit": [40, 6]}, "params.breathing_rate_crit"),
        ({"spo2_crit_below": 50}, "params.spo2_crit_below"),  # out of range
        ({"sustain": {"heart_rate": 1000}}, "params.sustain.heart_rate"),
        ({"inactivity_hours": 500}, "params.inactivity_hours"),
        ({"escalation": {"critical": []}}, "params.escalation.critical"),  # emptied ladder
        ({"escalation": {"critical": [["contacts", 60]]}}, "params.escalation.critical"),
        ({"heart_rate_crit": None}, "params.heart_rate_crit"),  # removed critical limit
        ({"bp_crit": None}, "params.bp_crit"),
        ({"glucose_crit": [3.0, 99]}, "params.glucose_crit"),
    ],
)
def test_unsafe_settings_are_refused_by_field(
    client, login, session, street, params, field
) -> None:
    for url in (ELDER_URL.format(street["inside"]), REGION_URL):
        r = client.put(url, json={"params": params}, headers=login("street").headers)
        errors = _errors(r)
        assert errors.get(field), errors
    assert (
        session.scalar(select(RuleSettings).where(RuleSettings.elder_id == street["inside"]))
        is None
    )


def test_an_override_is_checked_on_top_of_the_region_rows(client, login, street) -> None:
    who = login("street")
    r = client.put(
        REGION_URL,
        params={"region_path": street["path"]},
        json={"params": {"heart_rate_warn": [45, 130], "heart_rate_crit": [40, 150]}},
        headers=who.headers,
    )
    assert r.status_code == 200, r.text
    # safe on its own, not under this street's critical low of 40
    r = client.put(
        ELDER_URL.format(street["inside"]),
        json={"params": {"heart_rate_warn": [38, 120]}},
        headers=who.headers,
    )
    assert "beyond the warning limit (38–120)" in _errors(r)["params.heart_rate_crit"]


def test_refusals_are_in_chinese_by_default(client, login, street) -> None:
    r = client.put(
        ELDER_URL.format(street["inside"]),
        params={"lang": "zh_CN"},
        json={"params": {"spo2_crit_below": 50, "escalation": {"critical": []}}},
        headers=login("street").headers,
    )
    errors = _errors(r)
    assert r.json()["detail"]["message"] == "部分规则参数有误。"
    assert errors["params.spo2_crit_below"] == "须在 80 至 90 % 之间。"
    assert "紧急联系人" in errors["params.escalation.critical"]
    r = client.put(
        ELDER_URL.format(street["inside"]),
        params={"lang": "zh_CN"},
        json={"params": {"heart_rate_crit": None}},
        headers=login("street").headers,
    )
    assert _errors(r)["params.heart_rate_crit"] == "该界限不能关闭，只能调整。"


def test_every_change_is_audited_with_before_and_after(client, login, session, street) -> None:
    who = login("street")
    url = ELDER_URL.format(street["inside"])
    assert (
        client.put(url, json={"params": {"battery_low": 30}}, headers=who.headers).status_code
        == 200
    )
    assert (
        client.put(url, json={"params": {"battery_low": 25}}, headers=who.headers).status_code
        == 200
    )
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "rule_settings", AuditEvent.elder_id == street["inside"])
        .order_by(AuditEvent.id)
    ).all()
    assert [r.action for r in rows] == ["create", "update"]
    assert all(r.actor_username == "street" for r in rows)
    assert rows[0].after["params"] == {"battery_low": 30}
    assert rows[1].before["params"] == {"battery_low": 30}
    assert rows[1].after["params"] == {"battery_low": 25}


def test_a_stored_unsafe_row_is_not_run_and_does_not_crash(
    client, login, session, street, caplog
) -> None:
    """A row written before the safe ranges: the critical ladder emptied, a critical limit gone.
    The escalation timer still reaches the contacts; the row's safe keys still apply."""
    elder = session.get(Elder, street["inside"])
    session.add(
        RuleSettings(
            elder_id=elder.id,
            params={
                "escalation": {"critical": []},
                "heart_rate_crit": None,
                "spo2_crit_below": 10,
                "battery_low": 30,
            },
        )
    )
    now = dt.datetime.now(dt.UTC)
    alert = Alert(
        elder_id=elder.id,
        region_path=elder.region_path,
        alert_type="vitals",
        severity="critical",
        dedupe_key="vitals:spo2",
        detail={"metric": "spo2", "values": [70, 70, 70], "readings": 3},
        first_at=now - dt.timedelta(minutes=2),
        last_at=now - dt.timedelta(minutes=2),
        created_at=now - dt.timedelta(minutes=2),
        next_escalation_at=now - dt.timedelta(seconds=1),
    )
    session.add(alert)
    session.flush()
    cache = ParamsCache()
    with caplog.at_level(logging.WARNING, logger="yiyang.alarms.repository"):
        assert service.escalate_due(session, cache, now) == 1
    p = cache.for_elder(elder.id, elder.region_path)
    assert p.escalation["critical"][0] == ("contacts", 60)
    assert p.heart_rate_crit == (35, 150) and p.spo2_crit_below == 85
    assert p.battery_low == 30
    assert {k for _row, k in cache.rejected} == {
        "escalation.critical",
        "heart_rate_crit",
        "spo2_crit_below",
    }
    assert "outside the safe ranges" in caplog.text
    trail = session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id)).all()
    assert [e.data.get("audience") for e in trail if e.action == "escalated"] == ["contacts"]
    session.commit()
    shown = client.get(ELDER_URL.format(elder.id), headers=login("operator").headers).json()
    assert shown["effective"]["spo2_crit_below"] == 85
    assert sorted(shown["rejected"]) == [
        "elder: escalation.critical",
        "elder: heart_rate_crit",
        "elder: spo2_crit_below",
    ]
