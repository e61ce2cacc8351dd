from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from yiyang.audit import repository
from yiyang.audit.labels import ACTIONS, action_label
from yiyang.audit.schemas import AuditFilters
from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.errors import field_errors
from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.web.nav import NavEntry, needs, register_nav
from yiyang.web.templating import register_globals, render

router = APIRouter(include_in_schema=False)
register_nav(NavEntry("audit", "/audit", N_("Audit log"), needs(Perm.VIEW_AUDIT), 90))
register_globals(action_label=action_label, AUDIT_ACTIONS=ACTIONS)


# The filters by the labels of their inputs, for the messages about a bad value.
FILTER_LABELS = {
    "elder_id": N_("Elder number"),
    "actor": N_("User"),
    "action": N_("Action"),
    "entity_type": N_("Record"),
    "since": N_("Since"),
    "until": N_("Until"),
    "page": N_("Page"),
    "page_size": N_("Rows per page"),
}


@router.get("/audit")
def audit_page(
    request: Request,
    actor: Annotated[Actor, Depends(require(Perm.VIEW_AUDIT))],
    session: DB,
) -> Response:
    raw: dict[str, Any] = {k: v for k, v in request.query_params.items() if v and k != "lang"}
    errors: dict[str, str] = {}
    try:
        filters = AuditFilters(**raw)
    except ValidationError as exc:
        errors = {
            _(FILTER_LABELS.get(key, key)): e["message"]
            for e in field_errors(exc.errors())
            for key in [e["field"].split(".")[0]]
        }
        filters = AuditFilters()
    events = repository.search(session, actor, filters)
    template = (
        "audit/_rows.html" if request.headers.get("hx-target") == "results" else "audit/list.html"
    )
    return render(
        request,
        template,
        rows=repository.lines(session, events),
        filters=filters,
        errors=errors,
    )
