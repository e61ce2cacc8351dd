"""JSON API for the elder registry (thin: parse, call the service, shape the answer)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import Response

from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.errors import ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.registry import export, imports, service
from yiyang.registry.schemas import (
    ConsentCreate,
    ConsentsRead,
    ElderCreate,
    ElderFilters,
    ElderListItem,
    ElderRead,
    ElderUpdate,
    ImportReport,
    Page,
    StatusChange,
    SynonymCreate,
    SynonymRead,
)
from yiyang.web.security import content_disposition

router = APIRouter(prefix="/api/elders", tags=["elders"])
MAX_UPLOAD = 200 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Viewer = Annotated[Actor, Depends(require(Perm.VIEW_ELDERS))]
Editor = Annotated[Actor, Depends(require(Perm.EDIT_ELDERS))]
Importer = Annotated[Actor, Depends(require(Perm.IMPORT_ELDERS))]


@router.get("", response_model=Page[ElderListItem], summary="Search and filter elders")
def list_elders(
    actor: Viewer, session: DB, f: Annotated[ElderFilters, Query()]
) -> Page[ElderListItem]:
    return service.list_elders(session, actor, f)


@router.get("/export.xlsx", summary="Export the filtered list to XLSX (masked for the role)")
def export_elders(
    actor: Annotated[Actor, Depends(require(Perm.EXPORT_ELDERS))],
    session: DB,
    f: Annotated[ElderFilters, Query()],
) -> Response:
    data, _count = export.export_xlsx(session, actor, f)
    return Response(
        data, media_type=XLSX, headers={"Content-Disposition": content_disposition("elders.xlsx")}
    )


@router.post("", response_model=ElderRead, status_code=201, summary="Register an elder")
def create_elder(actor: Editor, session: DB, data: ElderCreate) -> ElderRead:
    elder = service.create_elder(session, actor, data)
    return service.read_elder(session, actor, elder.id)


# ---------------------------------------------------------------------------- import
async def read_upload(file: UploadFile) -> bytes:
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise ValidationFailed(_("The file is larger than 200 MB."), field="file")
    if not data:
        raise ValidationFailed(_("The file is empty."), field="file")
    return data


def report(batch: Any, outcome: imports.Outcome) -> ImportReport:
    return ImportReport.model_validate(
        {
            "batch_id": batch.id,
            "filename": batch.filename,
            "committed": batch.committed_at is not None,
            "total_rows": outcome.total,
            "valid_rows": outcome.valid,
            "created": outcome.created,
            "updated": outcome.updated,
            "unchanged": outcome.unchanged,
            "rejected_count": len(outcome.rejected),
            "rejected": outcome.rejected[: imports.REPORT_LIMIT],
            "unknown_headers": outcome.unknown_headers,
            "header_row": outcome.layout.get("header_row"),
            "mapping": imports.column_mapping(outcome.layout),
        }
    )


@router.post("/imports", summary="Upload a roll (XLSX/CSV). dry_run=true validates only")
async def upload_import(
    actor: Importer, session: DB, file: Annotated[UploadFile, File()], dry_run: bool = True
) -> ImportReport:
    from starlette.concurrency import run_in_threadpool

    data = await read_upload(file)
    name = file.filename or "upload.csv"
    fn = imports.dry_run if dry_run else imports.import_now
    batch, outcome = await run_in_threadpool(fn, session, actor, name, data)
    return report(batch, outcome)


@router.post("/imports/{batch_id}/commit", summary="Commit a dry-run import")
def commit_import(actor: Importer, session: DB, batch_id: Id) -> ImportReport:
    batch, outcome = imports.commit(session, actor, batch_id)
    return report(batch, outcome)


@router.get("/imports/{batch_id}/rejected.xlsx", summary="Download the rejected rows with reasons")
def rejected_rows(actor: Importer, session: DB, batch_id: Id) -> Response:
    from yiyang.registry.spreadsheets import rejected_workbook

    batch = imports.access_batch(session, actor, batch_id)
    headers = (batch.layout or {}).get("headers")
    return Response(
        rejected_workbook(batch.rejected, headers),
        media_type=XLSX,
        headers={"Content-Disposition": content_disposition(f"rejected-{batch.id}.xlsx")},
    )


@router.get("/import-template.xlsx", summary="A blank roll with the expected columns")
def import_template(actor: Importer) -> Response:
    from yiyang.registry.spreadsheets import template_workbook

    return Response(
        template_workbook(),
        media_type=XLSX,
        headers={"Content-Disposition": content_disposition("elders-template.xlsx")},
    )


# ---------------------------------------------------------------------------- synonyms
@router.get(
    "/synonyms",
    response_model=list[SynonymRead],
    summary="The district's own wordings for household, gender, category and relation",
)
def list_synonyms(actor: Importer, session: DB) -> list[SynonymRead]:
    return [SynonymRead.model_validate(s) for s in service.list_synonyms(session, actor)]


@router.post(
    "/synonyms",
    response_model=SynonymRead,
    status_code=201,
    summary="Add a wording for the caller's area (laid over the shipped defaults on import)",
)
def add_synonym(actor: Importer, session: DB, data: SynonymCreate) -> SynonymRead:
    return SynonymRead.model_validate(service.add_synonym(session, actor, data))


@router.delete("/synonyms/{synonym_id}", status_code=204, summary="Remove a wording")
def remove_synonym(actor: Importer, session: DB, synonym_id: Id) -> Response:
    service.remove_synonym(session, actor, synonym_id)
    return Response(status_code=204)


# ---------------------------------------------------------------------------- one elder
# (after the fixed paths above, so /{elder_id} does not shadow them)
@router.get("/{elder_id}", response_model=ElderRead, summary="One elder, masked for the role")
def get_elder(actor: Viewer, session: DB, elder_id: Id) -> ElderRead:
    return service.read_elder(session, actor, elder_id)


@router.patch("/{elder_id}", response_model=ElderRead, summary="Update an elder (optimistic lock)")
def update_elder(actor: Editor, session: DB, elder_id: Id, data: ElderUpdate) -> ElderRead:
    service.update_elder(session, actor, elder_id, data)
    return service.read_elder(session, actor, elder_id)


@router.post("/{elder_id}/status", response_model=ElderRead, summary="Move out, deceased, back")
def change_status(actor: Editor, session: DB, elder_id: Id, data: StatusChange) -> ElderRead:
    service.change_status(session, actor, elder_id, data)
    return service.read_elder(session, actor, elder_id)


@router.get(
    "/{elder_id}/consents",
    response_model=ConsentsRead,
    summary="The elder's consents: each in force or not, and every record (PIPL art. 29)",
)
def get_consents(actor: Viewer, session: DB, elder_id: Id) -> ConsentsRead:
    return service.read_consents(session, actor, elder_id)


@router.post(
    "/{elder_id}/consents",
    response_model=ConsentsRead,
    status_code=201,
    summary="Record a consent given or withdrawn (staff who edit the elder; the elder withdraws)",
)
def record_consent(actor: Viewer, session: DB, elder_id: Id, data: ConsentCreate) -> ConsentsRead:
    return service.record_consent(session, actor, elder_id, data)
