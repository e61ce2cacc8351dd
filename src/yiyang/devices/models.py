"""Devices, their bindings to elders, vendors, and what they report.

Telemetry tables (``device_message``, ``vital_reading``, ``gps_point``, ``meter_reading``,
``activity_hourly``) are append-mostly time series pruned by the retention setting; they are
data, not edits, so they are not written to the audit trail. Registry rows (vendor, device,
binding) are ``Audited``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from yiyang.core.audit import Audited
from yiyang.core.clock import now
from yiyang.core.db import Base, BigId
from yiyang.devices.enums import DeviceProtocol, DeviceStatus, DeviceType


def _secret_mask(_value: Any) -> str:
    return "********"


class Vendor(Audited, Base):
    """A device maker or vendor cloud: its code names its MQTT topic and signs its HTTP posts."""

    __tablename__ = "vendor"
    __audit_mask__: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "hmac_secret": _secret_mask,
        "mqtt_password_hash": _secret_mask,
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    # Shared secret for HMAC-SHA256 request signatures (an HMAC needs the key itself).
    hmac_secret: Mapped[str] = mapped_column(String(128))
    # Mosquitto's hash of the vendor gateway's MQTT password (devices/credentials.py)
    mqtt_password_hash: Mapped[str | None] = mapped_column(String(160))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class Device(Audited, Base):
    __tablename__ = "device"
    # Telemetry bookkeeping is updated by the pipeline in bulk; it is not an edit.
    __audit_exclude__ = frozenset({"updated_at", "version", "last_seen_at", "battery"})
    __audit_mask__: ClassVar[dict[str, Callable[[Any], Any]]] = {"mqtt_password_hash": _secret_mask}
    __table_args__ = (
        Index("ix_device_elder", "elder_id"),
        Index(
            "ix_device_region_path",
            "region_path",
            postgresql_ops={"region_path": "text_pattern_ops"},
        ),
        # No index on status or last_seen_at: the pipeline rewrites last_seen_at all day, and
        # with neither indexed PostgreSQL updates the row in place (HOT) without touching any
        # index; fillfactor 80 leaves the room for it (0007). The sweeper reads the table whole.
        {"postgresql_with": {"fillfactor": 80}},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)  # serial number or IMEI
    device_type: Mapped[DeviceType] = mapped_column(String(24))
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendor.id"))
    model: Mapped[str | None] = mapped_column(String(64))
    # How it reaches us: only an ``mqtt`` device gets a password of its own (0021)
    protocol: Mapped[DeviceProtocol] = mapped_column(
        String(16), default=DeviceProtocol.MQTT, server_default=DeviceProtocol.MQTT.value
    )
    elder_id: Mapped[int | None] = mapped_column(ForeignKey("elder.id"))
    # Where the device belongs: the bound elder's community, or the stock-holding region.
    region_path: Mapped[str] = mapped_column(String(255))
    room: Mapped[str | None] = mapped_column(String(32))
    installed_on: Mapped[dt.date | None] = mapped_column(Date)
    report_interval_s: Mapped[int] = mapped_column(Integer)
    battery: Mapped[int | None] = mapped_column(SmallInteger)
    last_seen_at: Mapped[dt.datetime | None]
    status: Mapped[DeviceStatus] = mapped_column(String(16), default=DeviceStatus.ACTIVE)
    notes: Mapped[str | None] = mapped_column(Text)
    # Mosquitto's hash of the device's MQTT password (username = serial; devices/credentials.py)
    mqtt_password_hash: Mapped[str | None] = mapped_column(String(160))
    # When the password above was issued: a later look says so, never shows it (0021)
    mqtt_password_issued_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)
    version: Mapped[int] = mapped_column(Integer, default=1)


class AlarmAccount(Audited, Base):
    """A DC-09 / Contact ID account: how an alarm panel names itself to the receiver. It belongs
    to one ``alarm_panel`` device, which carries the elder binding and, as its reporting
    interval, the line supervision interval."""

    __tablename__ = "alarm_account"
    __audit_mask__: ClassVar[dict[str, Callable[[Any], Any]]] = {"aes_key": _secret_mask}

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"), unique=True)
    account: Mapped[str] = mapped_column(String(16), unique=True)  # 3-16 hex digits, upper case
    # AES key as programmed in the panel (16, 24 or 32 characters → AES-128/192/256) when it
    # encrypts (DC-09 "*" messages); the characters themselves are the key bytes
    aes_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)


class DeviceBinding(Audited, Base):
    """Which elder a device served, from when to when (the binding history)."""

    __tablename__ = "device_binding"
    __table_args__ = (Index("ix_device_binding_device", "device_id", "bound_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    elder_id: Mapped[int] = mapped_column(ForeignKey("elder.id"), index=True)
    room: Mapped[str | None] = mapped_column(String(32))
    bound_at: Mapped[dt.datetime] = mapped_column(default=now)
    bound_by: Mapped[int | None] = mapped_column(Integer)
    unbound_at: Mapped[dt.datetime | None]
    unbound_by: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(255))


class DeviceMessage(Base):
    """Every accepted message once: (device, message id) is unique, so a QoS-1 redelivery or a
    vendor's retry is recognised and processed once. Also the device timeline."""

    __tablename__ = "device_message"
    __table_args__ = (
        UniqueConstraint("device_id", "msg_id", name="uq_device_message_device_msg"),
        Index("ix_device_message_elder_at", "elder_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device_id: Mapped[int] = mapped_column(Integer)
    elder_id: Mapped[int] = mapped_column(Integer)
    msg_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    battery: Mapped[int | None] = mapped_column(SmallInteger)


class VitalReading(Base):
    __tablename__ = "vital_reading"
    __table_args__ = (Index("ix_vital_reading_elder_metric_at", "elder_id", "metric", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    elder_id: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime]
    metric: Mapped[str] = mapped_column(String(16))  # heart_rate, spo2, bp_systolic, glucose…
    value: Mapped[float] = mapped_column(Float)


class GpsPoint(Base):
    __tablename__ = "gps_point"
    __table_args__ = (Index("ix_gps_point_elder_at", "elder_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    elder_id: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime]
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)


class MeterReading(Base):
    __tablename__ = "meter_reading"
    __table_args__ = (Index("ix_meter_reading_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    elder_id: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime]
    total_litres: Mapped[float] = mapped_column(Float)


class ActivityHourly(Base):
    """Motion and door events per elder per hour: the routine baseline is learned from this."""

    __tablename__ = "activity_hourly"

    elder_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)  # UTC hour start
    motion: Mapped[int] = mapped_column(Integer, default=0)
    door: Mapped[int] = mapped_column(Integer, default=0)


class DeadLetter(Base):
    """A message that could not be accepted, with the reason, kept for inspection."""

    __tablename__ = "dead_letter"
    __table_args__ = (
        Index("ix_dead_letter_received", "received_at"),
        Index("ix_dead_letter_code", "code", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(default=now)
    transport: Mapped[str] = mapped_column(String(8))  # mqtt | http | replay
    source: Mapped[str] = mapped_column(String(255))  # topic, or vendor code
    code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    serial: Mapped[str | None] = mapped_column(String(64))
    msg_id: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)  # first 64 KiB, undecodable bytes escaped


class IngestNonce(Base):
    """Signatures of accepted HTTP ingest requests inside the replay window: a replay is refused."""

    __tablename__ = "ingest_nonce"

    vendor_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
