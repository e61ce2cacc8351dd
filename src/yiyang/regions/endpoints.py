from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from yiyang.core.auth import current_actor
from yiyang.core.db import get_session
from yiyang.core.scoping import Actor
from yiyang.regions import repository

router = APIRouter(prefix="/api/regions", tags=["regions"])


class RegionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    level: str
    path: str


@router.get("", response_model=list[RegionRead], summary="Regions the caller administers")
def list_regions(
    actor: Annotated[Actor, Depends(current_actor)],
    session: Annotated[Session, Depends(get_session, scope="function")],
) -> list[RegionRead]:
    return [RegionRead.model_validate(r) for r in repository.visible(session, actor)]
