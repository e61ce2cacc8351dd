"""Consent enforced through every route (PIPL art. 29, issue #18): a family member whose elder
has not agreed to share with family sees the elder's name, today's state and services — never
the medical profile, phones, the address beyond the community, coordinates, readings, or the
key holder and access notes — in any API response or page. The routes come from the app itself
(every GET route, as ``tests/security/test_http_headers.py`` walks them), so a new route that
returns elder data is checked the day it is added.

The family's elder gets distinctive private values; each route is read as the family member
with the sharing consent withdrawn (through the API, by the community worker), and none of the
values may appear. With the consent the same values do appear where the family reads them, so
the check would catch a leak."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from yiyang.accounts.models import User, UserElderLink
from yiyang.alarms.models import Alert
from yiyang.core.clock import local_zone, now, today_local
from yiyang.devices.models import Device, DeviceMessage, VitalReading
from yiyang.registry.models import Elder, EmergencyContact
from yiyang.services.models import ServiceItem

pytestmark = pytest.mark.api

# The private values of the family's elder, as they would appear in JSON, HTML or a sheet.
SECRETS = {
    "address": "秘密路88弄8号808室",
    "mobile phone": "13712340001",
    "home phone": "02155501234",
    "phone notes": "13712340002",
    "latitude": "31.1234",  # 31.123457 in JSON, 31.12346 on a page
    "longitude": "121.6543",
    "key holder": "秘钥保管人甲",
    "access notes": "门禁密码9527",
    "chronic condition": "秘病甲",
    "medication": "秘药乙",
    "allergy": "秘敏丙",
    "medical notes": "秘密病历丁",
    "family doctor's phone": "13712340003",
    "contact's phone": "13712340004",
    "reading": "237.3",  # a heart rate in an alert's figures and a device message
}
LAT, LON = 31.123457, 121.654321

# Values for the path parameters of the walk (``home`` fills the elder's own).
FIXED = {
    "kind": "caregiver",
    "subject_id": 1,
    "provider_id": 1,
    "token": "no-such-link",
    "tab": "profile",
    # the home-service management pages (services/manage_pages.py): no elder data
    "caregiver_id": 1,
    "item_id": 1,
    "canteen_id": 1,
    "day": "2030-01-07",
    "policy_id": 1,  # subsidy policies (subsidies/pages.py): no elder data
    # check-in tasks and user accounts: the family holds neither permission (403)
    "task_id": 1,
    "user_id": 1,
    "region_id": 1,  # the region tree pages (regions/pages.py): no elder data
}
# Required query parameters of a route.
QUERIES = {"/api/subsidies/report": "period={period}", "/invitations/new": "elder_id={elder_id}"}
# Extra requests beside the plain GET of each route: the HTMX fragments and list filters.
VARIANTS: dict[str, list[tuple[str, dict[str, str]]]] = {
    "/elders": [("/elders?q=", {"HX-Target": "results", "HX-Request": "true"})],
    "/api/alerts": [("/api/alerts?elder_id={elder_id}", {})],
    "/api/orders": [("/api/orders?elder_id={elder_id}", {})],
    "/api/devices": [("/api/devices?elder_id={elder_id}", {})],
    "/alerts": [("/alerts?state=", {})],
}
# Where the family reads each kind of private value when the elder shares (the control).
SHOWN_WHEN_SHARED = {
    "/api/elders/{elder_id}": ["address", "mobile phone", "latitude", "key holder", "medication"],
    "/elders/{elder_id}": ["address", "home phone", "access notes", "chronic condition"],
    "/api/alerts/{alert_id}": ["reading", "latitude"],
    "/api/devices/{device_id}": ["reading"],
    "/api/orders/{order_id}": ["address"],
}
# Routes the family must reach at all, so the walk is not vacuous.
FAMILY_READS = {
    "/api/elders",
    "/api/elders/{elder_id}",
    "/api/elders/{elder_id}/consents",
    "/api/alerts",
    "/api/alerts/{alert_id}",
    "/api/devices",
    "/api/devices/{device_id}",
    "/api/orders",
    "/api/orders/{order_id}",
    "/elders",
    "/elders/{elder_id}",
    "/alerts",
    "/alerts/{alert_id}",
    "/devices",
    "/devices/{device_id}",
    "/orders/{order_id}",
    "/my-services",
}


def all_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from all_routes(inner.routes)
        elif isinstance(route, APIRoute):
            yield route


def get_routes() -> list[APIRoute]:
    from yiyang.app import create_app

    return [r for r in all_routes(create_app().routes) if "GET" in r.methods]


GET_PATHS = sorted({r.path for r in get_routes()} - {"/console/stream"})  # an endless stream


@pytest.fixture
def home(client, login, session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The family's elder with private values, an open alert with a reading and a position, a
    watch with a vitals and a GPS message, and an order placed by the family."""
    family = session.scalar(select(User).where(User.username == "family"))
    elder_id = session.scalar(
        select(UserElderLink.elder_id).where(UserElderLink.user_id == family.id)
    )
    elder = session.get(Elder, elder_id)
    assert elder.consent_share_with_family  # the demo family's elder shares (demo/consents.py)
    elder.address = SECRETS["address"]
    elder.mobile_phone, elder.home_phone = SECRETS["mobile phone"], SECRETS["home phone"]
    elder.phone_notes = SECRETS["phone notes"] + "（女儿）"
    elder.latitude, elder.longitude = LAT, LON
    elder.key_holder, elder.access_notes = SECRETS["key holder"], SECRETS["access notes"] + "#"
    elder.chronic_conditions = [SECRETS["chronic condition"]]
    elder.medications, elder.allergies = [SECRETS["medication"]], [SECRETS["allergy"]]
    elder.medical_notes = SECRETS["medical notes"]
    elder.family_doctor_phone = SECRETS["family doctor's phone"]
    session.add(
        EmergencyContact(
            elder_id=elder.id,
            priority=9,
            name="李秘",
            relation="女儿",
            phone=SECRETS["contact's phone"],
        )
    )
    t = now() - dt.timedelta(minutes=5)
    watch = Device(
        serial="CONSENT-WATCH-1",
        device_type="smart_watch",
        elder_id=elder.id,
        region_path=elder.region_path,
        report_interval_s=1800,
    )
    session.add(watch)
    session.flush()
    session.add_all(
        [
            DeviceMessage(
                device_id=watch.id,
                elder_id=elder.id,
                msg_id="consent-gps",
                event="gps",
                at=t,
                received_at=t,
                data={"lat": LAT, "lon": LON},
            ),
            DeviceMessage(
                device_id=watch.id,
                elder_id=elder.id,
                msg_id="consent-hr",
                event="vitals",
                at=t,
                received_at=t,
                data={"heart_rate": 237.3},
            ),
            VitalReading(
                elder_id=elder.id, device_id=watch.id, at=t, metric="heart_rate", value=237.3
            ),
        ]
    )
    alert = Alert(
        elder_id=elder.id,
        region_path=elder.region_path,
        device_id=watch.id,
        alert_type="vitals",
        severity="warning",
        dedupe_key="consent:vitals",
        detail={
            "metric": "heart_rate",
            "values": [231.7, 237.3, 243.9],
            "readings": 3,
            "lat": LAT,
            "lon": LON,
        },
        first_at=t,
        last_at=t,
    )
    session.add(alert)
    session.commit()
    item = session.scalar(select(ServiceItem.id).where(ServiceItem.code == "BATH"))
    day = today_local() + dt.timedelta(days=1)
    r = client.post(
        "/api/orders",
        json={
            "elder_id": elder.id,
            "item_id": item,
            "scheduled_at": dt.datetime.combine(day, dt.time(10), tzinfo=local_zone()).isoformat(),
        },
        headers={**login("family").headers, "Idempotency-Key": "consent-walk"},
    )
    assert r.status_code == 201, r.text
    return {
        "elder_id": elder.id,
        "alert_id": alert.id,
        "device_id": watch.id,
        "order_id": r.json()["id"],
        "batch_id": 1,
        "period": f"{today_local():%Y-%m}",
        **FIXED,
    }


def set_sharing(client, login, elder_id: int, action: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post(
        f"/api/elders/{elder_id}/consents",
        json={"purpose": "share_with_family", "action": action},
        headers=login("community").headers,
    )
    assert r.status_code == 201, r.text


def text_of(r: Any) -> str:
    kind = r.headers.get("content-type", "")
    if "spreadsheetml" in kind:
        book = CalamineWorkbook.from_filelike(io.BytesIO(r.content))
        return "\n".join(
            str(cell)
            for name in book.sheet_names
            for row in book.get_sheet_by_name(name).to_python()
            for cell in row
        )
    if kind.startswith("image/svg+xml"):
        return r.text  # the favicon: text, and no elder in it
    assert kind.startswith(("application/json", "text/")), f"unexpected {kind}"
    return r.text


def requests_for(path: str, values: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    route = next(r for r in get_routes() if r.path == path)
    unknown = set(route.param_convertors) - set(values)
    assert not unknown, f"{path}: give this test a value for {unknown}"
    url = path.format(**{k: values[k] for k in route.param_convertors})
    if path in QUERIES:
        url += "?" + QUERIES[path].format(**values)
    extra = [(u.format(**values), h) for u, h in VARIANTS.get(path, [])]
    return [(url, {}), *extra]


def leaks(body: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in body]


@pytest.mark.parametrize("path", GET_PATHS)
def test_without_sharing_no_route_shows_the_family_a_private_detail(
    client, login, home, path
) -> None:  # type: ignore[no-untyped-def]
    set_sharing(client, login, home["elder_id"], "withdrawn")
    family = login("family").headers
    for url, headers in requests_for(path, home):
        r = client.get(url, headers={**family, **headers}, follow_redirects=False)
        if r.status_code != 200:
            assert r.status_code in (303, 307, 403, 404, 410), (url, r.status_code)
            assert path not in FAMILY_READS, (url, r.status_code)
            continue
        assert leaks(text_of(r)) == [], url


@pytest.mark.parametrize("path", sorted(SHOWN_WHEN_SHARED))
def test_with_sharing_the_family_sees_the_details(client, login, home, path) -> None:  # type: ignore[no-untyped-def]
    family = login("family").headers
    for url, _headers in requests_for(path, home)[:1]:
        r = client.get(url, headers=family)
        assert r.status_code == 200, (url, r.text)
        body = text_of(r)
        assert [n for n in SHOWN_WHEN_SHARED[path] if SECRETS[n] not in body] == [], url


def test_the_walk_covers_the_routes_that_return_elder_data() -> None:
    assert set(GET_PATHS) >= FAMILY_READS
    assert set(SHOWN_WHEN_SHARED) <= FAMILY_READS
    assert len(GET_PATHS) >= 60  # the walk found the API and the page routers


def test_without_sharing_the_family_still_sees_name_community_and_services(
    client, login, home
) -> None:  # type: ignore[no-untyped-def]
    set_sharing(client, login, home["elder_id"], "withdrawn")
    family = login("family").headers
    elder = client.get(f"/api/elders/{home['elder_id']}", headers=family).json()
    assert elder["details_shared"] is False
    assert elder["name"] and elder["address"] == elder["region_name"]  # the community only
    assert elder["medical"] is None and elder["mobile_phone"] is None
    assert {c["purpose"]: c["in_force"] for c in elder["consents"]}["share_with_family"] is False
    orders = client.get("/api/orders", params={"elder_id": home["elder_id"]}, headers=family)
    assert home["order_id"] in {o["id"] for o in orders.json()}
    alert = client.get(f"/api/alerts/{home['alert_id']}", headers=family).json()
    assert alert["alert_type"] == "vitals" and alert["state"] == "new"  # what and when, no figures
    page = client.get("/my-services", headers=family)
    assert page.status_code == 200 and elder["name"] in page.text


def test_without_monitoring_no_reading_is_shown_to_anyone(client, login, home) -> None:  # type: ignore[no-untyped-def]
    """The health-monitoring consent withdrawn (by the elder, on their own): the watch's
    readings leave the device page and the console card; the family page says activity is not
    monitored; the alert itself stays (an incident record)."""
    r = client.post(
        f"/api/elders/{home['elder_id']}/consents",
        json={"purpose": "health_monitoring", "action": "withdrawn", "method": "app"},
        headers=login("elder").headers,
    )
    assert r.status_code == 201, r.text
    for who in ("family", "admin"):
        device = client.get(f"/api/devices/{home['device_id']}", headers=login(who).headers)
        assert device.status_code == 200
        assert device.json()["recent"] == [], who  # only passive messages were there
    card = client.get(f"/api/alerts/{home['alert_id']}/card", headers=login("operator").headers)
    assert card.status_code == 200, card.text
    assert card.json()["medical"]["recent_vitals"] == {}
    assert not [e for e in card.json()["timeline"] if e["event"] in ("vitals", "gps")]
    page = client.get("/my-services", headers=login("family").headers)
    assert 'data-state="unmonitored"' in page.text
    for who in ("family", "admin"):  # the alert's own figures: the API and the alert page
        headers = login(who).headers
        api = client.get(f"/api/alerts/{home['alert_id']}", headers=headers)
        assert api.status_code == 200, (who, api.text)
        assert set(api.json()["detail"]) & {"values", "lat", "lon"} == set(), who
        assert "237.3" not in api.json()["explanation"], who
        page = client.get(f"/alerts/{home['alert_id']}", headers=headers)
        assert "237.3" not in page.text and str(LAT) not in page.text, who
    picture = f"/elders/{home['elder_id']}/picture?tab=alerts"
    tab = client.get(picture, headers=login("admin").headers)
    assert tab.status_code == 200 and "237.3" not in tab.text  # the whole picture's alerts tab
