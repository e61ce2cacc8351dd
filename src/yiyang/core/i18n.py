"""gettext with Babel: zh_CN by default, English switchable. Catalogues are compiled from the
.po files in ``yiyang/locale`` when first used, so no build step is needed."""

from __future__ import annotations

import contextvars
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
SUPPORTED = ("zh_CN", "en")
_current: contextvars.ContextVar[str] = contextvars.ContextVar("yiyang_locale", default="zh_CN")


@cache
def translations(locale: str) -> NullTranslations:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def set_locale(locale: str) -> contextvars.Token[str]:
    return _current.set(locale if locale in SUPPORTED else "zh_CN")


def reset_locale(token: contextvars.Token[str]) -> None:
    _current.reset(token)


def get_locale() -> str:
    return _current.get()


def gettext(message: str, **params: object) -> str:
    text = translations(get_locale()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    text = translations(get_locale()).ngettext(singular, plural, n)
    return text % params if params else text


_ = gettext


def N_(message: str) -> str:
    return message


def pick_locale(query: str | None, cookie: str | None, default: str) -> str:
    """zh_CN unless the person chose otherwise (?lang= or the remembered cookie). The browser's
    Accept-Language is deliberately ignored: staff machines often run English browsers."""
    for candidate in (query, cookie):
        if candidate in SUPPORTED:
            return candidate
    return default if default in SUPPORTED else "zh_CN"
