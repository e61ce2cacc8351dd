"""``/overview``: the region overview of an officer, a community worker or an admin — open
alerts, devices offline, orders today, check-in tasks open and overdue, elders by household
and category — each figure a link to the list it counts. Person-scoped roles (family, elders,
providers) have no region to overview (403).

The package's other page, the elder's whole picture, is ``overview/elder.py``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from yiyang.core.auth import require
from yiyang.core.clock import now, today_local
from yiyang.core.db import DB
from yiyang.core.i18n import N_
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.overview import elder, repository
from yiyang.regions.models import Region
from yiyang.registry.enums import Category, Household
from yiyang.web.nav import NavEntry, needs, register_nav
from yiyang.web.templating import render

router = APIRouter(include_in_schema=False)
router.include_router(elder.router)  # the elder's whole picture (/elders/{id}/picture)
register_nav(NavEntry("overview", "/overview", N_("Overview"), needs(Perm.VIEW_OVERVIEW), 5))


@router.get("/overview")
def overview_page(
    request: Request,
    actor: Annotated[Actor, Depends(require(Perm.VIEW_OVERVIEW))],
    session: DB,
) -> Response:
    day = today_local()
    figures = repository.overview(session, actor, day, now())
    region = session.get(Region, actor.region_id)
    return render(
        request,
        "overview/index.html",
        o=figures,
        day=day,
        region=region.name if region else "",
        households=list(Household),
        categories=list(Category),
    )
