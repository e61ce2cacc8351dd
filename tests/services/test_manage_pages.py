"""The home-service management pages (#19), each as the role that owns it: providers and their
status (the district officer), caregivers and certificates, the catalogue, canteens and a day's
menu (the provider admin). A bad value is refused beside its field; a role that does not own the
page gets 403 (officers only read the provider's pages); another provider's caregiver, item or
canteen is 404; every write is an audit row."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from yiyang.accounts.models import User
from yiyang.accounts.service import actor_for
from yiyang.audit.models import AuditEvent
from yiyang.core.clock import today_local
from yiyang.core.errors import Conflict, ValidationFailed
from yiyang.regions.models import Region
from yiyang.registry.models import Elder
from yiyang.services import meals, providers
from yiyang.services.manage_pages import split_list, yuan_to_fen
from yiyang.services.models import Canteen, Caregiver, Certificate, Menu, Provider, ServiceItem
from yiyang.services.permissions import manages_provider
from yiyang.services.schemas import (
    CanteenCreate,
    CaregiverCreate,
    ItemCreate,
    MealOrderCreate,
    MenuCreate,
    ProviderCreate,
)

pytestmark = pytest.mark.pages

STREET = "310104003000"


def _actor(session, username: str):  # type: ignore[no-untyped-def]
    return actor_for(session.scalars(select(User).where(User.username == username)).one())


def _trail(session, entity_type: str, entity_id: int) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id))
            .order_by(AuditEvent.id)
        )
    )


def _created_id(response, prefix: str) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.text[:2000]
    match = re.fullmatch(rf"{prefix}/(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


def _other_provider(session):  # type: ignore[no-untyped-def]
    """A second provider of the district with a caregiver, an item and a canteen."""
    district = _actor(session, "district")
    other = providers.create_provider(
        session,
        district,
        ProviderCreate(
            name="另一家服务中心",
            licence_no="OTHER-0001",
            contact_name="王",
            contact_phone="13900009999",
            areas=[STREET],
        ),
    )
    admin = _actor(session, "admin")
    caregiver = providers.create_caregiver(
        session,
        admin,
        CaregiverCreate(
            provider_id=other.id, name="别家护理员", phone="13900008888", areas=[STREET]
        ),
    )
    item = providers.create_item(
        session,
        admin,
        ItemCreate(
            provider_id=other.id,
            code="OTHER-1",
            name="别家保洁",
            category="cleaning",
            unit="hour",
            price_fen=3000,
            duration_min=60,
        ),
    )
    canteen = meals.create_canteen(
        session,
        admin,
        CanteenCreate(provider_id=other.id, name="别家食堂", region_code=STREET, address="某路1号"),
    )
    session.commit()
    return other, caregiver, item, canteen


# --- pure helpers ---


@pytest.mark.parametrize(
    ("typed", "fen"),
    [("45", 4500), ("12.5", 1250), ("12.50", 1250), (" 0.01 ", 1), ("8元", 800), ("0", 0)],
)
def test_yuan_to_fen_reads_yuan(typed: str, fen: int) -> None:
    assert yuan_to_fen(typed) == fen


@pytest.mark.parametrize("typed", ["", "abc", "12.345", "-3", "1,5", "1e3", "12345678"])
def test_yuan_to_fen_refuses_what_is_no_amount(typed: str) -> None:
    assert yuan_to_fen(typed) is None


def test_split_list_takes_lines_commas_and_enumeration_marks() -> None:
    assert split_list("红烧肉\n清炒时蔬、 米饭,汤 ；\n") == ["红烧肉", "清炒时蔬", "米饭", "汤"]


# --- providers: the district officer ---


def _provider_form(csrf: str, **fields: object) -> dict[str, object]:
    return {
        "csrf_token": csrf,
        "name": "新康居家养老",
        "licence_no": "52310104MJ00009",
        "licence_expires_on": "",
        "contact_name": "赵经理",
        "contact_phone": "13911112222",
        "contact_email": "",
        "areas": [STREET],
        **fields,
    }


def test_district_registers_edits_and_suspends_a_provider(client, browser_login, session) -> None:
    csrf = browser_login("district")
    listing = client.get("/manage/providers")
    assert listing.status_code == 200 and 'href="/manage/providers/new"' in listing.text
    assert 'id="nav-manage-providers"' in listing.text

    bad = client.post(
        "/manage/providers/new",
        data=_provider_form(csrf, contact_phone="call me"),
        follow_redirects=False,
    )
    assert bad.status_code == 422
    assert 'id="err-contact_phone"' in bad.text and "expected format" in bad.text
    assert 'value="新康居家养老"' in bad.text  # the form is kept
    no_area = client.post("/manage/providers/new", data=_provider_form(csrf, areas=[]))
    assert no_area.status_code == 422 and 'id="err-areas"' in no_area.text

    pid = _created_id(
        client.post("/manage/providers/new", data=_provider_form(csrf), follow_redirects=False),
        "/manage/providers",
    )
    provider = session.get(Provider, pid)
    assert provider is not None and provider.status == "active"
    assert provider.areas == [f"/310104000000/{STREET}/"]

    twin = client.post("/manage/providers/new", data=_provider_form(csrf, name="同号"))
    assert twin.status_code == 422 and 'id="err-licence_no"' in twin.text

    expired = (today_local() - dt.timedelta(days=1)).isoformat()
    edited = client.post(
        f"/manage/providers/{pid}",
        data=_provider_form(csrf, licence_expires_on=expired, contact_name="钱经理"),
        follow_redirects=False,
    )
    assert edited.status_code == 303
    session.expire_all()
    provider = session.get(Provider, pid)
    assert provider.contact_name == "钱经理" and provider.licence_expires_on.isoformat() == expired
    row = client.get("/manage/providers").text
    assert "Licence expired" in row

    assert 'id="confirm-suspend"' in client.get(f"/manage/providers/{pid}?step=suspend").text
    no_reason = client.post(
        f"/manage/providers/{pid}/status", data={"csrf_token": csrf, "status": "suspended"}
    )
    assert no_reason.status_code == 422 and 'id="err-reason"' in no_reason.text
    done = client.post(
        f"/manage/providers/{pid}/status",
        data={"csrf_token": csrf, "status": "suspended", "reason": "资质年检未通过 <b>"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = client.get(f"/manage/providers/{pid}").text
    assert "资质年检未通过 &lt;b&gt;" in page and 'id="reinstate"' in page
    back = client.post(
        f"/manage/providers/{pid}/status",
        data={"csrf_token": csrf, "status": "active"},
        follow_redirects=False,
    )
    assert back.status_code == 303
    session.expire_all()
    provider = session.get(Provider, pid)
    assert provider.status == "active" and provider.status_reason is None

    trail = _trail(session, "provider", pid)
    assert [e.action for e in trail] == ["create", "update", "update", "update"]
    assert trail[0].actor_username == "district"
    assert trail[2].after == {"status": "suspended", "status_reason": "资质年检未通过 <b>"}


def test_providers_are_not_the_provider_admins_page(client, browser_login) -> None:
    csrf = browser_login("provider")
    assert client.get("/manage/providers").status_code == 403
    assert client.post("/manage/providers/new", data=_provider_form(csrf)).status_code == 403
    assert (
        client.post(
            "/manage/providers/1/status", data={"csrf_token": csrf, "status": "active"}
        ).status_code
        == 403
    )
    assert 'id="nav-manage-providers"' not in client.get("/manage/caregivers").text


def test_a_street_officer_does_not_register_providers(client, browser_login) -> None:
    browser_login("street")
    assert client.get("/manage/providers").status_code == 403
    assert client.get("/manage/caregivers").status_code == 403


# --- caregivers: the provider admin; officers read ---


def _caregiver_form(csrf: str, **fields: object) -> dict[str, object]:
    return {
        "csrf_token": csrf,
        "name": "孙阿姨",
        "phone": "13955556666",
        "skills": ["cleaning", "bathing"],
        "areas": [STREET],
        "work_days": ["0", "2", "4"],
        "work_start": "08:00",
        "work_end": "17:00",
        "max_jobs_per_day": "6",
        **fields,
    }


def test_provider_admin_adds_edits_certifies_and_deactivates_a_caregiver(
    client, browser_login, session
) -> None:
    csrf = browser_login("provider")
    listing = client.get("/manage/caregivers")
    assert listing.status_code == 200 and 'id="nav-manage-provider"' in listing.text

    bad = client.post("/manage/caregivers/new", data=_caregiver_form(csrf, phone="x"))
    assert bad.status_code == 422 and 'id="err-phone"' in bad.text
    hours = client.post("/manage/caregivers/new", data=_caregiver_form(csrf, work_end="07:00"))
    assert hours.status_code == 422 and 'id="err-work_end"' in hours.text
    assert "Working hours end before they start." in hours.text

    cid = _created_id(
        client.post("/manage/caregivers/new", data=_caregiver_form(csrf), follow_redirects=False),
        "/manage/caregivers",
    )
    caregiver = session.get(Caregiver, cid)
    assert caregiver.provider_id == 1 and caregiver.work_days == [0, 2, 4]
    assert caregiver.skills == ["cleaning", "bathing"]

    edited = client.post(
        f"/manage/caregivers/{cid}",
        data=_caregiver_form(csrf, name="孙阿姨（组长）", work_days=["0", "1"]),
        follow_redirects=False,
    )
    assert edited.status_code == 303
    session.expire_all()
    assert session.get(Caregiver, cid).name == "孙阿姨（组长）"

    cert = {"csrf_token": csrf, "skill": "bathing", "name": "养老护理员证", "number": "YL-1"}
    no_number = client.post(f"/manage/caregivers/{cid}/certificates", data={**cert, "number": ""})
    assert no_number.status_code == 422 and 'id="err-cert_number"' in no_number.text
    old = (today_local() - dt.timedelta(days=3)).isoformat()
    added = client.post(
        f"/manage/caregivers/{cid}/certificates",
        data={**cert, "expires_on": old},
        follow_redirects=False,
    )
    assert added.status_code == 303
    page = client.get(f"/manage/caregivers/{cid}").text
    assert "养老护理员证" in page and "expired" in page
    assert "expired" in client.get("/manage/caregivers").text
    cert_id = session.scalar(select(Certificate.id).where(Certificate.caregiver_id == cid))
    removed = client.post(
        f"/manage/caregivers/{cid}/certificates/{cert_id}/remove",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert session.scalar(select(Certificate.id).where(Certificate.caregiver_id == cid)) is None

    step = client.post(
        f"/manage/caregivers/{cid}/active",
        data={"csrf_token": csrf, "active": "0"},
        follow_redirects=False,
    )
    assert step.headers["location"].endswith("?step=deactivate")
    assert session.get(Caregiver, cid).active  # nothing happened without the confirmation
    assert 'id="confirm-deactivate"' in client.get(step.headers["location"]).text
    client.post(
        f"/manage/caregivers/{cid}/active",
        data={"csrf_token": csrf, "active": "0", "confirmed": "yes"},
    )
    session.expire_all()
    assert not session.get(Caregiver, cid).active

    trail = _trail(session, "caregiver", cid)
    assert [e.action for e in trail] == ["create", "update", "update"]
    assert trail[-1].after == {"active": False}
    certs = list(
        session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity_type == "caregiver_certificate",
                AuditEvent.entity_id == str(cert_id),
            )
        )
    )
    assert certs == ["create", "delete"]


def test_officers_read_caregivers_but_do_not_change_them(client, browser_login, session) -> None:
    csrf = browser_login("district")
    listing = client.get("/manage/caregivers?provider_id=1")
    assert listing.status_code == 200 and 'href="/manage/caregivers/new"' not in listing.text
    cid = session.scalar(select(Caregiver.id).where(Caregiver.provider_id == 1).limit(1))
    page = client.get(f"/manage/caregivers/{cid}")
    assert page.status_code == 200 and 'id="save-caregiver"' not in page.text
    assert client.post(f"/manage/caregivers/{cid}", data=_caregiver_form(csrf)).status_code == 403
    assert client.post("/manage/caregivers/new", data=_caregiver_form(csrf)).status_code == 403
    assert client.get("/manage/catalog?provider_id=1").status_code == 200
    assert client.post("/manage/catalog/new", data={"csrf_token": csrf}).status_code == 403


def test_another_providers_caregiver_item_and_canteen_are_not_found(
    client, browser_login, session
) -> None:
    _other, caregiver, item, canteen = _other_provider(session)
    csrf = browser_login("provider")
    assert caregiver.name not in client.get("/manage/caregivers").text
    assert item.name not in client.get("/manage/catalog").text
    assert canteen.name not in client.get("/manage/canteens").text
    assert client.get(f"/manage/caregivers/{caregiver.id}").status_code == 404
    assert (
        client.post(f"/manage/caregivers/{caregiver.id}", data=_caregiver_form(csrf)).status_code
        == 404
    )
    assert (
        client.post(
            f"/manage/caregivers/{caregiver.id}/active",
            data={"csrf_token": csrf, "active": "0", "confirmed": "yes"},
        ).status_code
        == 404
    )
    assert client.get(f"/manage/catalog/{item.id}").status_code == 404
    assert (
        client.post(
            f"/manage/catalog/{item.id}/active",
            data={"csrf_token": csrf, "active": "0", "confirmed": "yes"},
        ).status_code
        == 404
    )
    assert client.get(f"/manage/canteens/{canteen.id}").status_code == 404
    day = (today_local() + dt.timedelta(days=1)).isoformat()
    assert (
        client.post(
            f"/manage/canteens/{canteen.id}/menus/{day}",
            data={"csrf_token": csrf, "lunch_dishes": "饭", "lunch_price": "10"},
        ).status_code
        == 404
    )
    session.expire_all()
    assert session.get(Caregiver, caregiver.id).active and session.get(ServiceItem, item.id).active


# --- the catalogue: the provider admin ---


def _item_form(csrf: str, **fields: object) -> dict[str, object]:
    return {
        "csrf_token": csrf,
        "code": "FOOT-1",
        "name": "足部护理",
        "category": "nursing",
        "unit": "visit",
        "price": "45.50",
        "duration_min": "40",
        "required_skill": "nursing",
        "policy_ids": [],
        **fields,
    }


def test_provider_admin_adds_edits_and_withdraws_a_service(client, browser_login, session) -> None:
    csrf = browser_login("provider")
    assert client.get("/manage/catalog/new").status_code == 200
    bad = client.post("/manage/catalog/new", data=_item_form(csrf, price="45.555"))
    assert bad.status_code == 422 and 'id="err-price"' in bad.text
    assert "Enter the price in yuan" in bad.text
    short = client.post("/manage/catalog/new", data=_item_form(csrf, duration_min="2"))
    assert short.status_code == 422 and 'id="err-duration_min"' in short.text
    taken = client.post("/manage/catalog/new", data=_item_form(csrf, code="HAIR"))
    assert taken.status_code == 422 and 'id="err-code"' in taken.text

    policy = providers.policy_choices(session)[0]
    iid = _created_id(
        client.post(
            "/manage/catalog/new",
            data=_item_form(csrf, policy_ids=[str(policy.id)]),
            follow_redirects=False,
        ),
        "/manage/catalog",
    )
    item = session.get(ServiceItem, iid)
    assert item.price_fen == 4550 and item.provider_id == 1 and item.policy_ids == [policy.id]
    assert "45.50" in client.get("/manage/catalog").text

    edited = client.post(
        f"/manage/catalog/{iid}",
        data=_item_form(csrf, price="50", policy_ids=[str(policy.id)]),
        follow_redirects=False,
    )
    assert edited.status_code == 303
    session.expire_all()
    assert session.get(ServiceItem, iid).price_fen == 5000

    step = client.post(
        f"/manage/catalog/{iid}/active",
        data={"csrf_token": csrf, "active": "0"},
        follow_redirects=False,
    )
    assert step.headers["location"].endswith("?step=withdraw")
    client.post(
        f"/manage/catalog/{iid}/active",
        data={"csrf_token": csrf, "active": "0", "confirmed": "yes"},
    )
    session.expire_all()
    assert not session.get(ServiceItem, iid).active
    assert "Withdrawn" in client.get("/manage/catalog").text

    trail = _trail(session, "service_item", iid)
    assert [e.action for e in trail] == ["create", "update", "update"]
    assert trail[1].after == {"price_fen": 5000} and trail[2].after == {"active": False}


def test_catalogue_is_not_for_community_workers(client, browser_login) -> None:
    csrf = browser_login("community")
    assert client.get("/manage/catalog").status_code == 403
    assert client.post("/manage/catalog/new", data=_item_form(csrf)).status_code == 403


# --- canteens and menus: the provider admin ---


def test_provider_admin_edits_a_days_menu(client, browser_login, session) -> None:
    csrf = browser_login("provider")
    canteen = session.scalars(select(Canteen).where(Canteen.provider_id == 1)).first()
    day = today_local() + dt.timedelta(days=30)
    week = client.get(f"/manage/canteens/{canteen.id}?week={day}")
    assert week.status_code == 200 and f'id="edit-{day}"' in week.text
    url = f"/manage/canteens/{canteen.id}/menus/{day}"
    assert client.get(url).status_code == 200

    form = {
        "csrf_token": csrf,
        "breakfast_dishes": "",
        "lunch_dishes": "红烧肉\n清炒时蔬\n米饭",
        "lunch_price": "15.5",
        "lunch_capacity": "120",
        "dinner_dishes": "菜粥、馒头",
        "dinner_price": "8",
        "dinner_capacity": "",
    }
    bad = client.post(url, data={**form, "lunch_price": "十五"})
    assert bad.status_code == 422 and 'id="err-lunch_price"' in bad.text
    assert "红烧肉" in bad.text  # what was typed stays
    too_many = client.post(url, data={**form, "dinner_capacity": "99999"})
    assert too_many.status_code == 422 and 'id="err-dinner_capacity"' in too_many.text

    saved = client.post(url, data=form, follow_redirects=False)
    assert saved.status_code == 303
    rows = {
        m.meal: m
        for m in session.scalars(select(Menu).where(Menu.canteen_id == canteen.id, Menu.day == day))
    }
    assert set(rows) == {"lunch", "dinner"}
    assert (
        rows["lunch"].dishes == ["红烧肉", "清炒时蔬", "米饭"] and rows["lunch"].price_fen == 1550
    )
    assert rows["lunch"].capacity == 120 and rows["dinner"].capacity == 200
    assert "红烧肉、清炒时蔬、米饭" in client.get(f"/manage/canteens/{canteen.id}?week={day}").text
    lunch_id, dinner_id = rows["lunch"].id, rows["dinner"].id

    again = client.post(url, data={**form, "dinner_dishes": ""}, follow_redirects=False)
    assert again.status_code == 303  # dinner taken off that day
    session.expire_all()
    assert (
        session.scalar(
            select(Menu.id).where(
                Menu.canteen_id == canteen.id, Menu.day == day, Menu.meal == "dinner"
            )
        )
        is None
    )
    lunch_trail = _trail(session, "canteen_menu", lunch_id)
    assert [e.action for e in lunch_trail] == ["create"]
    assert [e.action for e in _trail(session, "canteen_menu", dinner_id)] == [
        "create",
        "delete",
    ]

    past = today_local() - dt.timedelta(days=1)
    refused = client.post(f"/manage/canteens/{canteen.id}/menus/{past}", data=form)
    assert refused.status_code == 422 and "past days" in refused.text


def test_provider_admin_edits_a_canteen(client, browser_login, session) -> None:
    csrf = browser_login("provider")
    canteen = session.scalars(select(Canteen).where(Canteen.provider_id == 1)).first()
    data = {
        "csrf_token": csrf,
        "name": canteen.name,
        "region_code": STREET,
        "address": "x",
        "delivers": "",
    }
    bad = client.post(f"/manage/canteens/{canteen.id}", data=data)
    assert bad.status_code == 422 and 'id="err-address"' in bad.text
    ok = client.post(
        f"/manage/canteens/{canteen.id}",
        data={**data, "address": "天平路200号"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    session.expire_all()
    changed = session.get(Canteen, canteen.id)
    assert changed.address == "天平路200号" and not changed.delivers
    assert _trail(session, "canteen", canteen.id)[-1].after == {
        "address": "天平路200号",
        "delivers": False,
    }


def test_canteens_are_not_for_caregivers(client, browser_login, session) -> None:
    csrf = browser_login("caregiver")
    canteen_id = session.scalar(select(Canteen.id).limit(1))
    assert client.get("/manage/canteens").status_code == 403
    day = (today_local() + dt.timedelta(days=2)).isoformat()
    assert (
        client.post(
            f"/manage/canteens/{canteen_id}/menus/{day}", data={"csrf_token": csrf}
        ).status_code
        == 403
    )


def test_regions_offered_for_a_caregiver_lie_within_the_provider_areas(session) -> None:
    provider = session.get(Provider, 1)
    offered = providers.area_choices(session, _actor(session, "provider"), provider)
    assert offered and all(any(r.path.startswith(a) for a in provider.areas) for r in offered)
    assert session.scalar(select(Region.id).where(Region.code == STREET)) in {r.id for r in offered}


def test_a_booked_meal_stays_on_the_menu_and_above_its_bookings(session) -> None:
    """Taking off a meal with orders, or offering fewer than are booked, is refused beside the
    meal's field; the day's other meals are not touched."""
    provider = _actor(session, "provider")
    community = _actor(session, "community")
    canteen = session.scalars(select(Canteen).where(Canteen.provider_id == 1)).first()
    day = today_local() + dt.timedelta(days=20)
    lunch = MenuCreate(day=day, meal="lunch", dishes=["面"], price_fen=1200, capacity=50)
    (menu,) = meals.set_day_menu(session, provider, canteen.id, day, {"lunch": lunch})
    elder = session.scalar(
        select(Elder.id)
        .where(Elder.region_path == community.region_path, Elder.status == "active")
        .limit(1)
    )
    meals.order_meal(session, community, MealOrderCreate(elder_id=elder, menu_id=menu.id))
    with pytest.raises(Conflict) as gone:
        meals.set_day_menu(session, provider, canteen.id, day, {"lunch": None})
    assert gone.value.field == "lunch_dishes"
    fewer = lunch.model_copy(update={"capacity": 0})
    with pytest.raises(ValidationFailed) as low:
        meals.set_day_menu(session, provider, canteen.id, day, {"lunch": fewer})
    assert low.value.field == "lunch_capacity"
    with pytest.raises(ValidationFailed) as other_day:
        meals.set_day_menu(
            session, provider, canteen.id, day + dt.timedelta(days=1), {"lunch": lunch}
        )
    assert other_day.value.field == "lunch_dishes"


@pytest.mark.parametrize(
    "username", ["admin", "district", "street", "community", "provider", "caregiver", "family"]
)
def test_managed_providers_are_those_each_role_manages(session, username: str) -> None:
    """The SQL scope of the management pages keeps exactly the providers ``manages_provider``
    allows: an admin all, a district officer its district's, a provider admin its own, the
    rest none — a provider registered in another district included."""
    session.add(
        Provider(
            name="外区服务商",
            licence_no="ELSEWHERE-1",
            contact_name="外",
            contact_phone="13900000000",
            region_path="/999999000000/",
            areas=["/999999000000/"],
        )
    )
    session.flush()
    actor = _actor(session, username)
    everyone = session.scalars(select(Provider)).all()
    shown = {p.id for p in providers.managed_providers(session, actor)}
    assert shown == {p.id for p in everyone if manages_provider(actor, p)}
    expected = {"admin": len(everyone), "district": len(everyone) - 1, "provider": 1}
    assert len(shown) == expected.get(username, 0)
