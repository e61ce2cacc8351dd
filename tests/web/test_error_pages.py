"""Errors on page routes answer an HTML page in the product's style (a fragment to HTMX), in the
user's language, under the same security headers as every page; /api/ keeps its JSON; a page
that needs a sign-in still redirects to it; the favicon is linked and served."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from yiyang.accounts.models import User
from yiyang.core.errors import PYDANTIC_MESSAGES, error_message, field_errors
from yiyang.registry.models import Elder
from yiyang.web.errors import HEADINGS, back_link, default_message, heading_for

pytestmark = pytest.mark.pages


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.icons: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "link" and a.get("rel") == "icon":
            self.icons.append(a)


def _is_error_page(text: str, status: int) -> bool:
    return "<html" in text and 'class="card errorpage"' in text and f"{status}" in text


@pytest.mark.unit
def test_each_status_has_a_heading_and_a_message() -> None:
    assert heading_for(404) == "Page not found" and heading_for(418) == HEADINGS[400][0]
    assert heading_for(503) == HEADINGS[500][0]
    assert default_message(599) == HEADINGS[500][1]


@pytest.mark.unit
def test_back_goes_only_to_our_own_pages() -> None:
    assert back_link("http://testserver/orders/new?x=1", "testserver") == "/orders/new?x=1"
    assert back_link("https://evil.example/orders", "testserver") is None
    assert back_link("http://testserver//evil.example/x", "testserver") is None
    assert back_link("javascript:alert(1)", "testserver") is None
    assert back_link(None, "testserver") is None


@pytest.mark.unit
def test_pydantic_errors_become_our_messages() -> None:
    assert error_message("string_too_long", {"max_length": 64}) == "Enter at most 64 characters."
    assert error_message("less_than_equal", {"le": 6}) == "Enter a number of at most 6."
    assert error_message("missing", None) == "This field is required."
    # a text checked after a validator of ours: pydantic says "Value should have … items"
    too_long = {"field_type": "Value", "max_length": 64, "actual_length": 65}
    assert error_message("too_long", too_long) == "Enter at most 64 characters."
    assert error_message("too_long", {**too_long, "field_type": "List"}) == (
        "Give at most 64 entries."
    )
    # a placeholder without its context, an unknown type: a message of ours all the same
    assert error_message("string_too_long", {}) == "This value is not valid."
    assert error_message("some_new_type", None) == "This value is not valid."
    # our own checks keep their words
    assert error_message("value_error", {}, "Value error, a contact needs a phone") == (
        "a contact needs a phone"
    )
    out = field_errors(
        [
            {
                "type": "enum",
                "loc": ("body", "household"),
                "msg": "Input should be 'a' or 'b'",
                "ctx": {"expected": "'a' or 'b'"},
            }
        ]
    )
    assert out == [
        {"field": "household", "message": "Choose one of the offered values.", "type": "enum"}
    ]
    assert all("%(" not in m or ")s" in m for m in PYDANTIC_MESSAGES.values())


def test_unknown_page_is_an_html_page_and_unknown_api_path_json(client, browser_login) -> None:
    browser_login("community")
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert _is_error_page(page.text, 404) and "Page not found" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'id="nav-elders"' in page.text  # the signed-in frame, with the navigation
    browser_login("family")
    family = client.get("/no-such-page")
    assert family.status_code == 404 and "/static/elder.css" in family.text  # their 长辈版 frame
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.headers["content-type"] == "application/json"


def test_outside_elder_is_a_404_page_and_a_404_json(client, browser_login, session) -> None:
    browser_login("community")
    path = session.scalar(select(User.region_path).where(User.username == "community"))
    outsider = session.scalar(select(Elder.id).where(~Elder.region_path.startswith(path)).limit(1))
    page = client.get(f"/elders/{outsider}")
    assert page.status_code == 404 and _is_error_page(page.text, 404)
    fragment = client.get(f"/elders/{outsider}", headers={"HX-Request": "true"})
    assert fragment.status_code == 404
    assert "<html" not in fragment.text and 'role="alert"' in fragment.text
    api = client.get(f"/api/elders/{outsider}", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.json()["detail"]["code"] == "not_found"


def test_forbidden_page_is_an_html_page(client, browser_login) -> None:
    browser_login("caregiver")  # may not import elders
    page = client.get("/elders-import")
    assert page.status_code == 403 and _is_error_page(page.text, 403)
    assert "Not allowed" in page.text and "Your role may not do this." in page.text


def test_invalid_path_value_is_a_422_page_with_translated_reasons(client, browser_login) -> None:
    browser_login("community")
    page = client.get("/elders/not-a-number")
    assert page.status_code == 422 and _is_error_page(page.text, 422)
    assert "Input should be" not in page.text  # pydantic's English, replaced
    assert "Enter a whole number." in page.text
    came = client.get("/elders/not-a-number", headers={"Referer": "http://testserver/elders?q=x"})
    assert 'href="/elders?q=x" id="error-back"' in came.text
    api = client.get("/api/elders/not-a-number")
    assert api.status_code == 422 and api.json()["detail"]["code"] == "validation_failed"
    assert api.json()["detail"]["errors"][0]["message"] == "Enter a whole number."


def test_page_errors_are_in_chinese_by_default(client, browser_login) -> None:
    browser_login("community")
    client.cookies.delete("lang")
    page = client.get("/no-such-page")
    assert '<html lang="zh-CN">' in page.text and page.headers["content-language"] == "zh-CN"


def test_a_page_that_needs_a_sign_in_still_redirects(client) -> None:
    page = client.get("/elders", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
    htmx = client.get("/elders", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"].startswith("/login")


def test_a_crash_is_a_500_page_without_the_exception_text(connection) -> None:
    from yiyang.app import create_app

    app = create_app()

    def boom() -> None:
        raise RuntimeError("secret detail 42")

    app.add_api_route("/boom", boom)
    app.add_api_route("/api/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        c.cookies.set("lang", "en")
        page = c.get("/boom")
        assert page.status_code == 500 and _is_error_page(page.text, 500)
        assert "secret detail" not in page.text and "Something went wrong" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        api = c.get("/api/boom")
        assert api.status_code == 500 and api.json()["detail"]["code"] == "internal_error"
        assert "secret detail" not in api.text


def test_favicon_is_linked_and_served(client, browser_login) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert client.get("/static/favicon.svg").content == icon.content
    for page in (client.get("/login"), client.get("/login/phone")):
        links = _Links()
        links.feed(page.text)
        assert links.icons == [
            {"rel": "icon", "href": "/static/favicon.svg", "type": "image/svg+xml"}
        ], page.url
