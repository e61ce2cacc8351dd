"""Region tree pages, for whoever keeps the tree of an area (``can_manage_regions``: district
officers and platform admins): the tree of their area with the elders per node, adding a street
or community (its 12-digit code checked under the parent's), renaming one, retiring one that has
no regions and no elders below it, and uploading the official division list — read and loaded by
the same service functions as ``yiyang regions load``, first as a dry run that changes nothing.

Writes run as page actions (``web.actions.run_action``); a refusal is shown beside its field.
A node outside the actor's area answers 404."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from yiyang.core import i18n
from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.errors import DomainError
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.regions import repository, service
from yiyang.regions.models import Region, RegionLevel
from yiyang.web.actions import run_action
from yiyang.web.nav import NavEntry, needs, register_nav
from yiyang.web.templating import register_globals, render

router = APIRouter(include_in_schema=False)
register_nav(NavEntry("regions", "/regions", i18n.N_("Regions"), needs(Perm.MANAGE_REGIONS), 95))
LEVEL_LABELS: dict[str, str] = {
    RegionLevel.DISTRICT: i18n.N_("District"),
    RegionLevel.STREET: i18n.N_("Street"),
    RegionLevel.COMMUNITY: i18n.N_("Community"),
}
register_globals(REGION_LEVEL_LABELS=LEVEL_LABELS)
Manager = Annotated[Actor, Depends(require(Perm.MANAGE_REGIONS))]
MAX_LIST_BYTES = 4 * 1024 * 1024


def _refused(exc: DomainError) -> dict[str, str]:
    return {exc.field or "form": exc.message}


def _text(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


@router.get("/regions")
def tree_page(request: Request, actor: Manager, session: DB) -> Response:
    regions = repository.visible(session, actor)
    tree = service.build_tree(regions, service.elder_counts(session, actor))
    return render(request, "regions/tree.html", tree=tree)


def _node_page(
    request: Request,
    actor: Actor,
    session: Session,
    region: Region,
    status_code: int = 200,
    **context: Any,
) -> Response:
    counts = service.elder_counts(session, actor)
    children = [r for r in repository.visible(session, actor) if r.parent_id == region.id]
    return render(
        request,
        "regions/node.html",
        status_code=status_code,
        region=region,
        parent=session.get(Region, region.parent_id) if region.parent_id else None,
        children=children,
        counts=counts,
        child_level=service.CHILD_LEVEL.get(RegionLevel(region.level)),
        errors=context.pop("errors", {}),
        values=context.pop("values", {}),
        step=context.pop("step", ""),
        **context,
    )


@router.get("/regions/{region_id}")
def node_page(
    request: Request, actor: Manager, session: DB, region_id: Id, step: str = ""
) -> Response:
    """``step=retire`` opens the retirement's confirmation in place."""
    region = service.get_region(session, actor, region_id)
    return _node_page(request, actor, session, region, step="retire" if step == "retire" else "")


def _after(
    request: Request,
    actor: Actor,
    session: Session,
    region: Region,
    refused: DomainError | None,
    to: str,
    **context: Any,
) -> Response:
    if refused is None:
        return RedirectResponse(to, status_code=303)
    if refused.status_code in (403, 404):
        raise refused
    errors = _refused(refused)
    return _node_page(
        request, actor, session, region, refused.status_code, errors=errors, **context
    )


@router.post("/regions/{region_id}/children")
async def add_child(request: Request, actor: Manager, session: DB, region_id: Id) -> Response:
    form = await request.form()
    values = {"code": _text(form, "code"), "child_name": _text(form, "name")}
    parent = service.get_region(session, actor, region_id)
    added: list[Region] = []
    refused = await run_in_threadpool(
        run_action,
        session,
        lambda: added.append(
            service.add_child(session, actor, parent, values["code"], values["child_name"])
        ),
    )
    if refused is not None and refused.field == "name":
        refused.field = "child_name"
    return _after(request, actor, session, parent, refused, f"/regions/{region_id}", values=values)


@router.post("/regions/{region_id}/rename")
async def rename(request: Request, actor: Manager, session: DB, region_id: Id) -> Response:
    form = await request.form()
    name = _text(form, "name")
    region = service.get_region(session, actor, region_id)
    refused = await run_in_threadpool(
        run_action, session, lambda: service.rename(session, actor, region, name)
    )
    return _after(
        request, actor, session, region, refused, f"/regions/{region_id}", values={"name": name}
    )


@router.post("/regions/{region_id}/retire")
async def retire(request: Request, actor: Manager, session: DB, region_id: Id) -> Response:
    region = service.get_region(session, actor, region_id)
    back = f"/regions/{region.parent_id}" if region.parent_id else "/regions"
    refused = await run_in_threadpool(
        run_action, session, lambda: service.retire(session, actor, region)
    )
    return _after(request, actor, session, region, refused, back, step="retire")


# ---------------------------------------------------------------------------- the official list
def _upload_page(request: Request, status_code: int = 200, **context: Any) -> Response:
    return render(
        request,
        "regions/upload.html",
        status_code=status_code,
        errors=context.pop("errors", {}),
        report=context.pop("report", None),
        content=context.pop("content", ""),
        filename=context.pop("filename", ""),
    )


@router.get("/regions-upload")
def upload_page(request: Request, actor: Manager) -> Response:
    return _upload_page(request)


def _load(
    session: Session, actor: Actor, data: bytes, commit: bool
) -> tuple[service.UploadReport | None, DomainError | None]:
    reports: list[service.UploadReport] = []
    refused = run_action(
        session,
        lambda: reports.append(service.upload_divisions(session, actor, data, commit=commit)),
    )
    return (reports[0] if reports else None), refused


@router.post("/regions-upload")
async def check_upload(
    request: Request, actor: Manager, session: DB, file: Annotated[UploadFile, File()]
) -> Response:
    """The dry run: what loading the list would do; nothing is written."""
    data = await file.read(MAX_LIST_BYTES + 1)
    if len(data) > MAX_LIST_BYTES:
        errors = {"file": i18n.gettext("The list is larger than 4 MB.")}
        return _upload_page(request, 422, errors=errors)
    report, refused = await run_in_threadpool(_load, session, actor, data, False)
    if refused is not None:
        return _upload_page(request, refused.status_code, errors={"file": refused.message})
    return _upload_page(
        request,
        report=report,
        content=service.decode_list(data),
        filename=file.filename or "",
    )


@router.post("/regions-upload/commit")
async def commit_upload(
    request: Request, actor: Manager, session: DB, content: Annotated[str, Form()] = ""
) -> Response:
    """Load the list checked by the dry run (sent back as its text) through the same loader."""
    report, refused = await run_in_threadpool(_load, session, actor, content.encode("utf-8"), True)
    if refused is not None:
        return _upload_page(request, refused.status_code, errors={"file": refused.message})
    return _upload_page(request, report=report)
