"""The 120 brief's PDF: its Chinese font is embedded and has a glyph for every character the
brief prints (read back from the PDF: each font's program, its ToUnicode map and its cmap), the
time is local, the labels are in the reader's language, the sex is shown; without Noto Sans CJK
the brief still renders (the reader's font) and the log says why — under CI the font is
required."""

from __future__ import annotations

import io
import logging
import re

import pytest

from tests.alarms.test_alarms_api import make_alerts
from tests.conftest import CI
from yiyang.console import pdf
from yiyang.core import i18n

pytestmark = pytest.mark.api


def need_font() -> None:
    if pdf.font_file() is None:
        message = "Noto Sans CJK SC not installed (apt-get install fonts-noto-cjk)"
        if CI:
            pytest.fail(message + " — required under CI=true")
        pytest.skip(message)


def embedded_glyphs(body: bytes) -> tuple[set[str], list[str]]:
    """The characters the PDF's fonts can draw, and the fonts that are not embedded."""
    from fontTools.ttLib import TTFont
    from pypdf import PdfReader

    covered: set[str] = set()
    not_embedded: list[str] = []
    for page in PdfReader(io.BytesIO(body)).pages:
        for name, ref in page["/Resources"]["/Font"].items():
            font = ref.get_object()
            descriptor = font.get("/FontDescriptor")
            program = descriptor.get_object().get("/FontFile2") if descriptor else None
            if program is None:
                not_embedded.append(f"{name} {font.get('/BaseFont')}")
                continue
            tt = TTFont(io.BytesIO(program.get_object().get_data()))
            cmap = {code: glyph for t in tt["cmap"].tables for code, glyph in t.cmap.items()}
            glyf = tt["glyf"]
            to_unicode = font["/ToUnicode"].get_object().get_data().decode("latin-1")
            for code, uni in re.findall(r"<([0-9A-Fa-f]{2})> <([0-9A-Fa-f]{4,8})>", to_unicode):
                glyph = cmap.get(int(code, 16), ".notdef")
                char = chr(int(uni, 16))
                drawn = glyph != ".notdef" and (char.isspace() or glyf[glyph].numberOfContours != 0)
                if drawn:
                    covered.add(char)
    return covered, not_embedded


def brief_pdf(client, login, session) -> tuple[dict, bytes]:  # type: ignore[no-untyped-def]
    ids = make_alerts(session)
    op = login("operator")
    client.cookies.set("lang", "zh_CN")
    brief = client.get(f"/api/alerts/{ids['inside']}/brief", headers=op.headers).json()
    body = client.get(f"/api/alerts/{ids['inside']}/brief.pdf", headers=op.headers).content
    return brief, body


def test_every_character_of_the_brief_has_a_glyph_in_the_embedded_font(
    client, login, session
) -> None:
    need_font()
    brief, body = brief_pdf(client, login, session)
    covered, not_embedded = embedded_glyphs(body)
    assert not_embedded == []
    token = i18n.set_locale("zh_CN")  # the PDF was asked for in Chinese
    try:
        with_stamp = pdf.text_of(brief, "2026-12-01 09:30:00")
    finally:
        i18n.reset_locale(token)
    assert "·" in with_stamp
    missing = {ch for ch in with_stamp if not ch.isspace()} - covered
    assert missing == set()


def test_the_brief_is_local_translated_and_shows_the_sex(client, login, session) -> None:
    from pypdf import PdfReader

    brief, body = brief_pdf(client, login, session)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    flat = text.replace("\n", "").replace(" ", "")
    assert "岁" in flat and "years" not in flat
    assert ("女" in flat) or ("男" in flat)
    assert brief["alert"]["first_at"][:19] not in text  # no raw ISO instant
    assert pdf.local_time(brief["alert"]["first_at"]).replace(" ", "") in flat
    mobility = brief["medical"]["mobility"]
    assert mobility not in flat  # "independent" is printed as its label
    for english in ("Address", "Contacts", "Family doctor"):
        assert english not in text


def test_without_the_font_the_brief_falls_back_and_says_so(monkeypatch, caplog) -> None:
    pdf.font_file.cache_clear()
    monkeypatch.setattr(pdf, "FONT_FILES", ())
    brief = {
        "alert": {"id": 1, "title": "SOS", "what": "按下", "first_at": "2026-12-01T01:30:00+00:00"},
        "elder": {
            "name": "王秀英",
            "gender": "female",
            "age": 78,
            "phone": None,
            "address": "某路 1 号",
            "street": "",
            "community": "",
            "latitude": None,
            "longitude": None,
            "key_holder": None,
            "access_notes": None,
        },
        "medical": None,
        "contacts": [],
        "family_doctor": {"name": None, "organisation": None, "phone": None},
        "nearest_hospitals": [],
        "prepared_by": "x",
    }
    try:
        with caplog.at_level(logging.WARNING, logger="yiyang.console.pdf"):
            body = pdf.render(brief, "2026-12-01 09:30:00")
        assert body.startswith(b"%PDF")
        assert "fonts-noto-cjk" in caplog.text
    finally:
        pdf.font_file.cache_clear()
