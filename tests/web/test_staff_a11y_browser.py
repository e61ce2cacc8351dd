"""Every staff page in Chromium, as the role that owns it, checked by axe-core (vendored,
tests/support/axe/README.md): no violation of WCAG 2.x A/AA (colour contrast included). The
pages are the links each role's navigation shows when the test runs — a page added to the nav
is checked without touching this file — plus the pages reached from them (the elder's page,
its edit form and whole picture, the forms for a new record, caregivers, settlement,
subsidies, service levels, dead letters, the account). One browser, one sign-in per role.

And on a 390 px phone the registry list and the elder's page are no wider than the screen: the
table scrolls in its own wrapper.

Run with ``-s`` to see every page's axe result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..conftest import PASSWORD

pytestmark = pytest.mark.browser

AXE = Path(__file__).parents[1] / "support" / "axe" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}
ELDER = "{elder}"  # the first elder of the community worker's list

# Who owns which page, in the order they sign in; each role also takes any link of its
# navigation no earlier role has checked (a page another engineer adds to the nav is covered).
OWNERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "community",
        (
            "/overview",
            "/elders",
            f"/elders/{ELDER}",
            f"/elders/{ELDER}/edit",
            f"/elders/{ELDER}/picture",
            "/elders/new",
            "/elders-import",
            "/account",
        ),
    ),
    ("street", ("/subsidies", "/audit")),
    ("operator", ("/console", "/console/sla", "/alerts")),
    ("provider", ("/orders", "/caregivers", "/settlement")),
    ("caregiver", ("/my-jobs",)),
    ("admin", ("/devices", "/devices/new", "/dead-letters")),
)

RUN_AXE = """() => axe.run(document, {runOnly: {type: 'tag',
    values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})
  .then((r) => ({version: axe.version, passes: r.passes.length,
    violations: r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 6).map((n) => ({target: n.target.join(' '),
        why: (n.any[0] || n.all[0] || n.none[0] || {}).message || ''}))}))}))"""

WIDTHS = """() => ({page: document.documentElement.scrollWidth, viewport: innerWidth,
  wider: [...document.querySelectorAll('main *')].filter((e) => {
      const r = e.getBoundingClientRect();
      return r.right > innerWidth + 1 && !e.closest('.tablewrap');
    }).slice(0, 8).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
      + (typeof e.className === 'string' && e.className ? '.' + e.className.replace(/ /g, '.') : '')
      + ' ' + Math.round(e.getBoundingClientRect().right) + 'px')})"""


def _sign_in(context: Any, server: str, username: str) -> Any:
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{server}/login?lang=zh_CN")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, f"{username} could not sign in"
    return page


def _nav(page: Any) -> list[str]:
    return list(
        page.eval_on_selector_all(
            "nav.mainnav a[id^=nav-]", "els => els.map(e => e.getAttribute('href'))"
        )
    )


def _axe(page: Any, server: str, who: str, path: str, status: int = 200) -> list[dict[str, Any]]:
    response = page.goto(server + path)
    assert response is not None and response.status == status, (
        who,
        path,
        response and response.status,
    )
    page.wait_for_load_state()
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(RUN_AXE)
    print(
        f"\n{path} as {who}: axe {result['version']}, {result['passes']} rules passed, "
        f"violations {json.dumps(result['violations'], ensure_ascii=False, indent=1)}"
    )
    return [{**v, "page": path, "who": who} for v in result["violations"]]


def test_every_staff_page_is_axe_clean_as_its_owner(browser, server) -> None:
    # bypass_csp lets axe be injected; the pages themselves run as served
    context = browser.new_context(viewport=DESK, locale="zh-CN", bypass_csp=True)
    seen: set[str] = set()
    claimed = {p for _who, paths in OWNERS for p in paths}  # left for their owner
    violations: list[dict[str, Any]] = []
    elder = ""
    try:
        for username, paths in OWNERS:
            page = _sign_in(context, server, username)
            if not elder:
                page.goto(server + "/elders")
                href = page.get_attribute("table.grid tbody a[href^='/elders/']", "href")
                elder = str(href).rsplit("/", 1)[-1]
            mine = [p.replace(ELDER, elder) for p in paths]
            mine += [p for p in _nav(page) if p not in mine and p not in claimed]
            for path in mine:
                if path in seen:
                    continue
                seen.add(path)
                violations += _axe(page, server, username, path)
            if username == "community":  # the error page, in the staff frame
                violations += _axe(page, server, username, "/no-such-page", status=404)
            context.clear_cookies()
            page.close()
    finally:
        context.close()
    print(f"\naxe: {len(seen)} staff pages checked: {sorted(seen)}")
    assert {"/elders", "/console", "/orders", "/audit", "/overview", "/devices"} <= seen
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)


def test_registry_list_and_elder_page_fit_a_phone(browser, server) -> None:
    context = browser.new_context(viewport=PHONE, locale="zh-CN", bypass_csp=True)
    try:
        page = _sign_in(context, server, "community")
        for path in ("/elders", "elder", "/elders/new"):
            if path == "elder":
                page.goto(server + "/elders")
                path = str(page.get_attribute("table.grid tbody a[href^='/elders/']", "href"))
            page.goto(server + path)
            page.wait_for_load_state()
            m = page.evaluate(WIDTHS)
            print(f"\n{path} at {m['viewport']} px: page {m['page']} px, wider: {m['wider']}")
            assert m["page"] <= m["viewport"], (path, m)
            assert m["wider"] == [], (path, m)
            if path == "/elders":
                # a name stays on one line: the table scrolls in its wrapper instead
                heights = page.eval_on_selector_all(
                    "table.grid tbody td a[href^='/elders/']",
                    "els => els.map(e => e.getClientRects().length)",
                )
                assert heights and max(heights) == 1, heights
                wrap = page.evaluate(
                    "() => { const w = document.querySelector('.tablewrap');"
                    " return [w.scrollWidth, w.clientWidth, getComputedStyle(w).overflowX]; }"
                )
                print(f"registry table: {wrap[0]} px in a {wrap[1]} px wrapper ({wrap[2]})")
                assert wrap[2] == "auto"
    finally:
        context.close()
