"""The synonyms page (#17), reached from the import page: per table (household, gender,
categories, relations) the wordings shipped with the package and the additions that apply to the
actor's imports; adding a wording (wording → value) for the actor's area and removing one of the
area's own additions. Who may: whoever imports rolls (``can_import_elders``), for their own area
— the same rule as the JSON API (``registry.service``). A refusal (an unknown value, a shipped
wording) is shown beside its field; every write is audited (``RegistrySynonym``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.errors import field_errors
from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor, region_scope_path
from yiyang.core.types import Id
from yiyang.registry import service
from yiyang.registry.schemas import SynonymCreate
from yiyang.registry.synonyms import (
    DEFAULT_CATEGORY,
    DEFAULT_GENDER,
    DEFAULT_HOUSEHOLD,
    DEFAULT_RELATION,
    VALUES,
    SynonymKind,
)
from yiyang.web.actions import run_action
from yiyang.web.templating import render

router = APIRouter(include_in_schema=False)
Importer = Annotated[Actor, Depends(require(Perm.IMPORT_ELDERS))]
PATH = "/elders-import/synonyms"
KIND_LABELS: dict[SynonymKind, str] = {
    SynonymKind.HOUSEHOLD: N_("Household"),
    SynonymKind.GENDER: N_("Gender"),
    SynonymKind.CATEGORY: N_("Category"),
    SynonymKind.RELATION: N_("Relation of a contact"),
}
SHIPPED: dict[SynonymKind, dict[str, str]] = {
    SynonymKind.HOUSEHOLD: {k: v.value for k, v in DEFAULT_HOUSEHOLD.items()},
    SynonymKind.GENDER: {k: v.value for k, v in DEFAULT_GENDER.items()},
    SynonymKind.CATEGORY: {k: v.value for k, v in DEFAULT_CATEGORY.items()},
    SynonymKind.RELATION: dict(DEFAULT_RELATION),
}
FIELD_HINTS: dict[str, str] = {
    "wording": N_("Enter the wording as the rolls write it (1–64 characters)."),
    "value": N_("Choose one of the listed values."),
}


def _page(
    request: Request,
    actor: Actor,
    session: Session,
    status_code: int = 200,
    *,
    kind: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    scope = region_scope_path(actor) or ""
    additions: dict[str, list[object]] = {k.value: [] for k in SynonymKind}
    for row in service.list_synonyms(session, actor):
        additions.setdefault(row.kind, []).append(row)
    return render(
        request,
        "elders/synonyms.html",
        status_code=status_code,
        kinds=list(SynonymKind),
        kind_labels=KIND_LABELS,
        shipped={k.value: sorted(SHIPPED[k].items()) for k in SynonymKind},
        additions=additions,
        choices={k.value: sorted(v) if v else None for k, v in VALUES.items()},
        scope=scope,
        kind=kind,
        values=values or {},
        errors=errors or {},
    )


@router.get(PATH)
def synonyms_page(request: Request, actor: Importer, session: DB) -> Response:
    return _page(request, actor, session)


@router.post(PATH)
async def add_synonym(request: Request, actor: Importer, session: DB) -> Response:
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("kind", "wording", "value")}
    kind = values["kind"] if values["kind"] in set(SynonymKind) else ""
    try:
        data = SynonymCreate(**values)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for e in field_errors(exc.errors()):
            key = e["field"].split(".")[0] or "value"  # the model's own check is on the value
            hint = FIELD_HINTS.get(key)
            errors.setdefault(key, _(hint) if hint else e["message"])
        return _page(request, actor, session, 422, kind=kind, values=values, errors=errors)
    refused = await run_in_threadpool(
        run_action, session, lambda: service.add_synonym(session, actor, data)
    )
    if refused is not None:
        if refused.status_code in (403, 404):
            raise refused
        errors = {refused.field or "form": refused.message}
        return _page(
            request, actor, session, refused.status_code, kind=kind, values=values, errors=errors
        )
    return RedirectResponse(f"{PATH}#{kind}", status_code=303)


@router.post(PATH + "/{synonym_id}/remove")
async def remove_synonym(
    request: Request, actor: Importer, session: DB, synonym_id: Id
) -> Response:
    refused = await run_in_threadpool(
        run_action, session, lambda: service.remove_synonym(session, actor, synonym_id)
    )
    if refused is not None:
        raise refused
    return RedirectResponse(PATH, status_code=303)
