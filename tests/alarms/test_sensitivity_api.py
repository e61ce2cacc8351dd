"""An elder's silence sensitivity and the false-alarm feedback bounds through the rule settings API
(ADR 0014 §5): set by those who may set an elder's rule settings, in their area, within the safe
range (the refusal names the field), audited before/after, and what the engine runs."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from yiyang.alarms.repository import ParamsCache
from yiyang.audit.models import AuditEvent
from yiyang.registry.models import Elder

from .test_rule_settings_api import ELDER_URL, REGION_URL, _errors, street  # noqa: F401

pytestmark = pytest.mark.api


@pytest.mark.parametrize("username", ["operator", "community", "family"])
def test_only_rule_managers_set_the_sensitivity(client, login, street, username) -> None:  # noqa: F811
    r = client.put(
        ELDER_URL.format(street["inside"]),
        json={"params": {"silence_sensitivity": "low"}},
        headers=login(username).headers,
    )
    assert r.status_code == 403, r.text


def test_street_officer_sets_an_elders_sensitivity_audited_and_run(
    client,
    login,
    session,
    street,  # noqa: F811
) -> None:
    who = login("street")
    url = ELDER_URL.format(street["inside"])
    r = client.put(url, json={"params": {"silence_sensitivity": "high"}}, headers=who.headers)
    assert r.status_code == 200, r.text
    assert client.get(url, headers=who.headers).json()["effective"]["silence_sensitivity"] == "high"
    r = client.put(url, json={"params": {"silence_sensitivity": "low"}}, headers=who.headers)
    assert r.status_code == 200
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "rule_settings", AuditEvent.elder_id == street["inside"])
        .order_by(AuditEvent.id)
    ).all()
    assert [(r.before or {}).get("params") for r in rows] == [None, {"silence_sensitivity": "high"}]
    assert rows[-1].after["params"] == {"silence_sensitivity": "low"}
    elder = session.get(Elder, street["inside"])
    cache = ParamsCache()
    cache.refresh(session, force=True)
    assert cache.for_elder(elder.id, elder.region_path).silence_sensitivity == "low"
    r = client.put(
        ELDER_URL.format(street["outside"]),
        json={"params": {"silence_sensitivity": "low"}},
        headers=who.headers,
    )
    assert r.status_code == 404  # another street's elder is not there for them


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"silence_sensitivity": "extreme"}, "params.silence_sensitivity"),
        ({"silence_sensitivity": None}, "params.silence_sensitivity"),
        ({"silence_feedback_step": 2}, "params.silence_feedback_step"),
        ({"silence_feedback_max": 0.5}, "params.silence_feedback_max"),
        ({"silence_hours_around": 5}, "params.silence_hours_around"),
    ],
)
def test_an_unsafe_value_is_refused_naming_the_field(
    client,
    login,
    street,  # noqa: F811
    params,
    field,
) -> None:
    r = client.put(
        ELDER_URL.format(street["inside"]), json={"params": params}, headers=login("street").headers
    )
    errors = _errors(r)
    assert list(errors) == [field], errors
    r = client.put(REGION_URL, json={"params": params}, headers=login("district").headers)
    assert list(_errors(r)) == [field]
