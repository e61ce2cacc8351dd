"""The elder's away button in Chromium at a 390 px phone width: a 60 × 60 px target or more with
24 px text or more, its confirmation an inline step (no dialog ever opens), and it works — away,
then back home."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.test_elder_a11y_browser import PHONE, _sign_in

pytestmark = pytest.mark.browser

BOX = """(sel) => { const el = document.querySelector(sel); const r = el.getBoundingClientRect();
  return {w: r.width, h: r.height, size: parseFloat(getComputedStyle(el).fontSize)}; }"""


def _at_least(page: Any, selector: str, size: float = 24.0) -> None:
    box = page.evaluate(BOX, selector)
    print(f"\n{selector}: {box['w']:.0f} × {box['h']:.0f} px, text {box['size']} px")
    assert box["w"] >= 60 and box["h"] >= 60 and box["size"] >= size, (selector, box)


def test_the_elders_away_button_is_large_and_works_without_a_dialog(browser, server) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=PHONE, locale="zh-CN")  # under our CSP
    try:
        page = _sign_in(context, server, "elder", "en")  # fails the test if a dialog opens
        page.goto(f"{server}/my-services")
        state = page.locator("[id^=presence-state-]").first
        assert state.inner_text() == "At home"
        _at_least(page, "summary[data-action=away-open]", 40)
        page.locator("summary[data-action=away-open]").first.click()
        assert page.locator("button[data-action=away]").first.is_visible()
        _at_least(page, "button[data-action=away]", 40)
        _at_least(page, "input[name=until_date]")
        page.locator("button[data-action=away]").first.click()
        page.wait_for_url(server + "/my-services*")
        assert page.locator("[id^=presence-state-]").first.inner_text() == "Away"
        _at_least(page, "summary[data-action=back-open]", 40)
        page.locator("summary[data-action=back-open]").first.click()
        page.locator("button[data-action=back]").first.click()
        page.wait_for_url(server + "/my-services*")
        assert page.locator("[id^=presence-state-]").first.inner_text() == "At home"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the page is wider than the phone"
    finally:
        context.close()
