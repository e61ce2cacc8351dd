"""Building the region tree (demo data, CLI import of a code list)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from yiyang.core.errors import ValidationFailed
from yiyang.regions.models import Region, RegionLevel


def add_region(
    session: Session, code: str, name: str, level: RegionLevel, parent: Region | None
) -> Region:
    if len(code) != 12 or not code.isdigit():
        raise ValidationFailed(f"region code must be 12 digits: {code!r}", field="code")
    path = (parent.path if parent else "/") + code + "/"
    region = Region(
        code=code, name=name, level=level, parent_id=parent.id if parent else None, path=path
    )
    session.add(region)
    session.flush()
    return region
