"""``/elders/{id}/picture[?tab=…]``: the elder's whole picture on one staff page, a tab at a
time. The first load renders the page with its tab (the profile by default) on the server;
the tab links fetch just the tab strip and panel over HTMX (``hx-push-url`` keeps the address,
so a reload or a shared link opens the same tab). Without JavaScript the links are plain page
loads. Thin: ``picture.load`` reads, the templates show."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.errors import NotFound
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.overview import charts, picture
from yiyang.services.enums import LABELS as SERVICE_LABELS
from yiyang.subsidies.enums import LABELS as SUBSIDY_LABELS
from yiyang.subsidies.service import yuan
from yiyang.web.templating import register_globals, render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_ELDERS))]
register_globals(can_view_elder_picture=picture.may_view)
METRIC_NAMES = {m.key: m.label for _k, _l, _u, metrics in charts.GROUPS for m in metrics}


def _page(request: Request, p: picture.Picture) -> Response:
    context: dict[str, Any] = {
        "p": p,
        "e": p.elder,
        "tabs": picture.TABS,
        "SVC": SERVICE_LABELS,
        "yuan": yuan,
        "SUBSIDY_LABELS": SUBSIDY_LABELS,
        "METRIC_NAMES": METRIC_NAMES,
        "W": charts.WIDTH,
        "H": charts.HEIGHT,
        "L": charts.LEFT,
        "R": charts.RIGHT,
    }
    fragment = request.headers.get("hx-request") == "true" and not request.headers.get(
        "hx-history-restore-request"
    )
    template = "overview/_picture.html" if fragment else "overview/elder.html"
    return render(request, template, **context)


@router.get("/elders/{elder_id}/picture")
def picture_page(
    request: Request, actor: Viewer, session: DB, elder_id: Id, tab: str = "profile"
) -> Response:
    if tab not in picture.TAB_KEYS:
        raise NotFound(_("Not found."))
    return _page(request, picture.load(session, actor, elder_id, tab))
