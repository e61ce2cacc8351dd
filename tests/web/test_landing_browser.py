"""Every demo role signs in through the real form in Chromium and lands where it works, with its
own navigation, at a desktop width and at a 390 px phone width. One server for all roles."""

from __future__ import annotations

import pytest

from ..conftest import PASSWORD
from .test_nav import DEMO

pytestmark = pytest.mark.browser

WIDTHS = ((1280, 900), (390, 844))


@pytest.mark.parametrize("username", sorted(DEMO))
def test_each_role_lands_on_its_page(browser, server, username: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(server + "/login?lang=en")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server + DEMO[username] + "*")
        for width, height in WIDTHS:
            page.set_viewport_size({"width": width, "height": height})
            page.reload()
            assert page.url.startswith(server + DEMO[username])
            assert page.locator("h1").first.is_visible(), (username, width)
            current = page.locator('nav.mainnav a[aria-current="page"]')
            assert current.count() == 1, (username, width)
            assert current.first.get_attribute("href") == DEMO[username]
            assert page.locator("nav.mainnav a").first.is_visible()
            fits = "(() => { const h = document.querySelector('header.topbar');"
            fits += " return !h || h.scrollWidth <= window.innerWidth; })()"
            assert page.evaluate(fits), (username, width, "the top bar is wider than the screen")
    finally:
        context.close()
