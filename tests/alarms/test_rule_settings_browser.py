"""The alarm rule settings pages in a real browser (issue #19): a street officer refuses an unsafe
value (the refusal beside the field, what was typed kept), saves a safe one (shown as set by
their street), and sets an elder's silence sensitivity from the elder's page; axe on both."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[1] / "support" / "axe" / "axe.min.js"


def sign_in(page: Any, server: str, username: str) -> None:
    page.goto(server + "/elders")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/elders")
    page.click("text=English")


def axe(page: Any, what: str) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
           .then((r) => ({version: axe.version, passes: r.passes.length,
             violations: r.violations.map((v) => ({id: v.id, impact: v.impact,
               nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5)}))}))"""
    )
    print(
        f"axe {result['version']} ({what}): {result['passes']} rules passed, "
        f"violations {json.dumps(result['violations'], ensure_ascii=False)}"
    )
    return list(result["violations"])


def test_a_street_officer_tunes_the_street_and_an_elder(browser, server) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-US", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, server, "street")
        page.click("nav >> text=Alarm rules")
        page.wait_for_url("**/rule-settings")
        assert "code default" in page.inner_text("#source-inactivity_hours")
        page.fill("#p-inactivity_hours", "30")
        page.click("#rule-settings button[type=submit]")
        error = page.locator("#err-inactivity_hours")
        assert error.is_visible() and "between 2 and 24" in error.inner_text()
        assert page.input_value("#p-inactivity_hours") == "30"  # kept as typed
        assert page.locator("#row-inactivity_hours").get_attribute("class") == "invalid"
        assert axe(page, "rule settings, a refused value") == []
        page.fill("#p-inactivity_hours", "14")
        page.click("#rule-settings button[type=submit]")
        page.wait_for_url("**saved=1**")
        assert page.locator("#saved").is_visible()
        assert "14 h" in page.inner_text("#value-inactivity_hours")
        assert "code default" not in page.inner_text("#source-inactivity_hours")

        page.goto(server + "/elders")
        page.click("#results tbody tr:first-child td a")
        page.wait_for_url(re.compile(r"/elders/\d+$"))
        page.click("#elder-rule-settings")
        page.wait_for_url(re.compile(r"/elders/\d+/rule-settings$"))
        assert "14 h" in page.inner_text("#value-inactivity_hours")  # inherited from the street
        page.select_option("#p-silence_sensitivity", "high")
        page.click("#rule-settings button[type=submit]")
        page.wait_for_url("**saved=1")
        assert page.locator("#p-silence_sensitivity").input_value() == "high"
        assert axe(page, "an elder's rule settings") == []
    finally:
        context.close()
