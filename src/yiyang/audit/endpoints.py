from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from yiyang.audit import repository
from yiyang.audit.schemas import AuditEventRead, AuditFilters
from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("", response_model=list[AuditEventRead], summary="The audit trail, filtered and scoped")
def list_events(
    actor: Annotated[Actor, Depends(require(Perm.VIEW_AUDIT))],
    session: DB,
    f: Annotated[AuditFilters, Query()],
) -> list[AuditEventRead]:
    return [AuditEventRead.model_validate(e) for e in repository.search(session, actor, f)]
