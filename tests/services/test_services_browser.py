"""The caregiver's phone page in Debian Chromium on a phone-sized screen, zh-CN: the phone's
position (granted to the page) travels with the check-in — a position far from the home is
flagged — and checking out with the elder's code confirms the order."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.browser import wait_until

from ..conftest import PASSWORD

pytestmark = pytest.mark.browser

BEIJING = {"latitude": 39.9042, "longitude": 116.4074}  # ~1,000 km from any demo home


def test_caregiver_checks_in_with_gps_and_out_with_the_code(browser, server) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="zh-CN",
        geolocation=BEIJING,
        permissions=["geolocation"],
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(server + "/login?next=/my-jobs")
    page.fill("input[name=username]", "caregiver")
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url("**/my-jobs")
    assert page.locator("h1").inner_text().startswith("今日工作")
    job = page.locator("section.job[data-state=accepted]").first
    job_id = int(re.sub(r"\D", "", job.get_attribute("id") or ""))
    # the page fills the position in once the browser hands it over
    wait_until(page, f"document.querySelector('#job-{job_id} input[name=lat]').value !== ''")
    job.locator("button[data-step=check-in]").click()
    page.wait_for_selector(f"#job-{job_id}[data-state=in_service]")
    assert "签到位置远离老人住址" in page.locator(f"#job-{job_id}").inner_text()

    token = httpx.post(
        server + "/api/auth/token", json={"username": "community", "password": PASSWORD}
    ).json()["access_token"]
    code = httpx.get(
        f"{server}/api/orders/{job_id}", headers={"Authorization": f"Bearer {token}"}
    ).json()["confirm_code"]
    section = page.locator(f"#job-{job_id}")
    section.locator("input[name=code]").fill("12345x")
    section.locator("button[data-step=check-out]").click()  # the pattern stops a bad code
    assert page.locator(f"#job-{job_id}[data-state=in_service]").count() == 1
    section.locator("input[name=code]").fill(code)
    section.locator("button[data-step=check-out]").click()
    page.wait_for_selector(f"#job-{job_id}[data-state=confirmed]")
    assert "已确认" in page.locator(f"#job-{job_id}").inner_text()
    context.close()
