"""Jinja2 environment with gettext, local-time formatting and the shared page context."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from yiyang.alarms import describe
from yiyang.alarms import enums as alert_enums
from yiyang.audit.labels import ACTIONS, action_label
from yiyang.core import i18n
from yiyang.core.clock import to_local
from yiyang.core.roles import Perm
from yiyang.devices import enums as device_enums
from yiyang.registry.enums import label

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
env = TEMPLATES.env
env.add_extension("jinja2.ext.i18n")
env.install_gettext_callables(  # type: ignore[attr-defined]
    lambda s, **kw: i18n.gettext(s, **kw),
    lambda s, p, n, **kw: i18n.ngettext(s, p, n, **kw),
    newstyle=True,
)
env.globals["label"] = label
env.globals["action_label"] = action_label
env.globals["AUDIT_ACTIONS"] = ACTIONS
env.globals["Perm"] = Perm
env.globals["explain"] = describe.explain
env.globals["alert_title"] = describe.title
env.globals["trail_label"] = describe.trail_label
env.globals["STATE_LABELS"] = alert_enums.STATE_LABELS
env.globals["SEVERITY_LABELS"] = alert_enums.SEVERITY_LABELS
env.globals["OUTCOME_LABELS"] = alert_enums.OUTCOME_LABELS
env.globals["DEVICE_STATUS_LABELS"] = device_enums.STATUS_LABELS
env.globals["device_label"] = lambda t: i18n.gettext(
    device_enums.TYPE_LABELS[device_enums.DeviceType(t)]
)


def _localtime(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    local = to_local(value)
    return local.strftime(fmt) if local else ""


env.filters["localtime"] = _localtime


def _epoch(value: dt.datetime | None) -> str:
    """Seconds since 1970 for the browser's clocks (naive values are UTC, as stored)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return f"{value.timestamp():.3f}"


env.filters["epoch"] = _epoch
env.filters["pct"] = lambda v: "—" if v is None else f"{v * 100:.1f}%"
env.filters["secs"] = lambda v: "—" if v is None else f"{v:.0f}"
env.filters["place"] = lambda f: {
    "name": f.name,
    "kind": f.kind,
    "lat": f.latitude,
    "lon": f.longitude,
}
env.filters["trackpoint"] = lambda p: [p[0], p[1], _localtime(p[2], "%H:%M")]
env.globals["event_label"] = lambda e: (
    i18n.gettext(device_enums.EVENT_LABELS[device_enums.EventKind(e)])
    if e in device_enums.EventKind.__members__.values()
    else e
)


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
