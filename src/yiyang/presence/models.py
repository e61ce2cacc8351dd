"""An absence: the elder away from home, from ``starts_at`` (now, or planned) until they are
back (``ended_at``), maybe with the time they said they would be back (``until``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yiyang.core.audit import Audited
from yiyang.core.clock import now
from yiyang.core.db import Base


class Absence(Audited, Base):
    __tablename__ = "absence"
    __table_args__ = (
        Index("ix_absence_elder_starts", "elder_id", "starts_at"),
        Index("ix_absence_starts", "starts_at"),
        Index("ix_absence_ended", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elder.id"))
    region_path: Mapped[str] = mapped_column(String(255))  # the elder's, for region scoping
    starts_at: Mapped[dt.datetime]
    until: Mapped[dt.datetime | None]  # when the elder said they would be back
    ended_at: Mapped[dt.datetime | None]  # back (said in the app)
    cancelled_at: Mapped[dt.datetime | None]  # a planned absence called off before it began
    note: Mapped[str] = mapped_column(String(200), default="")
    recorded_by: Mapped[int | None] = mapped_column(Integer)  # the user (app_user.id)
    recorded_as: Mapped[str] = mapped_column(String(8))  # elder | family | staff
    ended_by: Mapped[int | None] = mapped_column(Integer)
    ended_as: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
