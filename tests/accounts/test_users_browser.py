"""User management in a real browser (Debian Chromium, a real `yiyang serve` on demo data): the
platform admin creates a user, sees a refused value beside its field with the form kept, gets the
temporary password once, and edits the role; a community worker is refused the page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page, server: str, username: str, path: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server + path)
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


def test_the_admin_creates_and_edits_a_user(page, server) -> None:
    sign_in(page, server, "admin", "/users")
    page.wait_for_url("**/users")
    assert page.locator("#users tbody tr").count() >= 10
    page.click("#new-user")
    page.wait_for_url("**/users/new")
    page.fill("input[name=username]", "browser.worker")
    page.fill("input[name=display_name]", "浏览器社工")
    page.select_option("select[name=role]", "community_worker")
    page.select_option("select[name=region_code]", "310104003001")
    page.fill("input[name=phone]", "call me")
    page.click("#save-user")
    page.wait_for_selector("#err-phone")
    assert page.locator("#err-phone").is_visible()  # beside the field, the form kept
    assert page.get_attribute("input[name=phone]", "aria-invalid") == "true"
    assert page.input_value("input[name=display_name]") == "浏览器社工"
    page.fill("input[name=phone]", "13800008888")
    page.click("#save-user")
    page.wait_for_selector("#temporary-password-value")
    temporary = page.inner_text("#temporary-password-value").strip()
    assert len(temporary) >= 12
    page.click("#edit-user")
    page.wait_for_url(re.compile(r"/users/\d+/edit$"))
    before = page.input_value("select[name=role]")
    assert before == "community_worker"
    page.select_option("select[name=role]", "operator")
    page.click("#save-user")
    page.wait_for_url(re.compile(r"/users/\d+$"))
    assert page.locator("#temporary-password-value").count() == 0  # shown once only
    assert "browser.worker" in page.inner_text("#user-username")
    page.goto(server + "/users")
    page.evaluate("window.__marker = 'still-here'")
    page.fill("input[name=q]", "browser.worker")  # the list follows as one types
    page.wait_for_url("**q=browser.worker**")
    page.wait_for_load_state("networkidle")
    assert page.locator("#users tbody tr").count() == 1
    assert "浏览器社工" in page.inner_text("#users")
    assert page.evaluate("window.__marker") == "still-here"  # swapped in place, no reload


def test_a_community_worker_is_refused_the_page(page, server) -> None:
    sign_in(page, server, "community", "/account")
    page.wait_for_url("**/account")
    assert page.locator("#nav-users").count() == 0
    response = page.goto(server + "/users")
    assert response is not None and response.status == 403


AXE = Path(__file__).parents[1] / "support" / "axe" / "axe.min.js"


def _axe(page: Any, what: str) -> None:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})
           .then((r) => ({version: axe.version, passes: r.passes.length,
             violations: r.violations.map((v) => ({id: v.id, impact: v.impact,
               nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5)}))}))"""
    )
    print(
        f"axe {result['version']} ({what}): {result['passes']} rules passed, "
        f"violations {json.dumps(result['violations'], ensure_ascii=False)}"
    )
    assert result["violations"] == []


def test_axe_on_the_user_pages(browser, server) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(  # the axe script goes in inline: only this test lifts the CSP
        viewport={"width": 1280, "height": 900}, locale="zh-CN", bypass_csp=True
    )
    page = context.new_page()
    try:
        _axe_walk(page, server)
    finally:
        context.close()


def _axe_walk(page: Any, server: str) -> None:
    sign_in(page, server, "admin", "/users")
    page.wait_for_url("**/users")
    _axe(page, "admin, /users")
    page.goto(server + "/users/new")
    _axe(page, "admin, /users/new")
    page.click("#save-user")  # everything missing: the errors beside the fields
    page.wait_for_selector(".fielderror")
    _axe(page, "admin, /users/new with errors")
    page.goto(server + "/users?q=volunteer")
    page.click("#users tbody tr:first-child td a")
    page.wait_for_url(re.compile(r"/users/\d+$"))
    _axe(page, "admin, a user")
    page.goto(server + "/users/reset-requests")
    _axe(page, "admin, reset requests")
    page.goto(server + "/login/forgot")
    _axe(page, "forgot password")
