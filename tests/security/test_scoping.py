"""分权分域: logged in as a street officer or a community worker, nothing outside their region is
reachable through any list, detail, search, export or audit route — including by guessing IDs.
Person-scoped roles see only the elders linked to them."""

import io

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from yiyang.accounts.models import User, UserElderLink
from yiyang.registry.models import Elder

pytestmark = pytest.mark.api

REGION_USERS = ["street", "community"]


def user_path(session, username: str) -> str:
    return session.scalar(select(User.region_path).where(User.username == username))


def all_list_ids(client, headers, **params) -> set[int]:
    ids: set[int] = set()
    page = 1
    while True:
        r = client.get(
            "/api/elders",
            params={"page": page, "page_size": 200, "status": "all", **params},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        ids |= {i["id"] for i in items}
        if len(items) < 200:
            return ids
        page += 1


def inside_and_outside(session, path: str) -> tuple[set[int], set[int]]:
    rows = session.execute(select(Elder.id, Elder.region_path)).all()
    inside = {i for i, p in rows if p.startswith(path)}
    return inside, {i for i, _p in rows} - inside


@pytest.mark.parametrize("username", REGION_USERS)
def test_list_shows_exactly_the_own_region(client, login, session, username) -> None:
    inside, outside = inside_and_outside(session, user_path(session, username))
    assert inside and outside  # the seeded district has both
    assert all_list_ids(client, login(username).headers) == inside


@pytest.mark.parametrize("username", REGION_USERS)
def test_every_outside_elder_is_404_by_id(client, login, session, username) -> None:
    headers = login(username).headers
    inside, outside = inside_and_outside(session, user_path(session, username))
    guesses = [*sorted(outside), max(inside | outside) + 1]
    for elder_id in guesses:  # every outsider, by id
        assert client.get(f"/api/elders/{elder_id}", headers=headers).status_code == 404
    for not_an_id in (0, -1, 2**31):  # refused at the schema, before anything is looked up
        assert client.get(f"/api/elders/{not_an_id}", headers=headers).status_code == 422
    for elder_id in guesses[::20]:  # writes go through the same access_elder(); a sample suffices
        r = client.patch(
            f"/api/elders/{elder_id}", json={"version": 1, "name": "x"}, headers=headers
        )
        assert r.status_code == 404
        r = client.post(
            f"/api/elders/{elder_id}/status",
            json={"status": "moved_out", "effective_date": "2020-01-01"},
            headers=headers,
        )
        assert r.status_code == 404
    for elder_id in sorted(inside)[:5]:
        assert client.get(f"/api/elders/{elder_id}", headers=headers).status_code == 200


@pytest.mark.parametrize("username", REGION_USERS)
def test_search_by_name_id_and_phone_never_leaks(client, login, session, username) -> None:
    headers = login(username).headers
    path = user_path(session, username)
    outsiders = session.scalars(
        select(Elder)
        .where(~Elder.region_path.startswith(path), Elder.mobile_phone.is_not(None))
        .limit(15)
    ).all()
    inside, _outside = inside_and_outside(session, path)
    for e in outsiders:
        for params in (
            {"q": e.id_number},
            {"q": e.name},
            {"id_tail": e.id_number[-4:]},
            {"phone": e.mobile_phone},
            {"region_code": "310104004001"},
        ):
            ids = all_list_ids(client, headers, **params)
            assert e.id not in ids
            assert ids <= inside


@pytest.mark.parametrize("username", REGION_USERS)
def test_export_contains_only_the_own_region(client, login, session, username) -> None:
    r = client.get(
        "/api/elders/export.xlsx", params={"status": "all"}, headers=login(username).headers
    )
    assert r.status_code == 200
    rows = CalamineWorkbook.from_filelike(io.BytesIO(r.content)).get_sheet_by_index(0).to_python()
    path = user_path(session, username)
    inside, _outside = inside_and_outside(session, path)
    names_inside = session.scalars(select(Elder.id_number).where(Elder.id.in_(inside))).all()
    exported = [str(row[3]) for row in rows[1:]]
    assert sorted(exported) == sorted(names_inside)  # these roles see full ID numbers


def test_street_audit_view_is_limited_to_the_street(client, login, session) -> None:
    path = user_path(session, "street")
    inside, outside = inside_and_outside(session, path)
    r = client.get(
        "/api/audit",
        params={"entity_type": "elder", "page_size": 200},
        headers=login("street").headers,
    )
    assert r.status_code == 200
    seen = {e["elder_id"] for e in r.json()}
    assert seen and seen <= inside
    outsider = sorted(outside)[0]
    r = client.get("/api/audit", params={"elder_id": outsider}, headers=login("street").headers)
    assert r.json() == []


def test_community_worker_may_not_read_the_audit_log(client, login) -> None:
    assert client.get("/api/audit", headers=login("community").headers).status_code == 403


def test_regions_endpoint_lists_only_the_own_subtree(client, login, session) -> None:
    path = user_path(session, "street")
    regions = client.get("/api/regions", headers=login("street").headers).json()
    assert regions and all(r["path"].startswith(path) for r in regions)


@pytest.mark.parametrize("username", ["family", "elder", "volunteer", "caregiver", "doctor"])
def test_person_scoped_roles_see_only_linked_elders(client, login, session, username) -> None:
    user = session.scalar(select(User).where(User.username == username))
    linked = set(
        session.scalars(select(UserElderLink.elder_id).where(UserElderLink.user_id == user.id))
    )
    assert linked
    headers = login(username).headers
    assert all_list_ids(client, headers) == linked
    outsider = session.scalar(select(Elder.id).where(Elder.id.not_in(linked)).limit(1))
    assert client.get(f"/api/elders/{outsider}", headers=headers).status_code == 404


def test_provider_admin_sees_the_elders_of_its_caregivers(client, login, session) -> None:
    caregiver = session.scalar(select(User).where(User.username == "caregiver"))
    linked = set(
        session.scalars(select(UserElderLink.elder_id).where(UserElderLink.user_id == caregiver.id))
    )
    assert all_list_ids(client, login("provider").headers) == linked


@pytest.mark.parametrize(
    ("username", "method", "url"),
    [
        ("operator", "get", "/api/elders/export.xlsx"),
        ("doctor", "get", "/api/elders/export.xlsx"),
        ("family", "post", "/api/elders"),
        ("operator", "post", "/api/elders"),
        ("operator", "get", "/api/elders/import-template.xlsx"),
        ("volunteer", "get", "/api/audit"),
    ],
)
def test_roles_without_the_permission_get_403(client, login, username, method, url) -> None:
    r = getattr(client, method)(
        url, headers=login(username).headers, **({"json": {}} if method == "post" else {})
    )
    assert r.status_code == 403


def test_family_cannot_edit_a_linked_elder(client, login, session) -> None:
    user = session.scalar(select(User).where(User.username == "family"))
    elder_id = session.scalar(
        select(UserElderLink.elder_id).where(UserElderLink.user_id == user.id)
    )
    r = client.patch(
        f"/api/elders/{elder_id}", json={"version": 1, "name": "x"}, headers=login("family").headers
    )
    assert r.status_code == 403


def test_import_refuses_rows_for_other_regions_and_existing_outsiders(
    client, login, session
) -> None:
    outsider = session.scalar(
        select(Elder).where(~Elder.region_path.startswith(user_path(session, "community")))
    )
    header = "姓名,身份证号,住址,区划代码,居住情况\n"
    body = f"{outsider.name},{outsider.id_number},新地址1号,310104003001,独居\n"
    r = client.post(
        "/api/elders/imports",
        params={"dry_run": "false"},
        files={"file": ("roll.csv", (header + body).encode(), "text/csv")},
        headers=login("community").headers,
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["created"] == 0 and report["updated"] == 0 and report["rejected_count"] == 1
    assert "outside your jurisdiction" in report["rejected"][0]["errors"][0]["message"]
    session.expire_all()
    assert session.get(Elder, outsider.id).address == outsider.address


def test_no_module_selects_elders_without_the_scope() -> None:
    """Every elder query must start from registry.repository.readable(actor)."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2] / "src" / "yiyang"
    allowed = {
        "registry/repository.py",  # readable() itself; the importer's ID look-up (never returned)
        "registry/permissions.py",  # the elder scope rules themselves (readable_ids)
        "registry/imports.py",  # matches rows by ID number to refuse outsiders; returns no elder
        "registry/service.py",  # create_elder's duplicate check (an id, never the record)
        "demo/load.py",  # demo seeding runs as the system, not as a user
        "demo/devices.py",  # demo device kits, likewise
        "demo/consents.py",  # demo consents, likewise
        "demo/history.py",  # the demo history picks its clients as the system, likewise
    }
    pattern = re.compile(r"select\(\s*Elder\b")
    offenders = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if pattern.search(p.read_text()) and str(p.relative_to(root)) not in allowed
    ]
    assert offenders == []
