"""Chinese first. The .po catalogues are the translations' source (docs/i18n.md): every UI string
is in them, translated to zh_CN and reviewed (not fuzzy), with the msgid's placeholders."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import PYTHON_FORMAT, Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from yiyang.core import i18n

pytestmark = pytest.mark.unit

SRC = Path(i18n.__file__).resolve().parents[1]
BABEL_CFG = SRC.parents[1] / "babel.cfg"
LOCALE = SRC / "locale"
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}  # what `make messages` passes: the defaults, -k N_
BRACES = re.compile(r"\{\w*(?:[!:][^{}]*)?\}")  # str.format fields: {device}, {hours:.1f}
FIX = "run `make messages`, then translate in src/yiyang/locale/zh_CN/LC_MESSAGES/messages.po"


def key(message: Message) -> str:
    return message.id[0] if isinstance(message.id, tuple) else message.id


def strings(message: Message) -> tuple[str, ...]:
    return tuple(message.string) if isinstance(message.string, tuple) else (message.string,)


@cache
def catalog(locale: str | None) -> Catalog:
    """A locale's catalogue, or (None) the template, messages.pot."""
    path = LOCALE / (f"{locale}/LC_MESSAGES/messages.po" if locale else "messages.pot")
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def entries(locale: str | None) -> list[Message]:
    return [m for m in catalog(locale) if m.id]


def extracted_ids() -> set[str]:
    """What `pybabel extract` finds in the code today, with babel.cfg's mapping."""
    with BABEL_CFG.open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = extract_from_dir(str(SRC), method_map, options_map, keywords=KEYWORDS)
    return {m[0] if isinstance(m, tuple) else m for _file, _line, m, _comments, _ctx in found}


def test_the_template_holds_every_ui_string_in_the_code() -> None:
    template = {key(m) for m in entries(None)}
    code = extracted_ids()
    assert sorted(code - template) == [], FIX
    assert sorted(template - code) == [], "strings no longer in the code: run `make messages`"


@pytest.mark.parametrize("locale", i18n.SUPPORTED)
def test_every_catalogue_follows_the_template(locale: str) -> None:
    template = {key(m): m.id for m in entries(None)}
    po = {key(m): m.id for m in entries(locale)}
    assert po == template, "run `make messages`"


def test_every_ui_string_has_a_reviewed_chinese_translation() -> None:
    zh = catalog("zh_CN")
    assert zh.num_plurals == 1
    untranslated = [key(m) for m in entries("zh_CN") if not all(strings(m))]
    fuzzy = [key(m) for m in entries("zh_CN") if m.fuzzy]
    plural_forms = [
        key(m)
        for m in entries("zh_CN")
        if isinstance(m.id, tuple) and len(strings(m)) != zh.num_plurals
    ]
    assert untranslated == [], FIX
    # a fuzzy entry (a guess by `make messages` for a changed msgid) is left out at run time, so
    # the page would show English: review it, then remove the flag (Poedit: "Needs work" off)
    assert fuzzy == [], "review these fuzzy translations and clear their fuzzy flag"
    assert plural_forms == [], "zh_CN has one plural form: msgstr[0] only"


def placeholders(text: str, python_format: bool) -> tuple[frozenset[str], tuple[str, ...]]:
    """Named placeholders (%(n)s, {device}) as a set, positional ones (%s) in order."""
    named = set(BRACES.findall(text))
    positional = []
    for m in PYTHON_FORMAT.finditer(text) if python_format else ():
        if m.group(3) == "%":  # %% is a literal percent sign
            continue
        if m.group(1) is None:
            positional.append(m.group(0))
        else:
            named.add(m.group(0))
    return frozenset(named), tuple(positional)


def translations() -> Iterator[tuple[str, Message, str, str]]:
    """(locale, message, the msgid it renders, a filled-in msgstr) for every translation."""
    for locale in i18n.SUPPORTED:
        for m in entries(locale):
            ids = m.id if isinstance(m.id, tuple) else (m.id,)
            for n, text in enumerate(strings(m)):
                if not text:  # English shows the msgid (en); zh_CN fails above
                    continue
                if len(ids) == 1:
                    yield locale, m, ids[0], text
                elif catalog(locale).num_plurals == 1:  # zh_CN: one form for every count
                    yield locale, m, ids[1], text
                else:
                    yield locale, m, ids[min(n, 1)], text


def test_translations_keep_their_placeholders() -> None:
    wrong = [
        (locale, key(m), text)
        for locale, m, source, text in translations()
        if placeholders(source, m.python_format) != placeholders(text, m.python_format)
    ]
    assert wrong == []


def test_translations_format_without_error() -> None:
    """gettext(...) fills %-placeholders, callers .format() the {} ones: a stray % or brace
    in a translation would fail on the page, not here, without this."""
    broken = []
    for locale, m, source, text in translations():
        values: defaultdict[str, int] = defaultdict(int)
        try:
            if m.python_format and "%(" in source:
                text % values  # what gettext(..., **params) does
            if BRACES.search(source):
                text.format_map(values)
        except (ValueError, TypeError, KeyError, IndexError) as e:
            broken.append((locale, key(m), text, str(e)))
    assert broken == []


GETTEXT = {"_", "gettext", "ngettext", "N_"}


def literal_calls(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        first = node.args[0] if node.args else None
        if name in GETTEXT and isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield first.value


def test_strings_inside_f_strings_are_in_the_catalogue_too() -> None:
    """pybabel (on Python 3.11) does not look inside f-strings, so `f"{_('years')}"` would
    stay English for ever: every literal given to a gettext function must be in the catalogue."""
    zh = {key(m) for m in entries("zh_CN")}
    missing = sorted(
        (str(path.relative_to(SRC)), text)
        for path in SRC.rglob("*.py")
        for text in literal_calls(ast.parse(path.read_text(encoding="utf-8")))
        if text and text not in zh
    )
    assert missing == [], "call gettext outside the f-string, then run `make messages`"


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
