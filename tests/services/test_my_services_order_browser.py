"""The family orders a service on a 390 px phone (长辈版, Debian Chromium): the price, what the
subsidy pays and what they pay appear in the elder's card before anything is placed, every
target of the step is at least 60 × 60 px, and only "confirm" places the order."""

from __future__ import annotations

import pytest

from ..conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_family_orders_with_the_inline_confirmation(browser, server) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(server + "/login?next=/my-services")
    page.fill("input[name=username]", "family")
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url("**/my-services")
    section = page.locator("section.order-new").first
    section.locator("select[name=item_id]").select_option(index=1)
    before = page.locator("div.service").count()
    section.locator("button[name=step][value=quote]").click()
    page.wait_for_selector("#quote")
    quote = page.locator("#quote")
    assert quote.locator("#quote-amount").inner_text().strip()
    assert quote.locator("#quote-self-pay").inner_text().strip()
    assert page.locator("div.service").count() == before  # nothing placed by seeing the price
    # every control of the step is a large target (≥ 60 × 60 px), within the 390 px screen
    step = page.locator("section.order-new").first
    for control in step.locator("button, select, input:not([type=hidden])").all():
        box = control.bounding_box()
        assert box is not None and box["width"] >= 60 and box["height"] >= 60, box
        assert box["x"] + box["width"] <= 390 + 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("#confirm-order").click()
    page.wait_for_url("**/my-services#order-*")
    assert page.locator("div.service").count() == before + 1
    context.close()
