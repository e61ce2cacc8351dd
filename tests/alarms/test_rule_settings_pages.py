"""The alarm rule settings pages (issue #19): a region's and an elder's parameters with where each
comes from, edited within the safe ranges with the refusal beside the field, audited; only for
those who may set rules (403 otherwise), only in their area (403 for another region, 404 for
another street's elder)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from yiyang.alarms.models import RuleSettings
from yiyang.audit.models import AuditEvent
from yiyang.regions.models import Region

from .test_rule_settings_api import street  # noqa: F401

pytestmark = pytest.mark.api


@pytest.mark.parametrize("username", ["operator", "community"])
def test_roles_without_rule_management_are_refused(client, browser_login, street, username) -> None:  # noqa: F811
    csrf = browser_login(username)
    assert client.get("/rule-settings").status_code == 403
    assert client.get(f"/elders/{street['inside']}/rule-settings").status_code == 403
    r = client.post(
        f"/elders/{street['inside']}/rule-settings",
        data={"csrf_token": csrf, "silence_sensitivity": "low"},
    )
    assert r.status_code == 403
    assert "/rule-settings" not in client.get("/elders").text  # no nav entry either


def test_another_region_and_another_streets_elder_are_not_theirs(
    client,
    browser_login,
    session,
    street,  # noqa: F811
) -> None:
    csrf = browser_login("street")
    assert client.get("/rule-settings", params={"region": street["other"]}).status_code == 403
    r = client.post(
        "/rule-settings",
        params={"region": street["other"]},
        data={"csrf_token": csrf, "inactivity_hours": "14"},
    )
    assert r.status_code == 403
    assert client.get(f"/elders/{street['outside']}/rule-settings").status_code == 404
    r = client.post(
        f"/elders/{street['outside']}/rule-settings",
        data={"csrf_token": csrf, "silence_sensitivity": "low"},
    )
    assert r.status_code == 404
    stored = select(RuleSettings).where(RuleSettings.elder_id == street["outside"])
    assert session.scalar(stored) is None


def test_a_street_officer_edits_their_street_with_sources_and_field_errors(
    client,
    browser_login,
    session,
    street,  # noqa: F811
) -> None:
    csrf = browser_login("street")
    page = client.get("/rule-settings")
    assert page.status_code == 200
    assert 'id="row-silence_sensitivity"' in page.text and "code default" in page.text
    r = client.post(
        "/rule-settings",
        data={"csrf_token": csrf, "inactivity_hours": "30", "heart_rate_crit": "40, 200"},
    )
    assert r.status_code == 422
    assert 'id="err-inactivity_hours"' in r.text and "Must be between 2 and 24 h." in r.text
    assert 'id="err-heart_rate_crit"' in r.text
    assert 'value="30"' in r.text  # the form keeps what was typed
    stored = select(RuleSettings).where(RuleSettings.region_path == street["path"])
    assert session.scalar(stored) is None
    r = client.post(
        "/rule-settings",
        data={"csrf_token": csrf, "inactivity_hours": "14", "note": "night shift workers"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    row = session.scalar(select(RuleSettings).where(RuleSettings.region_path == street["path"]))
    assert row is not None and row.params == {"inactivity_hours": 14.0}
    assert row.note == "night shift workers"
    name = session.scalar(select(Region.name).where(Region.path == street["path"]))
    page = client.get(r.headers["location"])
    assert 'id="saved"' in page.text
    source = page.text.split('id="source-inactivity_hours">')[1].split("</td>")[0]
    assert name in source
    audit = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "rule_settings").order_by(AuditEvent.id)
    ).all()
    assert audit[-1].actor_username == "street" and audit[-1].after["params"] == row.params
    # the elder below inherits it, and sets a sensitivity of their own
    elder_page = client.get(f"/elders/{street['inside']}")
    assert f'href="/elders/{street["inside"]}/rule-settings"' in elder_page.text
    picture = client.get(f"/elders/{street['inside']}/picture")
    assert f'href="/elders/{street["inside"]}/rule-settings"' in picture.text
    page = client.get(f"/elders/{street['inside']}/rule-settings")
    assert page.status_code == 200
    assert name in page.text.split('id="source-inactivity_hours">')[1].split("</td>")[0]
    assert 'id="verdicts"' in page.text
    r = client.post(
        f"/elders/{street['inside']}/rule-settings",
        data={"csrf_token": csrf, "silence_sensitivity": "extreme"},
    )
    assert r.status_code == 422 and 'id="err-silence_sensitivity"' in r.text
    r = client.post(
        f"/elders/{street['inside']}/rule-settings",
        data={"csrf_token": csrf, "silence_sensitivity": "high", "sustain": '{"bp": 1}'},
        follow_redirects=False,
    )
    assert r.status_code == 303
    row = session.scalar(select(RuleSettings).where(RuleSettings.elder_id == street["inside"]))
    assert row is not None and row.params == {"silence_sensitivity": "high", "sustain": {"bp": 1}}
    page = client.get(r.headers["location"])
    assert "this elder" in page.text.split('id="source-sustain">')[1].split("</td>")[0]
    # emptying a field inherits again
    r = client.post(
        f"/elders/{street['inside']}/rule-settings",
        data={"csrf_token": csrf, "silence_sensitivity": "high"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.refresh(row)
    assert row.params == {"silence_sensitivity": "high"}


def test_a_district_officer_chooses_a_street_of_the_district(
    client,
    browser_login,
    session,
    street,  # noqa: F811
) -> None:
    csrf = browser_login("district")
    page = client.get("/rule-settings")
    assert page.status_code == 200 and 'name="region"' in page.text
    assert f'value="{street["other"]}"' in page.text  # every street of the district offered
    r = client.post(
        "/rule-settings",
        params={"region": street["other"]},
        data={"csrf_token": csrf, "silence_sensitivity": "low"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    row = session.scalar(select(RuleSettings).where(RuleSettings.region_path == street["other"]))
    assert row is not None and row.params == {"silence_sensitivity": "low"}
    assert client.get("/rule-settings", params={"region": "/no/such/"}).status_code == 403
