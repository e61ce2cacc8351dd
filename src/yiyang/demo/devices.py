"""Demo device kits (the kind districts fund for elders living alone): each elder living alone
gets an SOS button, a motion sensor, a door sensor, a water meter and a smoke alarm; elders
with dementia a GPS watch; hypertension a blood-pressure meter; diabetes a glucose meter; high
care levels a fall radar and a bed sensor. An elder without the health-monitoring consent gets
only what needs none (``devices.enums.CONSENT_FREE_DEVICES``: the SOS button, the smoke alarm,
and a watch or fall radar where the above calls for one — their passive data is withheld),
as ``devices.service.bind`` would allow. Written in bulk; one audit row says so."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from yiyang.accounts.models import User, UserElderLink
from yiyang.core import audit
from yiyang.core.clock import now
from yiyang.devices.enums import (
    CONSENT_FREE_DEVICES,
    DEFAULT_INTERVAL,
    DeviceStatus,
    DeviceType,
)
from yiyang.devices.models import Device, DeviceBinding, Vendor
from yiyang.registry.models import Elder

VENDORS = [
    ("anxin", "安心智能科技", "demo-secret-anxin"),
    ("huilian", "慧联物联网", "demo-secret-huilian"),
]
PREFIX = {
    DeviceType.SOS_BUTTON: "SOS",
    DeviceType.SMART_WATCH: "WAT",
    DeviceType.FALL_RADAR: "RAD",
    DeviceType.SMOKE_ALARM: "SMK",
    DeviceType.GAS_ALARM: "GAS",
    DeviceType.DOOR_SENSOR: "DOR",
    DeviceType.PIR_MOTION: "PIR",
    DeviceType.WATER_METER: "WTR",
    DeviceType.BP_MONITOR: "BPM",
    DeviceType.GLUCOSE_METER: "GLU",
    DeviceType.BED_SENSOR: "BED",
}
ROOMS = {
    DeviceType.SOS_BUTTON: "卧室",
    DeviceType.PIR_MOTION: "客厅",
    DeviceType.DOOR_SENSOR: "入户门",
    DeviceType.WATER_METER: "厨房",
    DeviceType.SMOKE_ALARM: "厨房",
    DeviceType.GAS_ALARM: "厨房",
    DeviceType.FALL_RADAR: "卫生间",
    DeviceType.BED_SENSOR: "卧室",
}


def serial_for(device_type: DeviceType, elder_id: int) -> str:
    return f"{PREFIX[device_type]}{elder_id:08d}"


def family_side(session: Session) -> set[int]:
    """The elders the demo family member and the demo elder are linked to: they get the full
    kit (alone, hypertension, a fall radar and bed sensor) whatever their record says, so the
    family portal and the elder's page have devices, readings and alerts to show."""
    return set(
        session.scalars(
            select(UserElderLink.elder_id)
            .join(User, User.id == UserElderLink.user_id)
            .where(User.username.in_(("family", "elder")))
        )
    )


def kit(
    household: str,
    dementia: bool,
    conditions: list[str],
    care_level: int | None,
    monitoring: bool = True,
) -> list[DeviceType]:
    """The devices an elder gets; without the monitoring consent, the consent-free ones."""
    types = _kit(household, dementia, conditions, care_level)
    return types if monitoring else [t for t in types if t in CONSENT_FREE_DEVICES]


def _kit(
    household: str, dementia: bool, conditions: list[str], care_level: int | None
) -> list[DeviceType]:
    types: list[DeviceType] = []
    if household == "alone":
        types += [
            DeviceType.SOS_BUTTON,
            DeviceType.PIR_MOTION,
            DeviceType.DOOR_SENSOR,
            DeviceType.WATER_METER,
            DeviceType.SMOKE_ALARM,
        ]
    if dementia:
        types.append(DeviceType.SMART_WATCH)
    if household == "alone" and "高血压" in conditions:
        types.append(DeviceType.BP_MONITOR)
    if household == "alone" and "糖尿病" in conditions:
        types.append(DeviceType.GLUCOSE_METER)
    if (care_level or 0) >= 3:
        types += [DeviceType.FALL_RADAR, DeviceType.BED_SENSOR]
        if DeviceType.SOS_BUTTON not in types:
            types.append(DeviceType.SOS_BUTTON)
    return types


def install(session: Session) -> int:
    """Vendors and a device kit for every elder who has none yet; returns devices added."""
    with audit.acting_as(audit.AuditActor(None, "demo-data")):
        vendors = dict(session.execute(select(Vendor.code, Vendor.id)).all())
        for code, name, secret in VENDORS:
            if code not in vendors:
                vendor = Vendor(code=code, name=name, hmac_secret=secret)
                session.add(vendor)
                session.flush()
                vendors[code] = vendor.id
        equipped = set(session.scalars(select(Device.elder_id).where(Device.elder_id.is_not(None))))
        showcase = family_side(session)
        at = now()
        devices: list[dict] = []
        rows = session.execute(
            select(
                Elder.id,
                Elder.household,
                Elder.dementia,
                Elder.chronic_conditions,
                Elder.care_level,
                Elder.region_path,
                Elder.consent_health_monitoring,
            ).order_by(Elder.id)
        )
        for r in rows:
            if r.id in equipped:
                continue
            shown = r.id in showcase  # the demo family's elder: a full kit to show
            for t in kit(
                "alone" if shown else r.household,
                r.dementia,
                [*(r.chronic_conditions or []), "高血压"]
                if shown
                else list(r.chronic_conditions or []),
                max(r.care_level or 0, 3) if shown else r.care_level,
                bool(r.consent_health_monitoring),
            ):
                devices.append(
                    {
                        "serial": serial_for(t, r.id),
                        "device_type": t.value,
                        "vendor_id": vendors["anxin" if r.id % 3 else "huilian"],
                        "model": "YY-" + PREFIX[t],
                        "elder_id": r.id,
                        "region_path": r.region_path,
                        "room": ROOMS.get(t),
                        "installed_on": (at - dt.timedelta(days=30 + r.id % 300)).date(),
                        "report_interval_s": DEFAULT_INTERVAL[t],
                        "battery": 90 if t not in (DeviceType.WATER_METER,) else None,
                        "last_seen_at": None,
                        "status": DeviceStatus.ACTIVE.value,
                        "created_at": at,
                        "updated_at": at,
                        "version": 1,
                    }
                )
        if not devices:
            return 0
        for i in range(0, len(devices), 5000):
            session.execute(insert(Device), devices[i : i + 5000])
        ids = (
            dict(
                session.execute(
                    select(Device.serial, Device.id).where(
                        Device.serial.in_([d["serial"] for d in devices])
                    )
                ).all()
            )
            if len(devices) < 30000
            else dict(session.execute(select(Device.serial, Device.id)).all())
        )
        bindings = [
            {
                "device_id": ids[d["serial"]],
                "elder_id": d["elder_id"],
                "room": d["room"],
                "bound_at": at,
                "reason": "demo",
            }
            for d in devices
        ]
        for i in range(0, len(bindings), 5000):
            session.execute(insert(DeviceBinding), bindings[i : i + 5000])
        audit.record(
            session,
            "install_devices",
            "device",
            None,
            summary=f"{len(devices)} demo devices installed",
        )
        return int(session.scalar(select(func.count()).select_from(Device)) or 0) and len(devices)
