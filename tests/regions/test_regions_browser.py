"""In Chromium: the district officer opens the region tree, adds a street to the district after a
code refused beside its field, and finds it in the tree; the upload page and the roll-wordings
page are checked too. axe-core on each page (run with ``-s`` to see the results)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.web.test_staff_a11y_browser import AXE, RUN_AXE, _axe, _sign_in

pytestmark = pytest.mark.browser


def _axe_here(page: Any, label: str) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    return [{**v, "page": label} for v in page.evaluate(RUN_AXE)["violations"]]


def test_district_officer_adds_a_street(browser, server) -> None:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", bypass_csp=True
    )
    violations: list[dict[str, Any]] = []
    try:
        page = _sign_in(context, server, "district")
        violations += _axe(page, server, "district", "/regions")
        assert page.locator("#nav-regions").count() == 1
        page.locator("ul.tree a[href^='/regions/']").first.click()
        page.wait_for_url(re.compile(r"/regions/\d+$"))
        node = page.url
        violations += _axe_here(page, "/regions/{district}")
        page.fill("input[name=code]", "310105097000")  # another district's code
        page.fill("form[action$='/children'] input[name=name]", "浏览器街道")
        page.click("form[action$='/children'] button[type=submit]")
        page.wait_for_selector("#err-code")
        assert page.locator("input[name=code][aria-invalid=true]").count() == 1
        violations += _axe_here(page, "/regions/{district} (refused)")
        page.fill("input[name=code]", "310104097000")
        page.click("form[action$='/children'] button[type=submit]")
        page.wait_for_url(node)
        assert page.locator("table.grid td", has_text="310104097000").count() == 1
        page.goto(server + "/regions")
        assert page.locator("ul.tree a", has_text="浏览器街道").count() == 1
        violations += _axe(page, server, "district", "/regions-upload")
        violations += _axe(page, server, "district", "/elders-import/synonyms")
    finally:
        context.close()
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
