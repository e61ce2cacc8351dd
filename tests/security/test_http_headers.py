"""Browser-facing headers on the real app (issue #14, items 3 and 13): every page route answers
with the Content-Security-Policy and carries no inline script, handler or style; HSTS when
cookies are secure; Referrer-Policy; nothing but /static may be stored by a cache; downloads
name their file through one safe Content-Disposition helper; /api/docs from packaged assets."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.routing import APIRoute
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from tests.alarms.test_alarms_api import make_alerts
from yiyang.accounts.models import User
from yiyang.console.models import Dispatch
from yiyang.core.config import get_settings
from yiyang.devices.models import Device
from yiyang.notifications.models import Notification
from yiyang.regions.models import Region
from yiyang.services.models import ServiceOrder
from yiyang.web.security import content_disposition, content_security_policy, tile_source

pytestmark = pytest.mark.security


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set YIYANG_* settings for one test."""

    def apply(**values: str) -> None:
        for k, v in values.items():
            monkeypatch.setenv(f"YIYANG_{k.upper()}", v)
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


def policy(header: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        assert name not in out, f"{name} twice"
        out[name] = values
    return out


def assert_strict_policy(header: str) -> None:
    p = policy(header)
    assert p["default-src"] == ["'self'"]
    assert p["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no CDN
    assert p["style-src"] == ["'self'"]
    assert p["connect-src"] == ["'self'"]
    assert p["object-src"] == ["'none'"]
    assert p["base-uri"] == ["'self'"]
    assert p["frame-ancestors"] == ["'none'"]
    assert p["form-action"] == ["'self'"]
    assert set(p["img-src"]) <= {"'self'", "data:"}  # no tile host configured here


class InlineCode(HTMLParser):
    """Everything in a page that a policy without 'unsafe-inline' would block (or that lets
    markup run code): inline <script> bodies, <style> elements, on* and hx-on attributes,
    style attributes and javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            self.scripts += 1
            if not names.get("src"):
                self.found.append("<script> without src")
            self._in_script = True
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs:
            handler = name.startswith("on") and not name.startswith("data-")
            if handler or name.removeprefix("data-").startswith("hx-on"):
                self.found.append(f"{tag} {name}=")
            if name == "style":
                self.found.append(f"{tag} style=")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.found.append(f"{tag} {name}=javascript:")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append("inline script body")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def all_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers however this FastAPI nests them."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from all_routes(inner.routes)
        elif isinstance(route, APIRoute):
            yield route


# Who can open which page (the first of these users that gets a 200 is used).
USERS = ("admin", "operator", "caregiver", "family")
NOT_A_PAGE = {"/console/stream"}  # the console's event stream (an EventSource, never ends)


def responder_token(client, login, alert_id: int, session) -> str:  # type: ignore[no-untyped-def]
    op = login("operator")
    card = client.get(f"/api/alerts/{alert_id}/card", headers=op.headers).json()
    r = client.post(
        f"/api/alerts/{alert_id}/dispatches",
        json={"responder_id": card["responders"][0]["id"]},
        headers=op.headers,
    )
    assert r.status_code == 201, r.text
    note = session.scalars(
        select(Notification).where(Notification.dedupe_key == f"dispatch:{r.json()['id']}")
    ).one()
    assert session.get(Dispatch, r.json()["id"]) is not None
    return re.search(r"/r/([\w-]+)", note.body).group(1)  # type: ignore[union-attr]


def test_every_page_sends_the_policy_and_carries_no_inline_code(
    app, client, login, session, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(get_settings(), "dev_outbox", True)  # as under make run: /dev/outbox too
    ids = make_alerts(session)
    from yiyang.alarms.models import Alert

    elder_id = session.get(Alert, ids["inside"]).elder_id
    values = {
        "alert_id": ids["inside"],
        "elder_id": elder_id,
        "device_id": session.scalar(select(Device.id).where(Device.elder_id.is_not(None))),
        "order_id": session.scalar(select(ServiceOrder.id).order_by(ServiceOrder.id)),
        "token": responder_token(client, login, ids["inside"], session),
        "user_id": session.scalar(select(User.id).where(User.username == "volunteer")),
        "region_id": session.scalar(select(Region.id).order_by(Region.id)),
        # the management pages (providers, caregivers, catalogue, canteens, subsidy policies)
        # and check-in tasks: the demo's first of each, or a 404 page (headers all the same)
        "provider_id": 1,
        "caregiver_id": 1,
        "item_id": 1,
        "canteen_id": 1,
        "day": "2030-01-07",
        "policy_id": 1,
        "task_id": 1,
    }
    tokens = {u: login(u).headers for u in USERS}
    pages = [
        r
        for r in all_routes(app.routes)
        if "GET" in r.methods
        and (not r.path.startswith("/api/") or r.path == "/api/docs")
        and r.path not in NOT_A_PAGE
    ]
    assert len(pages) >= 30  # the walk found the page routers
    checked_html = 0
    for route in pages:
        required = [q.name for q in route.dependant.query_params if q.field_info.is_required()]
        unknown = (set(route.param_convertors) | set(required)) - set(values)
        assert not unknown, f"{route.path}: give this test a value for {unknown}"
        path = route.path.format(**{k: values[k] for k in route.param_convertors})
        if required:  # a page reached with a query (the invitation form for one elder)
            path += "?" + "&".join(f"{q}={values[q]}" for q in required)
        for user in USERS:
            r = client.get(path, headers=tokens[user], follow_redirects=False)
            if r.status_code < 400:
                break
        assert r.status_code in (200, 303), (path, r.status_code)
        assert_strict_policy(r.headers["content-security-policy"])
        assert r.headers["cache-control"] == "no-store", path
        assert r.headers["referrer-policy"] == "same-origin", path
        assert r.headers["x-content-type-options"] == "nosniff", path
        if r.headers.get("content-type", "").startswith("text/html"):
            assert inline_code(r.text) == [], path
            checked_html += 1
    assert checked_html >= 25


def test_pages_rendered_for_an_htmx_swap_carry_no_inline_code(client, login) -> None:  # type: ignore[no-untyped-def]
    headers = {**login("admin").headers, "HX-Request": "true"}
    for path in ("/elders?q=王", "/audit", "/console/queue"):
        r = client.get(path, headers=headers)
        assert r.status_code == 200, path
        assert inline_code(r.text) == [], path


def test_error_pages_carry_the_policy(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/r/not-a-real-token", "/api/elders/1", "/no-such-page"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code >= 300
        assert_strict_policy(r.headers["content-security-policy"])
        assert r.headers["cache-control"] == "no-store"


def test_the_inline_code_check_finds_what_the_policy_blocks() -> None:
    """The page walk above would pass vacuously if the parser missed things."""
    assert inline_code("<script>alert(1)</script>") == [
        "<script> without src",
        "inline script body",
    ]
    assert inline_code('<button onclick="x()">') == ["button onclick="]
    assert inline_code('<div hx-on::after-request="x()">') == ["div hx-on::after-request="]
    assert inline_code('<p style="color:red">') == ["p style="]
    assert inline_code('<a href=" JavaScript:x()">') == ["a href=javascript:"]
    assert inline_code('<span data-on="live" data-hx-on-click="x()">') == ["span data-hx-on-click="]
    assert inline_code('<script src="/static/app.js" defer></script>') == []


def test_tile_host_is_allowed_for_images_only(client, settings_env) -> None:  # type: ignore[no-untyped-def]
    settings_env(map_tile_url="https://{s}.tiles.example.cn:8443/{z}/{x}/{y}.png")
    p = policy(client.get("/login").headers["content-security-policy"])
    assert p["img-src"] == ["'self'", "data:", "https://*.tiles.example.cn:8443"]
    assert p["script-src"] == ["'self'"] and p["connect-src"] == ["'self'"]


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("", None),
        ("/tiles/{z}/{x}/{y}.png", None),  # our own origin
        ("https://tile.example.org/{z}/{x}/{y}.png", "https://tile.example.org"),
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
        ("http://webrd0{s}.is.example.com/tile?x={x}", "http://*.is.example.com"),
        ("https://user:pw@tiles.example.org/{z}.png", "https://tiles.example.org"),
        ("javascript:alert(1)//{z}", None),
        ("https://{s}/{z}.png", None),  # a wildcard for every host is never produced
        ("https://a.example.org;script-src *;/{z}.png", None),
    ],
)
def test_tile_source(url: str, source: str | None) -> None:
    assert tile_source(url) == source
    images = policy(content_security_policy(url))["img-src"]
    assert images == ["'self'", "data:", *([source] if source else [])]


def test_hsts_only_when_cookies_are_secure(client, settings_env) -> None:  # type: ignore[no-untyped-def]
    assert "strict-transport-security" not in client.get("/login").headers
    settings_env(cookie_secure="true")
    for path in ("/login", "/api/openapi.json", "/static/app.css"):
        hsts = client.get(path).headers["strict-transport-security"]
        assert int(hsts.removeprefix("max-age=")) >= 180 * 86400


def test_exports_pdfs_and_json_are_not_stored_static_assets_may_be(client, login, session) -> None:  # type: ignore[no-untyped-def]
    ids = make_alerts(session)
    admin, operator, provider = login("admin"), login("operator"), login("provider")
    from yiyang.alarms.models import Alert

    elder_id = session.get(Alert, ids["inside"]).elder_id
    period = "2026-10"
    for path, who, kind in (
        ("/api/elders/export.xlsx", admin, "spreadsheet"),
        (f"/api/elders/{elder_id}", admin, "json"),
        (f"/api/alerts/{ids['inside']}/brief", operator, "json"),
        (f"/api/alerts/{ids['inside']}/brief.pdf", operator, "pdf"),
        (f"/console/alerts/{ids['inside']}/brief.pdf", operator, "pdf"),
        (f"/console/sla.xlsx?month={period}", operator, "spreadsheet"),
        (f"/api/subsidies/statements/1/{period}.xlsx", provider, "spreadsheet"),
    ):
        r = client.get(path, headers=who.headers)
        assert r.status_code == 200, (path, r.text[:200])
        assert kind in r.headers["content-type"], path
        assert r.headers["cache-control"] == "no-store", path
    static = client.get("/static/app.css")
    assert static.status_code == 200 and "cache-control" not in static.headers
    assert static.headers.get("etag")  # revalidated, not refetched


def test_statement_period_is_checked_and_cannot_inject_a_header_parameter(client, login) -> None:  # type: ignore[no-untyped-def]
    provider = login("provider")
    for bad in (
        '2026-10"; filename="evil.exe',
        "2026-10\r\nSet-Cookie: session=x",
        "2026-13",
        "../2026-10",
    ):
        r = client.get(
            f"/api/subsidies/statements/1/{urllib.parse.quote(bad, safe='')}.xlsx",
            headers=provider.headers,
        )
        assert r.status_code in (404, 422), (bad, r.status_code)
        assert "content-disposition" not in r.headers
    r = client.get("/api/subsidies/statements/1/2026-10.xlsx", headers=provider.headers)
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="statement-1-2026-10.xlsx"'


# RFC 6266 with RFC 5987 ext-value, as we emit it: a quoted ASCII stand-in, then optionally
# the UTF-8 percent-encoded name. Nothing else may follow.
DISPOSITION = re.compile(
    r"(attachment|inline); filename=\"([A-Za-z0-9!#$&+.^_`|~ ()\[\]{}=,@-]+)\""
    r"(; filename\*=UTF-8''([A-Za-z0-9!#$&+.^_`|~%-]+))?"
)


@given(st.text(max_size=80), st.booleans())
def test_content_disposition_cannot_be_broken_by_the_name(name: str, inline: bool) -> None:
    value = content_disposition(name, inline=inline)
    m = DISPOSITION.fullmatch(value)
    assert m, value
    assert m.group(1) == ("inline" if inline else "attachment")
    shown = urllib.parse.unquote(m.group(4), errors="strict") if m.group(4) else m.group(2)
    expected = re.sub(r"[\x00-\x1f\x7f/\\]", "_", name).strip() or "download"
    assert shown == expected


def test_api_docs_from_packaged_assets(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/docs")
    assert r.status_code == 200
    assert_strict_policy(r.headers["content-security-policy"])
    assert inline_code(r.text) == []
    assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    for asset in assets:
        got = client.get(asset)
        assert got.status_code == 200, asset
        assert len(got.content) > 100, asset
    bundle = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"]
    assert b"SwaggerUIBundle" in bundle.content
