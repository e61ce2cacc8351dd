from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from yiyang.core.audit import Audited
from yiyang.core.db import Base


class RegionLevel(enum.StrEnum):
    DISTRICT = "district"  # 区/县
    STREET = "street"  # 街道/镇
    COMMUNITY = "community"  # 居委/村委


class Region(Audited, Base):
    """A node of the region tree. ``path`` is the materialised path of codes, e.g.
    ``/310104000000/310104003000/310104003001/``: a subtree is one prefix filter."""

    __tablename__ = "region"
    __table_args__ = (Index("ix_region_path", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[RegionLevel] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    path: Mapped[str] = mapped_column(String(255))

    def audit_region_path(self) -> str | None:
        return self.path
