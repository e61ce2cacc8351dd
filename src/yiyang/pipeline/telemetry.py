"""Storing what devices report: the message log (deduplicated), typed time series, device
last-seen, hourly activity counts, and retention. Called by the rule worker inside its
transaction (retention: by the sweep); bulk statements only (one statement per table per
batch)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg.errors import UniqueViolation
from psycopg.types.json import Json
from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yiyang.core.bulk import copy_upsert, insert_rows
from yiyang.core.db import among, upsert
from yiyang.devices.enums import DeviceStatus
from yiyang.devices.models import (
    ActivityHourly,
    DeadLetter,
    Device,
    DeviceMessage,
    GpsPoint,
    IngestNonce,
    MeterReading,
    VitalReading,
)
from yiyang.pipeline.messages import DeviceEvent

SMALL_BATCH = 16


@dataclass(slots=True, frozen=True)
class Seen:
    """A device heard from at ``received`` (Unix seconds), when no message says so: the worker
    corrects an "offline" notice with it."""

    device: int
    received: float
    battery: int | None = None


Heard = DeviceEvent | Seen  # what says when a device was last heard from


def ts(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _binary(session: Session, sql: str, *arrays: list[Any]) -> list[tuple[Any, ...]]:
    """PostgreSQL: one statement with array parameters sent in binary (psycopg's text format
    quotes every element in Python); returns its rows, if any."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor(binary=True) as cur:
        cur.execute(sql, arrays)
        return cur.fetchall() if cur.description else []


def store_messages(session: Session, items: list[DeviceEvent]) -> list[DeviceEvent]:
    """Write the message log; returns the items seen for the first time (redeliveries of a
    message id already stored for that device are dropped here, once and for all)."""
    unique: dict[tuple[int, str], DeviceEvent] = {}
    for item in items:
        unique.setdefault((item.device, item.id), item)
    if not unique:
        return []
    rows = [
        {
            "device_id": i.device,
            "elder_id": i.elder,
            "msg_id": i.id,
            "event": i.event,
            "at": i.at_time,
            "received_at": ts(i.received),
            "data": i.data,
            "battery": i.battery,
        }
        for i in unique.values()
    ]
    table: Table = DeviceMessage.__table__  # type: ignore[assignment]
    if session.get_bind().dialect.name == "postgresql":
        conn = session.connection()
        if len(rows) <= SMALL_BATCH:
            # an alarm in its own lane, or a trickle: one round trip
            inserted = _binary(
                session,
                "INSERT INTO device_message"
                " (device_id, elder_id, msg_id, event, at, received_at, data, battery)"
                " SELECT * FROM unnest(%s::int[], %s::int[], %s::text[], %s::text[],"
                " %s::timestamptz[], %s::timestamptz[], %s::json[], %s::int2[])"
                " ON CONFLICT (device_id, msg_id) DO NOTHING RETURNING device_id, msg_id",
                [r["device_id"] for r in rows],
                [r["elder_id"] for r in rows],
                [r["msg_id"] for r in rows],
                [r["event"] for r in rows],
                [r["at"] for r in rows],
                [r["received_at"] for r in rows],
                [Json(r["data"]) for r in rows],
                [r["battery"] for r in rows],
            )
            fresh = set(inserted)
            return [i for key, i in unique.items() if key in fresh]
        # The pipeline's hottest write. Nearly every message is new, so COPY the batch straight
        # in; a redelivery among them makes the unique index refuse the whole COPY, and only
        # then does the batch go through the slower de-duplicating path.
        try:
            with conn.begin_nested():
                insert_rows(conn, table, rows, binary=True)
            return list(unique.values())
        except (IntegrityError, UniqueViolation):
            found = copy_upsert(
                conn,
                table,
                rows,
                ("device_id", "msg_id"),
                returning=("device_id", "msg_id"),
                binary=True,
            )
            fresh = {(r.device_id, r.msg_id) for r in found}
    else:
        stmt = (
            upsert(session, DeviceMessage)
            .on_conflict_do_nothing(index_elements=["device_id", "msg_id"])
            .returning(table.c.device_id, table.c.msg_id)
        )
        fresh = {(r.device_id, r.msg_id) for r in session.execute(stmt, rows)}
    return [i for key, i in unique.items() if key in fresh]


def store_readings(session: Session, items: Iterable[DeviceEvent]) -> None:
    vitals: list[dict[str, Any]] = []
    gps: list[dict[str, Any]] = []
    meter: list[dict[str, Any]] = []
    for i in items:
        ev, data = i.event, i.data
        base = {"elder_id": i.elder, "device_id": i.device, "at": i.at_time}
        if ev == "vitals":
            vitals.extend({**base, "metric": k, "value": v} for k, v in data.items())
        elif ev == "bp":
            vitals.append({**base, "metric": "bp_systolic", "value": data["systolic"]})
            vitals.append({**base, "metric": "bp_diastolic", "value": data["diastolic"]})
            if "pulse" in data:
                vitals.append({**base, "metric": "heart_rate", "value": data["pulse"]})
        elif ev == "glucose":
            vitals.append({**base, "metric": "glucose", "value": data["mmol_l"]})
        elif ev == "steps":
            vitals.append({**base, "metric": "steps", "value": data["steps"]})
        elif ev == "gps":
            gps.append(
                {**base, "lat": data["lat"], "lon": data["lon"], "accuracy_m": data.get("accuracy")}
            )
        elif ev == "meter":
            meter.append({**base, "total_litres": data["total_litres"]})
    for model, rows in ((VitalReading, vitals), (GpsPoint, gps), (MeterReading, meter)):
        if rows:
            insert_rows(session.connection(), model.__table__, rows, binary=True)  # type: ignore[arg-type]


class LastSeen:
    """When each device was last heard from, kept by the worker that owns its elder, so that
    ``device.last_seen_at`` is written once per ``every_s`` seconds per device rather than on
    every message (a watch reporting every few seconds would otherwise rewrite its device row —
    and every index on it — each time). Pure bookkeeping, no I/O.

    The stored value lags the truth by at most ``every_s``; the worker corrects an "offline"
    notice with what it remembers (see ``latest``), and a device it has not written since it
    started, or whose battery changed, is always written. Call ``written`` only after the
    transaction that wrote the rows has committed."""

    def __init__(self, every_s: float = 30.0) -> None:
        self.every_s = every_s
        self._written: dict[int, tuple[float, int | None]] = {}  # device → (rx, battery)
        self._latest: dict[int, float] = {}

    def due(self, items: Iterable[Heard]) -> list[Heard]:
        """The newest item per device whose row needs writing now."""
        newest: dict[int, Heard] = {}
        for i in items:
            seen = newest.get(i.device)
            if seen is None or i.received >= seen.received:
                newest[i.device] = i
        out = []
        for device, item in newest.items():
            if item.received > self._latest.get(device, 0.0):
                self._latest[device] = item.received
            hit = self._written.get(device)
            if (
                hit is None
                or item.received - hit[0] >= self.every_s
                or (item.battery is not None and item.battery != hit[1])
            ):
                out.append(item)
        return out

    def written(self, items: Iterable[Heard]) -> None:
        for i in items:
            self._written[i.device] = (i.received, i.battery)

    def latest(self, device_id: int) -> float | None:
        """The newest receive time this worker has seen for the device (epoch seconds)."""
        return self._latest.get(device_id)

    def forget(self, device_id: int) -> None:
        """The device was marked offline: write its next message at once (that write also
        notices it is back)."""
        self._written.pop(device_id, None)


def touch_devices(session: Session, latest: list[Heard]) -> list[int]:
    """Write last seen and battery for the given newest item per device; returns devices that
    were offline and are back."""
    if not latest:
        return []
    table: Table = Device.__table__  # type: ignore[assignment]
    if session.get_bind().dialect.name == "postgresql":
        # one statement: update, flip offline → active, and say which ones were offline
        rows = _binary(
            session,
            "UPDATE device d SET last_seen_at = v.seen, battery = coalesce(v.bat, d.battery),"
            " status = CASE WHEN d.status = 'offline' THEN 'active' ELSE d.status END"
            " FROM (SELECT u.id, to_timestamp(u.seen) AS seen, u.bat, x.status AS was"
            "       FROM unnest(%s::int[], %s::float8[], %s::int[]) AS u(id, seen, bat)"
            "       JOIN device x ON x.id = u.id) AS v"
            " WHERE d.id = v.id RETURNING d.id, v.was",
            [i.device for i in latest],
            [float(i.received) for i in latest],
            [i.battery for i in latest],
        )
        return [device for device, was in rows if was == DeviceStatus.OFFLINE]
    session.execute(
        update(table).where(table.c.id == bindparam("did")).values(last_seen_at=bindparam("seen")),
        [{"did": i.device, "seen": ts(i.received)} for i in latest],
    )
    with_battery = [{"did": i.device, "bat": i.battery} for i in latest if i.battery is not None]
    if with_battery:
        session.execute(
            update(table).where(table.c.id == bindparam("did")).values(battery=bindparam("bat")),
            with_battery,
        )
    back = session.scalars(
        update(Device)
        .where(among(Device.id, [i.device for i in latest]), Device.status == DeviceStatus.OFFLINE)
        .values(status=DeviceStatus.ACTIVE)
        .returning(Device.id)
        .execution_options(synchronize_session=False)
    ).all()
    return list(back)


def add_activity(session: Session, counts: Counter[tuple[int, dt.datetime, str]]) -> None:
    """Add motion/door counts per (elder, UTC hour)."""
    if not counts:
        return
    merged: dict[tuple[int, dt.datetime], dict[str, int]] = {}
    for (elder, hour, kind), n in counts.items():
        row = merged.setdefault((elder, hour), {"motion": 0, "door": 0})
        row[kind] += n
    if session.get_bind().dialect.name == "postgresql":
        _binary(
            session,
            "INSERT INTO activity_hourly (elder_id, hour, motion, door)"
            " SELECT * FROM unnest(%s::int[], %s::timestamptz[], %s::int[], %s::int[])"
            " ON CONFLICT (elder_id, hour) DO UPDATE SET"
            " motion = activity_hourly.motion + EXCLUDED.motion,"
            " door = activity_hourly.door + EXCLUDED.door",
            [e for e, _ in merged],
            [h for _, h in merged],
            [c["motion"] for c in merged.values()],
            [c["door"] for c in merged.values()],
        )
        return
    rows = [{"elder_id": e, "hour": h, **c} for (e, h), c in merged.items()]
    stmt = upsert(session, ActivityHourly)
    table = ActivityHourly.__table__
    stmt = stmt.on_conflict_do_update(
        index_elements=["elder_id", "hour"],
        set_={
            "motion": table.c.motion + stmt.excluded.motion,
            "door": table.c.door + stmt.excluded.door,
        },
    )
    session.execute(stmt, rows)


def hour_of(at: dt.datetime) -> dt.datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def motion_since(
    session: Session, elder_ids: list[int], since: dt.datetime, until: dt.datetime
) -> dict[int, int]:
    rows = session.execute(
        select(ActivityHourly.elder_id, ActivityHourly.motion).where(
            ActivityHourly.elder_id.in_(elder_ids),
            ActivityHourly.hour >= since,
            ActivityHourly.hour < until,
        )
    )
    out: dict[int, int] = dict.fromkeys(elder_ids, 0)
    for elder, motion in rows:
        out[elder] += motion
    return out


def prune(session: Session, now: dt.datetime, retention_days: int) -> dict[str, int]:
    """Delete telemetry older than the retention period. Alerts and their trails stay."""
    cutoff = now - dt.timedelta(days=retention_days)
    counts = {}
    for model, column in (
        (DeviceMessage, DeviceMessage.at),
        (VitalReading, VitalReading.at),
        (GpsPoint, GpsPoint.at),
        (MeterReading, MeterReading.at),
        (ActivityHourly, ActivityHourly.hour),
        (DeadLetter, DeadLetter.received_at),
    ):
        result = session.execute(delete(model).where(column < cutoff))
        counts[model.__tablename__] = result.rowcount or 0  # type: ignore[attr-defined]
    session.execute(delete(IngestNonce).where(IngestNonce.at < now - dt.timedelta(hours=1)))
    return counts
