"""The region overview: each figure counts exactly what its link lists, scoped by the domains'
own rules (a community worker sees only their community), in a handful of queries; roles
without a region to overview are refused."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, func, select

from tests.alarms.test_alarms_api import make_alerts
from yiyang.accounts.models import User
from yiyang.alarms.models import Alert
from yiyang.devices.models import Device
from yiyang.registry.models import Elder

pytestmark = pytest.mark.pages


def figure(html: str, ident: str) -> int:
    m = re.search(rf'id="{ident}"><strong>(\d+)</strong>', html) or re.search(
        rf'id="{ident}">(\d+)</a>', html
    )
    assert m, ident
    return int(m.group(1))


def test_community_worker_sees_their_community_only(client, login, session, engine) -> None:
    make_alerts(session)
    path = session.scalar(select(User.region_path).where(User.username == "community"))
    device = session.scalar(select(Device).where(Device.region_path == path).limit(1))
    device.status = "offline"
    outside = session.scalar(select(Device).where(Device.region_path != path).limit(1))
    outside.status = "offline"
    session.commit()
    who = login("community")
    queries: list[str] = []

    def count(*args: object) -> None:
        queries.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        page = client.get("/overview", headers=who.headers)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.status_code == 200
    html = page.text
    open_alerts = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.region_path == path, Alert.state != "resolved")
    )
    assert figure(html, "fig-alerts") == open_alerts == 1  # the one outside is not counted
    offline = session.scalar(
        select(func.count())
        .select_from(Device)
        .where(Device.region_path == path, Device.status == "offline")
    )
    assert figure(html, "fig-offline") == offline >= 1
    alone = session.scalar(
        select(func.count())
        .select_from(Elder)
        .where(Elder.region_path == path, Elder.household == "alone", Elder.status == "active")
    )
    assert figure(html, "fig-household-alone") == alone
    assert figure(html, "fig-elders") == session.scalar(
        select(func.count())
        .select_from(Elder)
        .where(Elder.region_path == path, Elder.status == "active")
    )
    # the links lead to lists that show the same rows
    listed = client.get("/elders?household=alone", headers=who.headers)
    assert listed.status_code == 200
    assert client.get("/devices?status=offline", headers=who.headers).status_code == 200
    # a handful of queries: the region's name and three for the figures (besides sign-in's)
    page_queries = [
        q
        for q in queries
        if q.startswith("SELECT") and "auth_session" not in q and "app_user" not in q
    ]
    assert len(page_queries) <= 4, page_queries


def test_street_sees_more_than_its_community(client, login, session) -> None:
    make_alerts(session)
    street = client.get("/overview", headers=login("street").headers).text
    community = client.get("/overview", headers=login("community").headers).text
    assert figure(street, "fig-elders") > figure(community, "fig-elders")


@pytest.mark.parametrize("username", ["family", "elder", "provider", "caregiver", "operator"])
def test_roles_without_a_region_overview_are_refused(client, login, username) -> None:
    assert client.get("/overview", headers=login(username).headers).status_code == 403
