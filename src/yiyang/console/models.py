"""What operators do with an alert: calls logged, responders dispatched (with an arrival
link), 120 requested; the responders on call per region; hospitals and health centres."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yiyang.core.audit import Audited
from yiyang.core.clock import now
from yiyang.core.db import Base


class Responder(Audited, Base):
    """Someone the centre can send to an elder's door: a community worker, a volunteer, a
    caregiver. Reached by SMS (through the carrier adapter) or e-mail."""

    __tablename__ = "responder"
    __table_args__ = (Index("ix_responder_region", "region_path", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # community_worker | volunteer | caregiver
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(255))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    region_path: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)

    def audit_region_path(self) -> str | None:
        return self.region_path


class Dispatch(Audited, Base):
    """A person sent to the elder. The message carries a one-time link (only its hash is kept)
    on which they confirm arrival from a phone."""

    __tablename__ = "dispatch"
    __audit_exclude__ = frozenset({"token_hash"})
    __table_args__ = (Index("ix_dispatch_alert", "alert_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"))
    elder_id: Mapped[int] = mapped_column(Integer)
    region_path: Mapped[str] = mapped_column(String(255))
    responder_id: Mapped[int | None] = mapped_column(ForeignKey("responder.id"))
    contact_id: Mapped[int | None] = mapped_column(Integer)  # a family member sent instead
    kind: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))  # sms | email
    address: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="sent")  # sent | arrived | cancelled
    sent_at: Mapped[dt.datetime] = mapped_column(default=now)
    sent_by: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[dt.datetime]
    arrived_at: Mapped[dt.datetime | None]
    arrived_lat: Mapped[float | None] = mapped_column(Float)
    arrived_lon: Mapped[float | None] = mapped_column(Float)
    arrival_note: Mapped[str | None] = mapped_column(Text)

    def audit_elder_id(self) -> int | None:
        return self.elder_id

    def audit_region_path(self) -> str | None:
        return self.region_path


class CallLog(Audited, Base):
    """A call made while handling an alert: to whom, answered or not, what came of it."""

    __tablename__ = "call_log"
    __table_args__ = (Index("ix_call_log_alert", "alert_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"))
    elder_id: Mapped[int] = mapped_column(Integer)
    region_path: Mapped[str] = mapped_column(String(255))
    callee: Mapped[str] = mapped_column(String(16))  # elder | contact | doctor | responder | other
    callee_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    answered: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=now)
    by_id: Mapped[int | None] = mapped_column(Integer)
    by_name: Mapped[str] = mapped_column(String(64))

    def audit_elder_id(self) -> int | None:
        return self.elder_id

    def audit_region_path(self) -> str | None:
        return self.region_path


class EmergencyRequest(Audited, Base):
    """A request to the 120 emergency dispatch system with the brief as sent (the system itself
    sits behind an adapter: a signed webhook through the notification outbox)."""

    __tablename__ = "emergency_request"
    __table_args__ = (Index("ix_emergency_request_alert", "alert_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"))
    elder_id: Mapped[int] = mapped_column(Integer)
    region_path: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[dt.datetime] = mapped_column(default=now)
    requested_by: Mapped[int | None] = mapped_column(Integer)
    requested_by_name: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    brief: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def audit_elder_id(self) -> int | None:
        return self.elder_id

    def audit_region_path(self) -> str | None:
        return self.region_path


class Facility(Base):
    """Hospitals with an emergency department and community health centres, for "nearest"."""

    __tablename__ = "facility"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # hospital | chc
    name: Mapped[str] = mapped_column(String(128), unique=True)
    address: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(20))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)  # has an A&E department
