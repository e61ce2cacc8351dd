"""Jinja2 environment with gettext, local-time formatting and the shared page context.

A mechanism only: it knows no domain. Each domain registers the globals and filters its
templates need from its ``pages.py`` (imported by ``app.create_app`` before any render) through
``register_globals`` / ``register_filters``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from yiyang.core import i18n
from yiyang.core.audit import actor_label
from yiyang.core.clock import to_local
from yiyang.core.roles import Perm

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
env = TEMPLATES.env
env.add_extension("jinja2.ext.i18n")
env.install_gettext_callables(  # type: ignore[attr-defined]
    lambda s, **kw: i18n.gettext(s, **kw),
    lambda s, p, n, **kw: i18n.ngettext(s, p, n, **kw),
    newstyle=True,
)


class TemplateNameClash(RuntimeError):
    """A template global or filter name is registered twice with different values."""


def _same(a: object, b: object) -> bool:
    return a is b or a == b


def _register(target: MutableMapping[str, Any], kind: str, values: dict[str, Any]) -> None:
    clashes = [n for n, v in values.items() if n in target and not _same(target[n], v)]
    if clashes:
        raise TemplateNameClash(
            f"template {kind} already registered with another value: {', '.join(sorted(clashes))}"
        )
    target.update(values)


def register_globals(**values: object) -> None:
    """Make ``values`` visible in every template; a name taken by another value is refused."""
    _register(env.globals, "global", values)


def register_filters(**fns: Callable[..., Any]) -> None:
    """Add template filters; a name taken by another function is refused."""
    _register(env.filters, "filter", fns)


def localtime(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    local = to_local(value)
    return local.strftime(fmt) if local else ""


def _epoch(value: dt.datetime | None) -> str:
    """Seconds since 1970 for the browser's clocks (naive values are UTC, as stored)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return f"{value.timestamp():.3f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _secs(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


register_globals(Perm=Perm, who=actor_label)
register_filters(localtime=localtime, epoch=_epoch, pct=_pct, secs=_secs)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    actor = getattr(request.state, "actor", None)
    base = {
        "request": request,
        "actor": actor,
        "locale": i18n.get_locale(),
        "csrf_token": actor.csrf_token if actor else "",
        "is_htmx": request.headers.get("hx-request") == "true",
    }
    return TEMPLATES.TemplateResponse(request, name, {**base, **context}, status_code=status_code)
