"""Subsidy pages: use and balance per street or community within the viewer's area."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from yiyang.core.auth import require
from yiyang.core.clock import today_local
from yiyang.core.db import DB
from yiyang.core.roles import REGION_SCOPED, Perm, Role
from yiyang.core.scoping import Actor
from yiyang.subsidies import reports
from yiyang.web.templating import render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_SUBSIDIES))]


@router.get("/subsidies")
def report_page(
    request: Request, actor: Viewer, session: DB, period: str = "", depth: int = 3
) -> Response:
    if actor.role not in REGION_SCOPED and actor.role is not Role.PLATFORM_ADMIN:
        return RedirectResponse("/my-services", status_code=303)
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        period = f"{today_local():%Y-%m}"
    depth = 2 if depth == 2 else 3
    rows = reports.region_report(session, actor, period, depth)
    return render(request, "services/subsidies.html", period=period, depth=depth, rows=rows)
