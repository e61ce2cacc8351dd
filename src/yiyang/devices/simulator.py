"""Device simulator: realistic message streams for the demo district, with scripted incidents
so every kind of rule fires (an SOS press, a fall, a wanderer, a silent home, a dying battery,
water left running). ``day`` builds a whole day of traffic (replay benchmark); ``live`` yields
messages at a chosen rate for ``yiyang simulate``. Pure generation; transports live in the CLI.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.core.clock import local_zone
from yiyang.devices.models import Device, Vendor
from yiyang.registry.models import Elder


@dataclass
class Kit:
    elder_id: int
    home: tuple[float, float] | None
    devices: dict[str, tuple[str, str]] = field(default_factory=dict)  # type → (serial, vendor)
    meter_litres: float = 1000.0


def load_kits(session: Session, elders: int) -> tuple[list[Kit], dict[str, str]]:
    """The first ``elders`` elders with devices, and each vendor's signing secret."""
    rows = session.execute(
        select(
            Device.elder_id,
            Device.device_type,
            Device.serial,
            Vendor.code,
            Elder.latitude,
            Elder.longitude,
        )
        .join(Elder, Elder.id == Device.elder_id)
        .join(Vendor, Vendor.id == Device.vendor_id)
        .where(Device.status != "retired")
        .order_by(Device.elder_id)
    )
    kits: dict[int, Kit] = {}
    for r in rows:
        if r.elder_id not in kits:
            if len(kits) >= elders:
                break
            home = (r.latitude, r.longitude) if r.latitude is not None else None
            kits[r.elder_id] = Kit(r.elder_id, home)
        kits[r.elder_id].devices[r.device_type] = (r.serial, r.code)
    secrets = {
        code: secret for code, secret in session.execute(select(Vendor.code, Vendor.hmac_secret))
    }
    return list(kits.values()), secrets


_seq = itertools.count(1)


def msg(
    serial: str,
    dtype: str,
    event: str,
    at: dt.datetime,
    data: dict[str, Any] | None = None,
    battery: int | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "v": 1,
        "id": f"sim-{at.strftime('%y%m%d%H%M%S')}-{next(_seq)}",
        "device": serial,
        "type": dtype,
        "event": event,
        "ts": at.isoformat(timespec="seconds"),
        "data": data or {},
    }
    if battery is not None:
        out["battery"] = battery
    return out


def _awake(local_hour: float) -> bool:
    return 6.5 <= local_hour < 22


Out = list[dict[str, Any]]
Devices = dict[str, tuple[str, str]]  # device type → (serial, vendor)


def _every_ten_minutes(
    d: Devices, at: dt.datetime, awake: bool, rnd: random.Random, out: Out
) -> None:
    """Movement, the front door and objects used, while the elder is up."""
    if "pir_motion" in d and awake and rnd.random() < 0.85:
        out.append(
            msg(d["pir_motion"][0], "pir_motion", "motion", at, {"count": rnd.randint(1, 6)})
        )
    if "door_sensor" in d and awake and rnd.random() < 0.06:
        out.append(msg(d["door_sensor"][0], "door_sensor", "door", at, {"open": True}))
    if "contact_sensor" in d and awake and rnd.random() < 0.3:
        out.append(msg(d["contact_sensor"][0], "contact_sensor", "contact", at, {"active": True}))


def _hourly(kit: Kit, at: dt.datetime, awake: bool, rnd: random.Random, out: Out) -> None:
    """The water meter's total and the SOS button's heartbeat."""
    d = kit.devices
    if "water_meter" in d:
        kit.meter_litres += rnd.uniform(5, 25) if awake else 0.0
        total = {"total_litres": round(kit.meter_litres, 1)}
        out.append(msg(d["water_meter"][0], "water_meter", "meter", at, total))
    if "sos_button" in d:
        out.append(msg(d["sos_button"][0], "sos_button", "heartbeat", at, battery=88))


def _watch(kit: Kit, at: dt.datetime, awake: bool, rnd: random.Random, out: Out) -> None:
    """Every half hour: the watch's vitals, and its position while the elder is up."""
    serial = kit.devices["smart_watch"][0]
    vitals = {"heart_rate": rnd.randint(60, 90), "spo2": rnd.randint(95, 99)}
    out.append(msg(serial, "smart_watch", "vitals", at, vitals, battery=70))
    if awake and kit.home:
        lat, lon = kit.home
        point = {
            "lat": lat + rnd.uniform(-0.001, 0.001),
            "lon": lon + rnd.uniform(-0.001, 0.001),
            "accuracy": 15,
        }
        out.append(msg(serial, "smart_watch", "gps", at, point))


def _bed(
    d: Devices, at: dt.datetime, minute: int, awake: bool, rnd: random.Random, out: Out
) -> None:
    """Every half hour: the bed mat's vitals at night, a heartbeat every two hours by day."""
    serial = d["bed_sensor"][0]
    if not awake:
        vitals = {"heart_rate": rnd.randint(55, 75), "breathing_rate": rnd.randint(12, 18)}
        out.append(msg(serial, "bed_sensor", "vitals", at, vitals))
    elif minute % 120 == 0:
        out.append(msg(serial, "bed_sensor", "heartbeat", at))


def _measurements(d: Devices, at: dt.datetime, minute: int, rnd: random.Random, out: Out) -> None:
    """Morning and evening: blood pressure; in the morning: glucose."""
    if "bp_monitor" in d:
        bp = {
            "systolic": rnd.randint(120, 165),
            "diastolic": rnd.randint(70, 95),
            "pulse": rnd.randint(60, 90),
        }
        out.append(msg(d["bp_monitor"][0], "bp_monitor", "bp", at, bp))
    if "glucose_meter" in d and minute == 8 * 60:
        glucose = {"mmol_l": round(rnd.uniform(5.0, 9.0), 1)}
        out.append(msg(d["glucose_meter"][0], "glucose_meter", "glucose", at, glucose))


def _at_local(start: dt.datetime, local_h: float, tz: Any) -> dt.datetime:
    return start + dt.timedelta(hours=(local_h - start.astimezone(tz).hour) % 24)


def _kit_day(kit: Kit, start: dt.datetime, tz: Any, rnd: random.Random, out: Out) -> None:
    d = kit.devices
    for minute in range(0, 24 * 60, 10):
        at = start + dt.timedelta(minutes=minute, seconds=rnd.randint(0, 590))
        local = at.astimezone(tz)
        awake = _awake(local.hour + local.minute / 60)
        _every_ten_minutes(d, at, awake, rnd, out)
        if minute % 60 == 0:
            _hourly(kit, at, awake, rnd, out)
        if minute % 240 == 0 and "smoke_alarm" in d:
            out.append(msg(d["smoke_alarm"][0], "smoke_alarm", "heartbeat", at, battery=95))
        if minute % 30 == 0 and "smart_watch" in d:
            _watch(kit, at, awake, rnd, out)
        if minute % 30 == 0 and "bed_sensor" in d:
            _bed(d, at, minute, awake, rnd, out)
        if minute in (8 * 60, 19 * 60):
            _measurements(d, at, minute, rnd, out)
    if "away_button" in d:  # out shopping in the morning, back before noon
        for local_h, event in ((9.0, "away"), (11.0, "home")):
            out.append(
                msg(d["away_button"][0], "away_button", event, _at_local(start, local_h, tz))
            )
    if "bed_sensor" in d:
        for local_h, in_bed in ((6.5, False), (22.0, True)):
            at = _at_local(start, local_h, tz)
            out.append(msg(d["bed_sensor"][0], "bed_sensor", "bed", at, {"in_bed": in_bed}))


def day(kits: list[Kit], start: dt.datetime, seed: int = 1) -> list[dict[str, Any]]:
    """A day (24 h from ``start``) of ordinary traffic for every kit, in time order."""
    rnd = random.Random(seed)
    tz = local_zone()
    out: Out = []
    for kit in kits:
        _kit_day(kit, start, tz, rnd, out)
    out.sort(key=lambda m: m["ts"])
    return out


def incidents(kits: list[Kit], now: dt.datetime) -> list[tuple[float, dict[str, Any]]]:
    """Scripted incidents as (seconds from start, message): one per kind of rule."""
    out: list[tuple[float, dict[str, Any]]] = []
    with_sos = [k for k in kits if "sos_button" in k.devices]
    wanderers = [k for k in kits if "smart_watch" in k.devices and k.home]
    radars = [k for k in kits if "fall_radar" in k.devices]
    homes = [k for k in kits if "pir_motion" in k.devices]
    meters = [k for k in kits if "water_meter" in k.devices]
    if with_sos:
        s = with_sos[0].devices["sos_button"][0]
        out.append((10, msg(s, "sos_button", "sos", now + dt.timedelta(seconds=10))))
    if radars:
        s = radars[0].devices["fall_radar"][0]
        out.append(
            (25, msg(s, "fall_radar", "fall", now + dt.timedelta(seconds=25), {"confidence": 0.93}))
        )
    if wanderers:
        k = wanderers[0]
        s = k.devices["smart_watch"][0]
        lat, lon = k.home  # type: ignore[misc]
        for i in range(4):  # walking away north-east, ~300 m a step
            at = now + dt.timedelta(seconds=40 + 10 * i)
            point = {"lat": lat + 0.003 * (i + 1), "lon": lon + 0.003 * (i + 1), "accuracy": 10}
            out.append((40 + 10 * i, msg(s, "smart_watch", "gps", at, point)))
    if len(homes) > 1:
        k = homes[1]  # a silent home: last movement 13 h ago, nothing since
        s = k.devices["pir_motion"][0]
        out.append((5, msg(s, "pir_motion", "motion", now - dt.timedelta(hours=13), {"count": 1})))
    if len(with_sos) > 2:
        s = with_sos[2].devices["sos_button"][0]
        for i, level in enumerate((18, 12, 7)):
            out.append(
                (
                    60 + 20 * i,
                    msg(
                        s,
                        "sos_button",
                        "heartbeat",
                        now + dt.timedelta(seconds=60 + 20 * i),
                        battery=level,
                    ),
                )
            )
    if len(meters) > 3:
        k = meters[3]  # a tap left running: 4 h of steady flow (the meter had buffered readings)
        s = k.devices["water_meter"][0]
        for i in range(5):
            at = now - dt.timedelta(hours=4 - i)
            out.append(
                (15 + i, msg(s, "water_meter", "meter", at, {"total_litres": 5000 + 40.0 * i}))
            )
    return sorted(out, key=lambda x: x[0])


def live(kits: list[Kit], rate: float, seed: int = 1) -> Iterator[list[dict[str, Any]]]:
    """Ordinary traffic: one list of messages per second at about ``rate`` messages a second."""
    rnd = random.Random(seed)
    carry = 0.0
    while True:
        now = dt.datetime.now(dt.UTC)
        carry += rate
        n, carry = int(carry), carry - int(carry)
        batch = []
        for _ in range(n):
            kit = rnd.choice(kits)
            dtype = rnd.choice(list(kit.devices))
            serial = kit.devices[dtype][0]
            batch.append(_ordinary(kit, dtype, serial, now, rnd))
        yield batch


def _ordinary(
    kit: Kit, dtype: str, serial: str, now: dt.datetime, rnd: random.Random
) -> dict[str, Any]:
    if dtype == "pir_motion":
        return msg(serial, dtype, "motion", now, {"count": rnd.randint(1, 5)})
    if dtype == "door_sensor":
        return msg(serial, dtype, "door", now, {"open": rnd.random() < 0.5})
    if dtype == "contact_sensor":
        return msg(serial, dtype, "contact", now, {"active": rnd.random() < 0.5})
    if dtype == "away_button":
        return msg(serial, dtype, rnd.choice(("away", "home")), now)
    if dtype == "water_meter":
        kit.meter_litres += rnd.uniform(0, 3)
        return msg(serial, dtype, "meter", now, {"total_litres": round(kit.meter_litres, 1)})
    if dtype == "smart_watch":
        return msg(
            serial,
            dtype,
            "vitals",
            now,
            {"heart_rate": rnd.randint(60, 95), "spo2": rnd.randint(95, 99)},
            battery=75,
        )
    if dtype == "bp_monitor":
        return msg(
            serial,
            dtype,
            "bp",
            now,
            {"systolic": rnd.randint(115, 160), "diastolic": rnd.randint(70, 95)},
        )
    if dtype == "glucose_meter":
        return msg(serial, dtype, "glucose", now, {"mmol_l": round(rnd.uniform(5, 9), 1)})
    if dtype == "bed_sensor":
        return msg(
            serial,
            dtype,
            "vitals",
            now,
            {"heart_rate": rnd.randint(55, 80), "breathing_rate": rnd.randint(12, 20)},
        )
    return msg(serial, dtype, "heartbeat", now, battery=90)
