"""The Content-Security-Policy and the emergency card's map in Debian Chromium against a real
`yiyang serve` (issue #14, item 3).

An elder registered with a name that is markup, and hospitals whose names are markup, show as
text on the card's map and no script runs; the main pages (the console with its live queue and
map tiles from the configured tile host, the elder list's HTMX search, the caregiver's and the
responder's phone pages, the printable brief, the API docs) work under the policy with no
violation reported by the browser."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.support.browser import (
    ARGS,
    CHROMIUM,
    free_port,
    require_chromium,
    running_server,
    wait_until,
)
from yiyang.pipeline.transports.http import signature

from ..conftest import PASSWORD

pytestmark = pytest.mark.browser

HOSTILE_NAME = '<img src=/x onerror="window.__xss=1">王<b>'
HOSTILE_PLACE = "<img src=/y onerror=\"window.__xss='place'\">医院"
TILE_PNG = Path(__file__).parents[2] / "src/yiyang/web/static/vendor/leaflet/images/layers.png"

# Reported by the page itself: every policy violation, every uncaught error.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


class TileServer:
    """A map tile host on another origin (``http://{s}.localhost:<port>``): answers every tile
    with a PNG and counts the requests."""

    def __init__(self) -> None:
        png = TILE_PNG.read_bytes()
        hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.headers.get("Host", "") + self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(png)))
                self.end_headers()
                # the map may move on and the browser cancel a tile
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(png)

            def log_message(self, *args: Any) -> None:
                pass

        self.hits = hits
        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{{s}}.localhost:{self.port}/{{z}}/{{x}}/{{y}}.png"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def tiles() -> Iterator[TileServer]:
    server = TileServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, tiles: TileServer) -> Iterator[dict[str, Any]]:
    """A server whose map tiles come from the tile host, and its database file."""
    require_chromium()
    folder = tmp_path_factory.mktemp("csp")
    env = {"YIYANG_MQTT_URL": "", "YIYANG_MAP_TILE_URL": tiles.url}
    with running_server(folder, 150, 13, env) as base:
        yield {"base": base, "db": folder / "yiyang.db"}


@pytest.fixture(scope="module")
def chromium(site: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def api_token(base: str, username: str) -> dict[str, str]:
    r = httpx.post(base + "/api/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def sos_for_a_hostile_elder(site: dict[str, Any]) -> int:
    """Rename an elder (as a registry editor could) and the hospitals to markup, press the
    elder's SOS button through the signed HTTP ingest; returns the alert's id."""
    base = site["base"]
    with sqlite3.connect(site["db"]) as db:
        elder_id, serial, vendor, secret = db.execute(
            "select e.id, d.serial, v.code, v.hmac_secret from device d"
            " join elder e on e.id = d.elder_id join vendor v on v.id = d.vendor_id"
            " where d.device_type = 'sos_button' and e.latitude is not null"
            " order by e.id limit 1"
        ).fetchone()
        # facility names come from the district's list; they are data like any other
        db.execute("update facility set name = ? || id", (HOSTILE_PLACE,))
    admin = api_token(base, "admin")
    elder = httpx.get(f"{base}/api/elders/{elder_id}", headers=admin).json()
    r = httpx.patch(
        f"{base}/api/elders/{elder_id}",
        json={"version": elder["version"], "name": HOSTILE_NAME},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    body = orjson.dumps(
        {
            "v": 1,
            "id": uuid.uuid4().hex[:16],
            "device": serial,
            "type": "sos_button",
            "event": "sos",
            "ts": dt.datetime.now(dt.UTC).isoformat(),
        }
    )
    stamp = str(int(time.time()))
    r = httpx.post(
        f"{base}/api/ingest",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Yiyang-Vendor": vendor,
            "X-Yiyang-Timestamp": stamp,
            "X-Yiyang-Signature": signature(secret, stamp, body),
        },
    )
    assert r.status_code == 200, r.text
    for _ in range(200):  # the pipeline stores the message, then the rule raises the alert
        alerts = httpx.get(
            f"{base}/api/alerts", params={"elder_id": elder_id}, headers=admin
        ).json()
        if alerts:
            return int(alerts[0]["id"])
        time.sleep(0.05)
    raise AssertionError("the SOS raised no alert")


@pytest.fixture(scope="module")
def alert_id(site: dict[str, Any]) -> int:
    return sos_for_a_hostile_elder(site)


def open_as(chromium, base: str, username: str, path: str, **context: Any):  # type: ignore[no-untyped-def]
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US", **context)
    ctx.add_init_script(WATCH)
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda m: (
            page.errors.append(m.text)  # type: ignore[attr-defined]
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            page.errors.append(f"{r.status} {r.url}")  # type: ignore[attr-defined]
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    if username:
        page.goto(base + "/login?next=" + path)
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_url("**" + path.split("?")[0])
    else:
        page.goto(base + path)
    return page


def assert_clean(page) -> None:  # type: ignore[no-untyped-def]
    """No policy violation and no script error on this page, and the policy is in force on it
    (an inline script added now does not run)."""
    page.wait_for_load_state("load")
    assert page.evaluate("window.__violations") == []
    assert page.errors == []
    ran = page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__inline = 1'; document.head.appendChild(s);"
        " return window.__inline === 1; }"
    )
    assert ran is False


def test_markup_in_names_is_shown_as_text_on_the_card_map(chromium, site, tiles, alert_id) -> None:
    page = open_as(chromium, site["base"], "operator", f"/console/alerts/{alert_id}")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    tooltip = page.locator("#map .leaflet-tooltip").first
    tooltip.wait_for()
    assert tooltip.text_content() == HOSTILE_NAME  # the name, as text
    assert page.locator("#map img:not(.leaflet-tile)").count() == 0
    # open every place marker's tooltip: the hospitals' names are text as well
    markers = page.locator("#map path.leaflet-interactive")
    assert markers.count() >= 2
    page.evaluate(  # as the pointer passing over each one would
        "document.querySelectorAll('#map path.leaflet-interactive').forEach((p) =>"
        " p.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})))"
    )
    places = [t for t in page.locator("#map .leaflet-tooltip").all_text_contents()]
    assert any(t.startswith(HOSTILE_PLACE) for t in places), places
    assert page.locator("#map .leaflet-tooltip img, #map .leaflet-tooltip b").count() == 0
    assert page.evaluate("window.__xss") is None and dialogs == []
    # the tiles came from the configured tile host, allowed by the policy
    wait_until(
        page,
        "[...document.querySelectorAll('#map img.leaflet-tile')]"
        ".some(i => i.complete && i.naturalWidth > 0)",
    )
    assert any(".localhost:" in hit for hit in tiles.hits)
    assert_clean(page)
    page.context.close()


def test_console_queue_runs_live_under_the_policy(chromium, site) -> None:
    page = open_as(chromium, site["base"], "operator", "/console")
    page.wait_for_selector("#console[data-live='1']")  # console.js opened the event stream
    wait_until(page, "document.getElementById('count-open').textContent !== ''")
    assert_clean(page)
    page.context.close()


def test_elder_search_swaps_results_under_the_policy(chromium, site) -> None:
    page = open_as(chromium, site["base"], "street", "/elders")
    page.evaluate("window.__marker = 'still-here'")
    page.select_option("select[name=household]", "alone")
    wait_until(page, "location.search.includes('household=alone')")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__marker") == "still-here"  # htmx swapped in place
    assert page.evaluate("document.querySelectorAll('head style').length") == 0
    assert_clean(page)
    page.context.close()


def test_phone_pages_get_the_position_under_the_policy(chromium, site, alert_id) -> None:
    where = {"geolocation": {"latitude": 31.2, "longitude": 121.44}, "permissions": ["geolocation"]}
    jobs = open_as(chromium, site["base"], "caregiver", "/my-jobs", **where)
    assert jobs.locator("form.geo").count() > 0
    wait_until(jobs, "document.querySelector('form.geo input[name=lat]').value !== ''")
    assert_clean(jobs)
    jobs.context.close()

    # the responder's arrival page (no sign-in: the link is the credential)
    base = site["base"]
    operator = api_token(base, "operator")
    card = httpx.get(f"{base}/api/alerts/{alert_id}/card", headers=operator).json()
    sent = httpx.post(
        f"{base}/api/alerts/{alert_id}/dispatches",
        json={"responder_id": card["responders"][0]["id"]},
        headers=operator,
    )
    assert sent.status_code == 201, sent.text
    with sqlite3.connect(site["db"]) as db:
        (body,) = db.execute(
            "select body from notification where dedupe_key = ?", (f"dispatch:{sent.json()['id']}",)
        ).fetchone()
    link = re.search(r"/r/[\w-]+", body).group(0)  # type: ignore[union-attr]
    page = open_as(chromium, base, "", link, **where)
    wait_until(page, "document.getElementById('lat').value !== ''")
    page.click("#arrive")
    page.wait_for_selector("#arrived")
    assert_clean(page)
    page.context.close()


def test_brief_print_button_and_api_docs_under_the_policy(chromium, site, alert_id) -> None:
    base = site["base"]
    page = open_as(chromium, base, "operator", f"/console/alerts/{alert_id}/brief")
    page.evaluate("window.print = () => { window.__printed = true; }")
    page.click("#print")
    assert page.evaluate("window.__printed") is True
    assert_clean(page)
    page.context.close()

    docs = open_as(chromium, base, "", "/api/docs")
    docs.wait_for_selector(".opblock")  # Swagger UI rendered the operations
    docs.locator(".opblock-summary").first.click()
    docs.wait_for_selector(".opblock-body")
    assert docs.locator(".opblock").count() > 50
    assert_clean(docs)
    docs.context.close()
