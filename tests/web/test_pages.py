"""Server-rendered pages through the real app: zh-CN by default, HTMX fragments, forms with
field errors, the import flow, the audit view, and scoping on pages."""

import re

import pytest
from sqlalchemy import select
from stdnum.cn import ric

from yiyang.accounts.models import User
from yiyang.registry.models import Elder

from ..conftest import login_form_token

pytestmark = pytest.mark.pages


def test_login_page_is_chinese_by_default(client) -> None:
    client.cookies.delete("lang")
    page = client.get("/login")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text and "登录" in page.text
    english = client.get("/login?lang=en")
    assert "Sign in" in english.text and english.cookies.get("lang") == "en"


def test_wrong_password_rerenders_the_form_with_the_reason(client) -> None:
    form = {"username": "street", "password": "nope", "next": "/elders"}
    page = client.post("/login", data={**form, "csrf_token": login_form_token(client)})
    assert page.status_code == 401 and "Wrong username or password." in page.text
    assert 'value="street"' in page.text


def test_open_redirects_are_refused(client) -> None:
    r = client.post(
        "/login",
        data={
            "username": "street",
            "password": "Yiyang@2026",
            "next": "//evil.example",
            "csrf_token": login_form_token(client),
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"  # then the user's landing page


def test_elder_list_and_htmx_fragment(client, browser_login, session) -> None:
    browser_login("community")
    page = client.get("/elders")
    assert page.status_code == 200 and '<table class="grid registry">' in page.text
    fragment = client.get(
        "/elders?household=alone", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert "<html" not in fragment.text and "<table" in fragment.text
    path = session.scalar(select(User.region_path).where(User.username == "community"))
    inside = set(session.scalars(select(Elder.id).where(Elder.region_path.startswith(path))))
    linked = {
        int(i)
        for i in re.findall(
            r'href="/elders/(\d+)"', client.get("/elders?page_size=200&status=all").text
        )
    }
    assert linked and linked <= inside


def test_bad_filters_are_explained_not_crashed(client, browser_login) -> None:
    browser_login("community")
    page = client.get("/elders?age_min=abc")
    assert page.status_code == 200 and "age_min" in page.text


def test_detail_page_masks_for_the_operator(client, browser_login, session) -> None:
    browser_login("operator")
    elder = session.scalars(select(Elder).order_by(Elder.id).limit(1)).one()
    page = client.get(f"/elders/{elder.id}")
    assert elder.id_number not in page.text
    assert elder.id_number[0] + "*" * 16 + elder.id_number[-1] in page.text
    assert elder.birth_date.isoformat() not in page.text  # the age only (#14 item 11)


def test_outside_detail_page_is_404(client, browser_login, session) -> None:
    browser_login("community")
    path = session.scalar(select(User.region_path).where(User.username == "community"))
    outsider = session.scalar(select(Elder.id).where(~Elder.region_path.startswith(path)).limit(1))
    assert client.get(f"/elders/{outsider}").status_code == 404
    assert client.get(f"/elders/{outsider}/edit").status_code == 404


def test_register_form_shows_field_errors_then_saves(client, browser_login, session) -> None:
    csrf = browser_login("community")
    number = "31010419370707002" + ric.calc_check_digit("310104193707070020")
    bad = number[:-1] + ("1" if number[-1] != "1" else "2")
    form = {
        "csrf_token": csrf,
        "name": "表单老人",
        "id_number": bad,
        "address": "天平路8号",
        "region_code": "310104003001",
        "household": "alone",
        "mobile_phone": "123",
        "contact1_name": "女儿",
        "contact1_relation": "女儿",
        "contact1_phone": "13911112222",
        "contact1_alerts": "on",
        "categories": ["advanced_age"],
    }
    page = client.post("/elders/new", data=form)
    assert page.status_code == 422
    assert 'id="err-mobile_phone"' in page.text and "not a valid phone" in page.text
    page = client.post("/elders/new", data={**form, "mobile_phone": "13800138000"})
    assert page.status_code == 422 and "check digit" in page.text
    saved = client.post(
        "/elders/new",
        data={**form, "mobile_phone": "13800138000", "id_number": number},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    elder = session.scalar(select(Elder).where(Elder.id_number == number))
    assert elder.contacts[0].phone == "13911112222" and elder.category_codes == ["advanced_age"]


def test_edit_form_roundtrip_and_stale_edit(client, browser_login, session) -> None:
    csrf = browser_login("community")
    path = session.scalar(select(User.region_path).where(User.username == "community"))
    elder = session.scalars(select(Elder).where(Elder.region_path.startswith(path)).limit(1)).one()
    form_page = client.get(f"/elders/{elder.id}/edit")
    assert form_page.status_code == 200 and f'value="{elder.version}"' in form_page.text
    data = {
        "csrf_token": csrf,
        "version": str(elder.version),
        "name": elder.name,
        "address": "新住址1号",
        "region_code": elder.region_path.strip("/").split("/")[-1],
        "household": elder.household,
        "mobility": "wheelchair",
    }
    r = client.post(f"/elders/{elder.id}/edit", data=data, follow_redirects=False)
    assert r.status_code == 303
    stale = client.post(f"/elders/{elder.id}/edit", data=data)
    assert stale.status_code == 422 and "Someone else changed this record" in stale.text


def test_form_post_without_csrf_is_refused(client, browser_login, session) -> None:
    browser_login("community")
    r = client.post("/elders/new", data={"name": "x"})
    assert r.status_code == 403


def test_import_page_flow(client, browser_login, session) -> None:
    csrf = browser_login("community")
    good = "31010419390909001" + ric.calc_check_digit("310104193909090010")
    data = (
        "姓名,身份证号,住址,区划代码,居住情况,手机\n"
        f"页面导入,{good},测试路1号,310104003001,独居,13800001234\n"
        f"坏行,{good[:-1]}{'1' if good[-1] != '1' else '2'},测试路2号,310104003001,"
        "独居,13800001235\n"
    ).encode()
    page = client.post(
        "/elders-import", data={"csrf_token": csrf}, files={"file": ("r.csv", data, "text/csv")}
    )
    assert page.status_code == 200
    assert (
        'id="n-created">1<' in page.text
        and 'id="n-rejected">1<' in page.text
        and "check digit" in page.text
    )
    batch_id = re.search(r'action="/elders-import/(\d+)/commit"', page.text).group(1)
    assert session.scalar(select(Elder.id).where(Elder.id_number == good)) is None
    done = client.post(f"/elders-import/{batch_id}/commit", data={"csrf_token": csrf})
    assert done.status_code == 200 and "Import committed" in done.text
    assert session.scalar(select(Elder.name).where(Elder.id_number == good)) == "页面导入"


def test_audit_page(client, browser_login, session) -> None:
    browser_login("street")
    page = client.get("/audit?action=login")
    name = session.scalar(select(User.display_name).where(User.username == "street"))
    assert page.status_code == 200 and f"<td>{name} <span" in page.text  # by name
    assert "Signed in" in page.text  # actions are labelled, not shown as codes
    browser_login("community")
    assert client.get("/audit").status_code == 403


def test_openapi_is_published(client) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/elders" in spec["paths"] and "/api/elders/imports" in spec["paths"]
