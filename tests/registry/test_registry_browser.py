"""The pages in a real browser: Debian Chromium driven by Playwright against a real server
process (`yiyang serve`) on a fresh, migrated SQLite database with demo data."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page, server: str, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server + "/elders")
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/elders")


def test_chinese_by_default_even_in_an_english_browser(page, server) -> None:
    sign_in(page, server, "street")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "老人信息库"
    page.click("text=English")
    assert page.locator("h1").inner_text() == "Elder registry"
    page.goto(server + "/elders")  # the choice is remembered
    assert page.locator("h1").inner_text() == "Elder registry"


def test_filtering_updates_the_list_without_a_reload(page, server) -> None:
    sign_in(page, server, "street")
    page.evaluate("window.__marker = 'still-here'")
    page.select_option("select[name=household]", "alone")
    page.wait_for_url("**household=alone**")  # CSP-proof: no string evaluated in the page
    page.wait_for_load_state("networkidle")
    cells = page.locator("#results tbody tr td:nth-child(7)").all_inner_texts()
    assert cells and all(c.strip() == "独居" for c in cells)
    assert page.evaluate("window.__marker") == "still-here"  # HTMX swapped the results in place
    assert "household=alone" in (page.get_attribute("#export-link", "href") or "")


def test_open_edit_and_save_an_elder(page, server) -> None:
    sign_in(page, server, "community")
    page.click("#results tbody tr:first-child td a")
    page.wait_for_url(re.compile(r"/elders/\d+$"))
    name = page.locator("h1").inner_text().split()[0]
    page.click("text=编辑")
    page.fill("input[name=key_holder]", "楼组长王阿姨")
    page.fill("input[name=mobile_phone]", "123")
    page.click("button:has-text('保存')")
    assert page.locator("#err-mobile_phone").is_visible()  # server-side field error, form kept
    assert page.input_value("input[name=key_holder]") == "楼组长王阿姨"
    page.fill("input[name=mobile_phone]", "13800138000")
    page.click("button:has-text('保存')")
    page.wait_for_url(re.compile(r"/elders/\d+$"))
    assert name in page.locator("h1").inner_text()
    assert "楼组长王阿姨" in page.content()


def test_keyboard_only_sign_in_and_search(page, server) -> None:
    page.goto(server + "/elders")  # the sign-in page, coming back here (the officer's own
    page.wait_for_load_state("load")  # landing page is the overview)
    assert "/login" in page.url
    # The username field has autofocus; if the browser has not applied it yet, Tab reaches it
    # (skip link, language link, then the form) — keyboard only either way.
    for _ in range(10):
        if page.evaluate("document.activeElement && document.activeElement.name") == "username":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "username"
    page.keyboard.type("street")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/elders")
    surname = page.locator("#results tbody tr:nth-child(3) td:first-child a").inner_text()[0]
    page.focus("input[name=q]")
    page.keyboard.type(surname)
    page.keyboard.press("Enter")
    page.wait_for_url("**q=**")
    page.wait_for_load_state("networkidle")
    names = page.locator("#results tbody tr td:first-child a").all_inner_texts()
    assert names and all(n.startswith(surname) for n in names)


def test_import_a_roll_in_the_browser(page, server, tmp_path) -> None:
    from yiyang.demo.rolls import write_roll

    roll = tmp_path / "roll.xlsx"
    write_roll(roll, 20, seed=99, bad_every=5)
    sign_in(page, server, "district")
    page.goto(server + "/elders-import")
    page.set_input_files("input[name=file]", str(roll))
    page.click("button:has-text('校验文件')")
    page.wait_for_selector("#report")
    assert page.inner_text("#n-rejected") == "4"
    assert "校验位错误" in page.inner_text("#rejected")
    page.click("#report button[type=submit]")
    page.wait_for_selector("text=已导入")
    assert page.inner_text("#n-created") == "16"
    page.screenshot(path=str(tmp_path / "import.png"))
