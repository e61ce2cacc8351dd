"""The elder's whole picture in Chromium on a 390 px phone: the tabs switch over HTMX (the
address follows, and going back shows the tab before), and no tab makes the page scroll
sideways."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.support.browser import wait_until
from yiyang.overview.picture import TABS

pytestmark = pytest.mark.browser

FITS = "document.documentElement.scrollWidth <= window.innerWidth"


def test_the_picture_fits_a_phone_on_every_tab(browser, server) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(server + "/login?lang=en")
        page.fill("input[name=username]", "street")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server + "/overview*")
        # an elder with devices: the first one the device list names
        page.goto(server + "/devices")
        elder = page.locator('#devices a[href^="/elders/"]').first.get_attribute("href")
        assert elder
        page.goto(server + elder + "/picture")
        assert page.locator("#panel-profile").is_visible()
        assert page.evaluate(FITS), "profile: the page is wider than the screen"
        for key, _label in TABS[1:]:
            page.click(f"#tab-{key}")
            wait_until(page, f"!!document.getElementById('panel-{key}')")
            assert page.url.endswith(f"{elder}/picture?tab={key}"), page.url
            current = page.locator('nav.tabs a[aria-current="page"]')
            assert current.count() == 1 and current.get_attribute("id") == f"tab-{key}"
            assert page.evaluate(FITS), f"{key}: the page is wider than the screen"
        # back: the tab before, fetched again (htmx keeps no copy of the page)
        page.go_back()
        wait_until(page, f"!!document.getElementById('panel-{TABS[-2][0]}')")
        assert page.url.endswith(f"{elder}/picture?tab={TABS[-2][0]}"), page.url
    finally:
        context.close()
