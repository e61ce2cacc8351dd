"""In Chromium: the community worker finds the elder as typed in the order form (HTMX, the
registry's fragment) and sees the price before ordering; the district officer creates a
subsidy policy after a refused value shown beside its field. axe-core on each page (run with
``-s`` to see the results)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.web.test_staff_a11y_browser import _axe, _sign_in

pytestmark = pytest.mark.browser


def test_order_form_search_as_you_type_and_price(browser, server) -> None:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", bypass_csp=True
    )
    violations: list[dict[str, Any]] = []
    try:
        page = _sign_in(context, server, "community")
        page.goto(server + "/elders")
        name = page.locator("table.grid tbody a[href^='/elders/']").first.inner_text().strip()
        violations += _axe(page, server, "community", "/orders/new")
        page.fill("#elder-q", name[:2])
        page.wait_for_selector("#elder-choices .elder-choice")
        page.locator("#elder-choices input[name=elder_id]").first.check()
        page.click("#see-price")
        page.wait_for_selector("#quote")
        assert page.locator("#quote-amount").inner_text().strip()
        violations += [
            {**v, "page": "/orders/new (quote)"}
            for v in page.evaluate(_run_axe(page))["violations"]
        ]
        page.click("#confirm-order")
        page.wait_for_url(re.compile(r"/orders/\d+$"))
    finally:
        context.close()
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)


def _run_axe(page: Any) -> str:
    from tests.web.test_staff_a11y_browser import AXE, RUN_AXE

    page.add_script_tag(path=str(AXE))
    return RUN_AXE


def test_district_officer_creates_a_policy(browser, server) -> None:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", bypass_csp=True
    )
    violations: list[dict[str, Any]] = []
    try:
        page = _sign_in(context, server, "district")
        violations += _axe(page, server, "district", "/subsidies/policies")
        violations += _axe(page, server, "district", "/subsidies/policies/new")
        page.fill("input[name=code]", "BROWSER-1")
        page.fill("input[name=name]", "浏览器测试补贴")
        page.fill("input[name=monthly_amount]", "六百")
        page.click("#save-policy")
        page.wait_for_selector("#err-monthly_amount")
        assert page.locator("input[name=monthly_amount][aria-invalid=true]").count() == 1
        page.fill("input[name=monthly_amount]", "600")
        page.click("#save-policy")
        page.wait_for_selector("#saved")
        page.goto(server + "/subsidies/policies")
        assert page.locator("tr[data-code='BROWSER-1']").count() == 1
    finally:
        context.close()
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
