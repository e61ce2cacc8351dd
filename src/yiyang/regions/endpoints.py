from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from yiyang.core.auth import current_actor
from yiyang.core.db import DB
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
    session: DB,
) -> list[RegionRead]:
    return [RegionRead.model_validate(r) for r in repository.visible(session, actor)]
