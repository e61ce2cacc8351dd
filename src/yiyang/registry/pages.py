"""HTMX pages for the registry. Thin: parse the form, call the service, render."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.errors import DomainError, field_errors
from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.regions import repository as regions
from yiyang.registry import consents, imports, service
from yiyang.registry.endpoints import read_upload
from yiyang.registry.enums import (
    BloodType,
    Category,
    ElderStatus,
    Household,
    Mobility,
    label,
    status_reason,
)
from yiyang.registry.importer import HEADERS, field_label
from yiyang.registry.permissions import can_edit_elder, shown_details
from yiyang.registry.schemas import (
    ConsentCreate,
    ElderCreate,
    ElderFilters,
    ElderUpdate,
    StatusChange,
)
from yiyang.web.nav import NavEntry, needs, register_nav
from yiyang.web.templating import register_globals, render

register_nav(
    NavEntry(
        "elders",
        "/elders",
        N_("Elders"),
        needs(Perm.VIEW_ELDERS, unless=(Perm.OWN_SERVICES,)),  # their own page instead
        10,
    ),
    NavEntry("import", "/elders-import", N_("Import"), needs(Perm.IMPORT_ELDERS), 20),
)
router = APIRouter(include_in_schema=False)
register_globals(
    label=label,
    status_reason=status_reason,
    # the ``elder.details`` mask, for pages of other domains that show an elder's details
    shown_details=shown_details,
    consent_text=consents.text_of,
    CONSENT_PURPOSES=consents.PURPOSE_LABELS,
    CONSENT_ACTIONS=consents.ACTION_LABELS,
    CONSENT_METHODS=consents.METHOD_LABELS,
    CONSENT_VERSION=consents.CURRENT_VERSION,
)
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_ELDERS))]
Editor = Annotated[Actor, Depends(require(Perm.EDIT_ELDERS))]
Importer = Annotated[Actor, Depends(require(Perm.IMPORT_ELDERS))]
_LIST_SPLIT = re.compile(r"[\n、,，;；]+")

CHOICES: dict[str, Any] = {
    "households": list(Household),
    "categories": list(Category),
    "mobilities": list(Mobility),
    "statuses": list(ElderStatus),
    "blood_types": list(BloodType),
}


# The list's filters by the labels of their inputs, for the messages about a bad value.
FILTER_LABELS = {
    "q": N_("Search"),
    "region_code": N_("Region"),
    "category": N_("Category"),
    "household": N_("Household"),
    "age_min": N_("Age from"),
    "age_max": N_("Age up to"),
    "status": N_("Status"),
    "sort": N_("Sort"),
    "page": N_("Page"),
    "page_size": N_("Rows per page"),
}


def _filters_from_query(request: Request) -> tuple[ElderFilters, dict[str, str]]:
    params = request.query_params
    raw: dict[str, Any] = {k: v for k, v in params.items() if v != "" and k != "category"}
    raw.pop("lang", None)
    categories = [c for c in params.getlist("category") if c]
    if categories:
        raw["category"] = categories
    errors: dict[str, str] = {}
    try:
        return ElderFilters(**raw), errors
    except ValidationError as exc:
        for e in field_errors(exc.errors()):
            key = e["field"].split(".")[0] or "q"
            errors[_(FILTER_LABELS.get(key, key))] = e["message"]  # shown as "label: message"
        return ElderFilters(), errors


@router.get("/elders")
def elder_list(request: Request, actor: Viewer, session: DB) -> Response:
    filters, errors = _filters_from_query(request)
    page = service.list_elders(session, actor, filters)
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "lang")]

    def page_url(number: int) -> str:
        return "/elders?" + urlencode([*params, ("page", str(number))])

    context = {
        "page": page,
        "filters": filters,
        "errors": errors,
        "query": urlencode(params),
        "page_url": page_url,
        "regions": regions.visible(session, actor),
        **CHOICES,
    }
    if request.headers.get("hx-target") == "results":
        return render(request, "elders/_results.html", **context)
    return render(request, "elders/list.html", **context)


@router.get("/elders/choices")
def elder_choices(request: Request, actor: Viewer, session: DB, q: str = "") -> Response:
    """The elders matching what was typed, as radio choices named ``elder_id`` (an HTMX
    fragment for forms that pick an elder: the order form)."""
    return render(
        request,
        "elders/_choices.html",
        q=q[:64],
        choices=service.elder_choices(session, actor, q),
        chosen="",
    )


@router.get("/elders/new")
def elder_new(request: Request, actor: Editor, session: DB) -> Response:
    return render(
        request,
        "elders/form.html",
        elder=None,
        values={},
        errors={},
        regions=regions.visible(session, actor),
        **CHOICES,
    )


def _split_lines(value: str | None) -> list[str]:
    return [p.strip() for p in _LIST_SPLIT.split(value or "") if p.strip()]


def _form_payload(form: Any) -> dict[str, Any]:
    """Form fields → the JSON shape the API schemas take."""
    payload: dict[str, Any] = {}
    text_fields = (
        "name",
        "id_number",
        "gender",
        "birth_date",
        "mobile_phone",
        "home_phone",
        "address",
        "region_code",
        "household",
        "care_level",
        "latitude",
        "longitude",
        "mobility",
        "blood_type",
        "medical_notes",
        "key_holder",
        "access_notes",
        "family_doctor_name",
        "family_doctor_phone",
        "family_doctor_org",
        "consent_date",
        "version",
    )
    for key in text_fields:
        value = (form.get(key) or "").strip()
        if value:
            payload[key] = value
    for key in ("chronic_conditions", "allergies", "medications"):
        payload[key] = _split_lines(form.get(key))
    payload["categories"] = form.getlist("categories")
    for key in (
        "dementia",
        "consent_data_processing",
        "consent_health_monitoring",
        "consent_share_with_family",
    ):
        payload[key] = form.get(key) == "on"
    contacts = []
    for i in range(1, 4):
        name = (form.get(f"contact{i}_name") or "").strip()
        phone = (form.get(f"contact{i}_phone") or "").strip()
        if name or phone:
            contacts.append(
                {
                    "name": name,
                    "relation": (form.get(f"contact{i}_relation") or "").strip(),
                    "phone": phone,
                    "receives_alerts": form.get(f"contact{i}_alerts") == "on",
                }
            )
    payload["contacts"] = contacts
    return payload


def _field_errors(exc: ValidationError) -> dict[str, str]:
    """Form errors keyed by input name; contact rows by "contactN"."""
    errors: dict[str, str] = {}
    for e in field_errors(exc.errors()):
        parts = e["field"].split(".")
        key = (
            f"contact{int(parts[1]) + 1}"
            if parts[0] == "contacts" and len(parts) > 1
            else parts[0] or "form"
        )
        errors.setdefault(key, e["message"])
    return errors


@router.post("/elders/new")
async def elder_create(request: Request, actor: Editor, session: DB) -> Response:
    form = await request.form()
    payload = _form_payload(form)
    errors: dict[str, str] = {}
    try:
        data = ElderCreate(**payload)
        elder = await run_in_threadpool(service.create_elder, session, actor, data)
        return RedirectResponse(f"/elders/{elder.id}", status_code=303)
    except ValidationError as exc:
        errors = _field_errors(exc)
    except DomainError as exc:
        errors = {exc.field or "form": exc.message}
    return render(
        request,
        "elders/form.html",
        status_code=422,
        elder=None,
        values=payload,
        errors=errors,
        regions=regions.visible(session, actor),
        **CHOICES,
    )


@router.get("/elders/{elder_id}")
def elder_detail(request: Request, actor: Viewer, session: DB, elder_id: Id) -> Response:
    return _detail_page(request, actor, session, elder_id)


def _detail_page(
    request: Request,
    actor: Actor,
    session: Session,
    elder_id: int,
    status_code: int = 200,
    **context: Any,
) -> Response:
    elder = service.read_elder(session, actor, elder_id)
    can_edit = can_edit_elder(actor, elder.region_path)
    return render(
        request,
        "elders/detail.html",
        status_code=status_code,
        elder=elder,
        can_edit=can_edit,
        # staff who edit the elder record consents; the elder withdraws their own
        can_record_consent=can_edit or actor.role is Role.ELDER,
        consent_methods=list(consents.Method),
        **CHOICES,
        **context,
    )


@router.post("/elders/{elder_id}/consents")
async def elder_consent(request: Request, actor: Viewer, session: DB, elder_id: Id) -> Response:
    """The consent form on the elder's page: one consent given or withdrawn."""
    form = await request.form()
    fields = {k: str(v).strip() for k, v in form.items() if isinstance(v, str) and v.strip()}
    try:
        data = ConsentCreate(
            purpose=fields.get("purpose"),
            action=fields.get("action"),
            text_version=fields.get("text_version", consents.CURRENT_VERSION),
            signed_on=fields.get("signed_on"),
            method=fields.get("method", consents.Method.PAPER),
            note=fields.get("note"),
        )
        await run_in_threadpool(service.record_consent, session, actor, elder_id, data)
    except ValidationError as exc:
        return _detail_page(
            request, actor, session, elder_id, 422, consent_errors=_field_errors(exc)
        )
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return _detail_page(
            request,
            actor,
            session,
            elder_id,
            exc.status_code,
            consent_errors={exc.field or "form": exc.message},
        )
    return RedirectResponse(f"/elders/{elder_id}#consent", status_code=303)


def _values_from_read(elder: Any) -> dict[str, Any]:
    values = elder.model_dump()
    if elder.medical:
        values.update(elder.medical.model_dump())
    return values


@router.get("/elders/{elder_id}/edit")
def elder_edit(request: Request, actor: Editor, session: DB, elder_id: Id) -> Response:
    elder = service.read_elder(session, actor, elder_id)
    return render(
        request,
        "elders/form.html",
        elder=elder,
        values=_values_from_read(elder),
        errors={},
        regions=regions.visible(session, actor),
        **CHOICES,
    )


@router.post("/elders/{elder_id}/edit")
async def elder_update(request: Request, actor: Editor, session: DB, elder_id: Id) -> Response:
    form = await request.form()
    payload = _form_payload(form)
    for key in ("id_number", "gender", "birth_date"):  # identity fields are not edited here
        payload.pop(key, None)
    for key in (*consents.FLAG.values(), "consent_date"):  # recorded one by one on the page
        payload.pop(key, None)
    errors: dict[str, str] = {}
    try:
        data = ElderUpdate(**payload)
        await run_in_threadpool(service.update_elder, session, actor, elder_id, data)
        return RedirectResponse(f"/elders/{elder_id}", status_code=303)
    except ValidationError as exc:
        errors = _field_errors(exc)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        errors = {exc.field or "form": exc.message}
    elder = service.read_elder(session, actor, elder_id)
    return render(
        request,
        "elders/form.html",
        status_code=422,
        elder=elder,
        values={**_values_from_read(elder), **payload},
        errors=errors,
        regions=regions.visible(session, actor),
        **CHOICES,
    )


@router.post("/elders/{elder_id}/status")
async def elder_status(request: Request, actor: Editor, session: DB, elder_id: Id) -> Response:
    form = await request.form()
    try:
        data = StatusChange(
            status=form.get("status"),
            effective_date=form.get("effective_date"),
            reason=form.get("reason") or None,
        )
        await run_in_threadpool(service.change_status, session, actor, elder_id, data)
    except ValidationError as exc:
        elder = service.read_elder(session, actor, elder_id)
        return render(
            request,
            "elders/detail.html",
            status_code=422,
            elder=elder,
            can_edit=True,
            status_errors=_field_errors(exc),
            **CHOICES,
        )
    return RedirectResponse(f"/elders/{elder_id}", status_code=303)


# ---------------------------------------------------------------------------- import
# Fields a clerk can map a file column to, in the order of the select (labels via gettext).
MAPPABLE_FIELDS = list(dict.fromkeys(HEADERS.values()))


def _import_page(
    request: Request, session: Session, actor: Actor, status_code: int = 200, **context: Any
) -> Response:
    context.setdefault("report", None)
    report = context["report"]
    if "mapping" not in context:
        context["mapping"] = imports.column_mapping(report.layout) if report is not None else []
    context["field_choices"] = [(f, field_label(f)) for f in MAPPABLE_FIELDS]
    context["field_names"] = dict(context["field_choices"])
    if request.headers.get("hx-target") == "report" and context.get("batch") is not None:
        return render(request, "elders/_import_report.html", status_code=status_code, **context)
    return render(
        request,
        "elders/import.html",
        status_code=status_code,
        batches=imports.recent_batches(session, actor),
        **context,
    )


@router.get("/elders-import")
def import_page(request: Request, actor: Importer, session: DB) -> Response:
    return _import_page(request, session, actor)


@router.post("/elders-import")
async def import_upload(
    request: Request, actor: Importer, session: DB, file: Annotated[UploadFile, File()]
) -> Response:
    try:
        data = await read_upload(file)
        batch, outcome = await run_in_threadpool(
            imports.dry_run, session, actor, file.filename or "upload.csv", data
        )
    except DomainError as exc:
        return _import_page(request, session, actor, exc.status_code, error=exc.message)
    return _import_page(request, session, actor, report=outcome, batch=batch)


@router.post("/elders-import/{batch_id}/mapping")
async def import_remap(request: Request, actor: Importer, session: DB, batch_id: Id) -> Response:
    """Check the uploaded file again with the clerk's column mapping (``field_<column>``)."""
    form = await request.form()
    fields: dict[int, str | None] = {}
    for name, value in form.multi_items():
        if name.startswith("field_") and name[6:].isdigit():
            chosen = str(value)
            fields[int(name[6:])] = chosen if chosen in MAPPABLE_FIELDS else None
    try:
        batch, outcome = await run_in_threadpool(imports.remap, session, actor, batch_id, fields)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        # The mapping form again, as the clerk set it, with the reason: they fix it and retry.
        batch = imports.access_batch(session, actor, batch_id)
        mapping = [
            {**m, "field": fields.get(m["column"])}
            for m in imports.column_mapping(batch.layout or {})
        ]
        return _import_page(
            request,
            session,
            actor,
            exc.status_code,
            error=exc.message,
            batch=batch,
            mapping=mapping,
        )
    return _import_page(request, session, actor, report=outcome, batch=batch)


@router.post("/elders-import/{batch_id}/commit")
async def import_commit(request: Request, actor: Importer, session: DB, batch_id: Id) -> Response:
    try:
        batch, outcome = await run_in_threadpool(imports.commit, session, actor, batch_id)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return _import_page(request, session, actor, exc.status_code, error=exc.message)
    return _import_page(request, session, actor, report=outcome, batch=batch)
