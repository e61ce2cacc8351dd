"""Chinese first: every UI string has a zh_CN translation with the same placeholders."""

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from yiyang.core import i18n

SRC = Path(i18n.__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def extracted_ids() -> set[str]:
    method_map = [("**.py", "python"), ("web/templates/**.html", "jinja2")]
    options = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    ids: set[str] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(SRC),
        method_map,
        options_map=options,
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None},
    ):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def zh_catalog():
    with (SRC / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale="zh_CN")


def test_every_ui_string_is_translated_to_chinese() -> None:
    catalog = zh_catalog()
    translated = {}
    for m in catalog:
        if not m.id:
            continue
        key = m.id[0] if isinstance(m.id, tuple) else m.id
        text = m.string[0] if isinstance(m.string, tuple) else m.string
        translated[key] = text
    missing = sorted(i for i in extracted_ids() if not translated.get(i))
    assert missing == [], "run `make messages` and translate these in tools/zh_cn.py"


def test_translations_keep_their_placeholders() -> None:
    for m in zh_catalog():
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert set(PLACEHOLDER.findall(ids[0])) == set(PLACEHOLDER.findall(strings[0])), m.id


def test_default_locale_is_chinese_and_english_switches() -> None:
    token = i18n.set_locale("zh_CN")
    assert i18n.gettext("Elders") == "老人档案"
    i18n.set_locale("en")
    assert i18n.gettext("Elders") == "Elders"
    i18n.reset_locale(token)
    assert i18n.pick_locale(None, None, "zh_CN") == "zh_CN"
    assert i18n.pick_locale("en", None, "zh_CN") == "en"
    assert i18n.pick_locale(None, "en", "zh_CN") == "en"
    assert i18n.pick_locale("fr", None, "zh_CN") == "zh_CN"
