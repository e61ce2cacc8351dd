"""The 长辈版 and the family portal in Chromium at a 390 px phone width, measured against MIIT's
适老化 specification read strictly, from the computed styles:

- main text 24 CSS px or more, line spacing 1.3 or more, contrast 4.5:1 or more (every element
  with text of its own, against the background it is drawn on);
- the main functions (call, confirm a service, order a meal, read aloud) 40 px text;
- **every** interactive element (``a, button, input, select, summary``) — sign-out and the
  language switch included — 60 × 60 px or more (``getBoundingClientRect``);
- no pop-ups: the service confirmation is an inline step, and no dialog ever opens;
- nothing wider than the phone;
- axe-core (vendored, tests/support/axe/README.md) finds no violation.

Run with ``-s`` to see the measurements and axe's results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import wait_until

from ..conftest import PASSWORD

pytestmark = pytest.mark.browser

AXE = Path(__file__).parents[1] / "support" / "axe" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
MIN_TEXT, MIN_MAIN, MIN_TARGET, MIN_CONTRAST, MIN_LINE = 24.0, 40.0, 60.0, 4.5, 1.3

# One function, evaluated in the page through the DevTools protocol (no eval under our CSP).
MEASURE = """() => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0)) return c;
    }
    return [255, 255, 255];
  };
  const contrast = (el) => {
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  };
  const shown = (el) => {
    return el.checkVisibility({visibilityProperty: true}) && el.getClientRects().length > 0;
  };
  const classes = (el) => [...el.classList].map((c) => '.' + c).join('');
  const label = (el) => (el.innerText || el.value || el.getAttribute('aria-label') || '').trim();
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + classes(el)
    + ' "' + label(el).slice(0, 24) + '"';
  const texts = [];
  for (const el of document.querySelectorAll('body *')) {
    if (!shown(el) || ['SCRIPT', 'STYLE', 'OPTION'].includes(el.tagName)) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const s = getComputedStyle(el), size = parseFloat(s.fontSize);
    const line = s.lineHeight === 'normal' ? 0 : parseFloat(s.lineHeight) / size;
    texts.push({el: name(el), size, line: Math.round(line * 100) / 100,
                contrast: Math.round(contrast(el) * 100) / 100});
  }
  const targets = [];
  for (const el of document.querySelectorAll('a, button, input, select, summary')) {
    if (el.type === 'hidden' || !shown(el)) continue;
    const r = el.getBoundingClientRect();
    targets.push({el: name(el), w: Math.round(r.width * 10) / 10, h: Math.round(r.height * 10) / 10,
                  size: parseFloat(getComputedStyle(el).fontSize), main: el.matches('.main-fn')});
  }
  return {texts, targets, width: document.documentElement.scrollWidth, viewport: innerWidth};
}"""


def _sign_in(context: Any, server: str, username: str, lang: str) -> Any:
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("dialog", lambda d: pytest.fail(f"a pop-up opened: {d.type} {d.message}"))
    page.goto(f"{server}/login?lang={lang}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + "/my-services*")
    return page


def _check_sizes(
    username: str, lang: str, m: dict[str, Any], mains: tuple[str, ...] = ("#read-", "#call-")
) -> None:
    texts, targets = m["texts"], m["targets"]
    print(f"\n== {username} ({lang}) at {m['viewport']} px: page width {m['width']} px")
    print(
        f"text: {len(texts)} elements, smallest {min(t['size'] for t in texts)} px, "
        f"line spacing ≥ {min(t['line'] for t in texts)}, "
        f"lowest contrast {min(t['contrast'] for t in texts)}:1"
    )
    print(
        f"targets: {len(targets)}, smallest {min(t['w'] for t in targets)} × "
        f"{min(t['h'] for t in targets)} px"
    )
    for t in targets:
        main = " main" if t["main"] else ""
        print(f"  {t['w']:>6} × {t['h']:<6} {t['size']:>4} px{main}  {t['el']}")
    assert m["width"] <= m["viewport"], "the page is wider than the phone"
    assert [t for t in texts if t["size"] < MIN_TEXT] == []
    assert [t for t in texts if t["line"] < MIN_LINE] == []
    assert [t for t in texts if t["contrast"] < MIN_CONTRAST] == []
    assert [t for t in targets if t["w"] < MIN_TARGET or t["h"] < MIN_TARGET] == []
    main = [t for t in targets if t["main"]]
    assert [t for t in main if t["size"] < MIN_MAIN] == []
    for needle in mains:
        assert any(needle in t["el"] for t in main), (needle, "missing")
    for label in ("Sign out", "退出", "English", "中文"):
        if any(label in t["el"] for t in targets):
            break
    else:
        pytest.fail("no sign-out or language switch measured")


def _run_axe(page: Any, username: str, lang: str) -> None:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})
           .then((r) => ({version: axe.version, passes: r.passes.length,
             incomplete: r.incomplete.map((v) => v.id),
             violations: r.violations.map((v) => ({id: v.id, impact: v.impact,
               nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5)}))}))"""
    )
    print(
        f"axe {result['version']} ({username}, {lang}): {result['passes']} rules passed, "
        f"violations {json.dumps(result['violations'], ensure_ascii=False)}, "
        f"needs review {result['incomplete']}"
    )
    assert result["violations"] == []


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("username", ["elder", "family"])
def test_elder_and_family_pages_meet_the_elder_friendly_sizes(
    browser, server, username: str, lang: str
) -> None:
    context = browser.new_context(viewport=PHONE, locale="zh-CN", bypass_csp=True)
    try:
        page = _sign_in(context, server, username, lang)
        page.goto(f"{server}/my-services")
        _check_sizes(username, lang, page.evaluate(MEASURE))
        if username == "family":
            # confirming a service is an inline step: open it, and the button is right there
            summary = page.locator("summary[data-action=confirm-open]").first
            summary.click()
            assert page.locator("button[data-action=confirm]").first.is_visible()
            _check_sizes(username, lang + ", confirmation open", page.evaluate(MEASURE))
        _run_axe(page, username, lang)
    finally:
        context.close()


def test_read_aloud_speaks_the_card_in_chinese(browser, server) -> None:
    context = browser.new_context(viewport=PHONE, locale="zh-CN")  # under our CSP
    try:
        page = _sign_in(context, server, "elder", "zh_CN")
        page.goto(f"{server}/my-services")
        button = page.locator("button[data-read]").first
        assert button.is_visible(), "the read-aloud button is hidden: no speech synthesis"
        # record what is handed to the speech engine (headless Chromium has no voice to play)
        page.evaluate(
            """() => { window.spoken = []; speechSynthesis.speak = (u) => {
                 window.spoken.push({lang: u.lang, text: u.text}); }; }"""
        )
        button.click()
        wait_until(page, "window.spoken.length > 0")
        spoken = page.evaluate("window.spoken[0]")
        print(f"\nread aloud: lang {spoken['lang']}, {spoken['text'][:60]}…")
        assert spoken["lang"] == "zh-CN" and len(spoken["text"]) > 10
        assert "Read aloud" not in spoken["text"] and "朗读" not in spoken["text"]
        assert button.get_attribute("aria-pressed") == "true"
        button.click()  # a second press stops
        assert button.get_attribute("aria-pressed") == "false"
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_phone_sign_in_and_invitation_pages_meet_the_sizes(browser, server, lang: str) -> None:
    """The family's other pages: sign-in by phone (both steps), inviting another parent, their
    account (sign-in sessions)."""
    context = browser.new_context(viewport=PHONE, locale="zh-CN", bypass_csp=True)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("dialog", lambda d: pytest.fail(f"a pop-up opened: {d.type} {d.message}"))
        page.goto(f"{server}/login/phone?lang={lang}")
        _check_sizes("phone sign-in", lang, page.evaluate(MEASURE), ("#send-code",))
        _run_axe(page, "phone sign-in", lang)
        page.fill("input[name=phone]", "13700000000")  # no account: the same answer
        page.click("#send-code")
        page.locator("#code-sent").wait_for()
        _check_sizes("phone sign-in, code", lang, page.evaluate(MEASURE), ("#verify-code",))
        _run_axe(page, "phone sign-in, code", lang)
        page = _sign_in(context, server, "family", lang)
        page.click("a[id^=invite-]")
        page.locator("#issue-invitation").wait_for()
        _check_sizes("family, invitation", lang, page.evaluate(MEASURE), ("#issue-invitation",))
        page.click("#issue-invitation")
        page.locator("#invitation-code").wait_for()
        _check_sizes("family, invitation code", lang, page.evaluate(MEASURE), ())
        _run_axe(page, "family, invitation code", lang)
        page.goto(f"{server}/account")
        _check_sizes("family, account", lang, page.evaluate(MEASURE), ())
        _run_axe(page, "family, account", lang)
    finally:
        context.close()
