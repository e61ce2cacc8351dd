"""The device registry: register, bind to an elder (with history), unbind, change, retire.
Scope: a device is visible where its region path is (its elder's community, or the stock-holding
region); person-scoped roles see the devices of elders they may read."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from yiyang.core import audit
from yiyang.core.clock import now
from yiyang.core.errors import Conflict, NotFound, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor, elder_row_scope, region_scope_path
from yiyang.devices import credentials, rules
from yiyang.devices.enums import (
    DEFAULT_INTERVAL,
    MONITORING_DEVICES,
    PASSIVE_EVENTS,
    TYPE_LABELS,
    DeviceProtocol,
    DeviceStatus,
    DeviceType,
)
from yiyang.devices.models import (
    AlarmAccount,
    DeadLetter,
    Device,
    DeviceBinding,
    DeviceMessage,
    Vendor,
)
from yiyang.devices.schemas import AlarmAccountSet, BindingCreate, DeviceCreate, DeviceUpdate
from yiyang.registry import repository as elders
from yiyang.registry import service as registry
from yiyang.registry.models import Elder
from yiyang.registry.permissions import monitoring_allowed
from yiyang.registry.schemas import ElderFilters, ElderListItem


def device_scope(actor: Actor) -> ColumnElement[bool]:
    return elder_row_scope(actor, Perm.VIEW_DEVICES, Device.region_path, Device.elder_id)


def readable(actor: Actor) -> Select[Device]:
    return select(Device).where(device_scope(actor))


def search(
    session: Session,
    actor: Actor,
    *,
    device_type: str | None = None,
    status: str | None = None,
    elder_id: int | None = None,
    serial: str | None = None,
    bound: bool | None = None,
    offline: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[Device]:
    """``bound``: bound to an elder (True) or in stock (False); ``offline``: not reporting —
    marked offline by the sweeper, or bound and never heard from (retired devices excluded)."""
    query = readable(actor)
    if device_type:
        query = query.where(Device.device_type == device_type)
    if status:
        query = query.where(Device.status == status)
    if elder_id is not None:
        query = query.where(Device.elder_id == elder_id)
    if serial:
        query = query.where(Device.serial == serial.strip())
    if bound is not None:
        query = query.where(Device.elder_id.is_not(None) if bound else Device.elder_id.is_(None))
    if offline:
        query = query.where(
            or_(
                Device.status == DeviceStatus.OFFLINE,
                (Device.status == DeviceStatus.ACTIVE)
                & Device.elder_id.is_not(None)
                & Device.last_seen_at.is_(None),
            )
        )
    return list(session.scalars(query.order_by(Device.id).limit(limit).offset(offset)))


def elder_names(session: Session, actor: Actor, elder_ids: set[int]) -> dict[int, str]:
    """Names of the bound elders the actor may read (one query), for the device pages."""
    if not elder_ids:
        return {}
    rows = session.execute(
        elders.readable(actor)
        .with_only_columns(Elder.id, Elder.name)
        .where(Elder.id.in_(sorted(elder_ids)))
    )
    return {row.id: row.name for row in rows}


def find_elders(
    session: Session, actor: Actor, device: Device, q: str
) -> list[tuple[ElderListItem, bool]]:
    """Elders to bind ``device`` to, as typed: a name's beginning, the last four of an ID or a
    phone (the registry's one search box, so masks and consent apply as there), at most 8, each
    with whether binding would pass the consent check."""
    _manageable(actor, device)
    q = q.strip()
    if not q or "\x00" in q:  # no elder's name holds a NUL: nothing to find (not a crash)
        return []
    rows, _total, _capped = elders.search(session, actor, ElderFilters(q=q[:64], page_size=8))
    names = elders.region_names(session, {e.region_id for e in rows})
    kind = DeviceType(device.device_type)
    return [
        (
            registry.to_list_item(actor, e, names),
            kind not in MONITORING_DEVICES or monitoring_allowed(e),
        )
        for e in rows
    ]


def dead_letters(
    session: Session, *, code: str | None = None, serial: str | None = None, limit: int = 100
) -> list[DeadLetter]:
    """Rejected messages, newest first. Raw payloads may hold health readings: every look is
    recorded in the audit log."""
    query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if code:
        query = query.where(DeadLetter.code == code)
    if serial:
        query = query.where(DeadLetter.serial == serial)
    rows = list(session.scalars(query))
    audit.record(
        session,
        "read_dead_letters",
        "dead_letter",
        None,
        summary=f"{len(rows)} rows, code={code or '*'}",
    )
    return rows


def get_device(session: Session, actor: Actor, device_id: int) -> Device:
    device = session.scalar(readable(actor).where(Device.id == device_id))
    if device is None:
        raise NotFound(_("Device not found."))
    return device


def _elder_for(session: Session, actor: Actor, elder_id: int) -> Elder:
    elder = elders.get_readable(session, actor, elder_id)
    if elder is None:
        raise ValidationFailed(_("No such elder in your area."), field="elder_id")
    return elder


def can_manage(actor: Actor, device: Device) -> bool:
    """Device managers of the device's area (its elder's community, or the stock region)."""
    prefix = region_scope_path(actor)
    return (
        actor.can(Perm.MANAGE_DEVICES)
        and prefix is not None
        and device.region_path.startswith(prefix)
    )


def _manageable(actor: Actor, device: Device) -> None:
    if not can_manage(actor, device):
        raise NotFound(_("Device not found."))


def _raise(refusal: rules.Refusal | None) -> None:
    if refusal is not None:
        kind = Conflict if refusal.conflict else ValidationFailed
        raise kind(refusal.message, field=refusal.field)


def register(session: Session, actor: Actor, data: DeviceCreate) -> Device:
    _raise(rules.check_registration(data.device_type, data.protocol, data.vendor_code))
    if session.scalar(select(Device.id).where(Device.serial == data.serial)):
        raise Conflict(
            _("A device with serial {serial} is already registered.").format(serial=data.serial),
            field="serial",
        )
    vendor_id = None
    if data.vendor_code:
        vendor_id = session.scalar(select(Vendor.id).where(Vendor.code == data.vendor_code))
        if vendor_id is None:
            raise ValidationFailed(_("Unknown vendor."), field="vendor_code")
    device = Device(
        serial=data.serial,
        device_type=data.device_type,
        protocol=data.protocol,
        vendor_id=vendor_id,
        model=data.model,
        region_path=actor.region_path,
        room=data.room,
        installed_on=data.installed_on,
        report_interval_s=data.report_interval_s or DEFAULT_INTERVAL[data.device_type],
        status=DeviceStatus.ACTIVE,
        notes=data.notes,
    )
    session.add(device)
    session.flush()
    if data.elder_id is not None:
        bind(session, actor, device, BindingCreate(elder_id=data.elder_id, room=data.room))
    return device


def bind(session: Session, actor: Actor, device: Device, data: BindingCreate) -> Device:
    _manageable(actor, device)
    if device.status == DeviceStatus.RETIRED:  # a str when read from the database
        raise Conflict(_("A retired device cannot be bound."), field="status")
    elder = _elder_for(session, actor, data.elder_id)
    check_monitoring_consent(device, elder)
    if device.elder_id is not None:
        unbind(session, actor, device, reason=_("moved to another elder"))
    at = now()
    device.elder_id, device.region_path = elder.id, elder.region_path
    device.room = data.room or device.room
    if device.installed_on is None:
        device.installed_on = at.date()
    session.add(
        DeviceBinding(
            device_id=device.id,
            elder_id=elder.id,
            room=device.room,
            bound_at=at,
            bound_by=actor.user_id,
            reason=data.reason,
        )
    )
    session.flush()
    return device


def check_monitoring_consent(device: Device, elder: Elder) -> None:
    """A device that monitors the person (``MONITORING_DEVICES``) is bound only to an elder
    whose health-monitoring consent is in force; SOS buttons, smoke and gas alarms and alarm
    panels always may be (PIPL art. 29, docs/devices.md "Consent")."""
    kind = DeviceType(device.device_type)
    if kind in MONITORING_DEVICES and not monitoring_allowed(elder):
        raise ValidationFailed(
            _(
                "%(device)s monitors the elder's health or activity: record the elder's consent "
                "to health monitoring by devices first. SOS buttons, fall radars, smart watches, "
                "smoke and gas alarms and alarm panels need no such consent.",
                device=_(TYPE_LABELS[kind]),
            ),
            field="elder_id",
            code="monitoring_consent_required",
        )


def unbind(session: Session, actor: Actor, device: Device, *, reason: str | None = None) -> Device:
    _manageable(actor, device)
    open_binding = session.scalar(
        select(DeviceBinding).where(
            DeviceBinding.device_id == device.id, DeviceBinding.unbound_at.is_(None)
        )
    )
    if open_binding is not None:
        open_binding.unbound_at, open_binding.unbound_by = now(), actor.user_id
        open_binding.reason = reason or open_binding.reason
    device.elder_id = None
    session.flush()
    return device


def update_device(session: Session, actor: Actor, device: Device, data: DeviceUpdate) -> Device:
    _manageable(actor, device)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("status") == DeviceStatus.RETIRED and device.status != DeviceStatus.RETIRED:
        changes.pop("status")
        retire(session, actor, device, reason=_("retired"))
    for key, value in changes.items():
        setattr(device, key, value)
    session.flush()
    return device


def retire(session: Session, actor: Actor, device: Device, *, reason: str) -> Device:
    """Take a device out of use for good: its binding ends with ``reason``, the gateway and the
    DC-09 receiver refuse its messages (``device_retired`` dead letters, from the next refresh
    of their device directory), its MQTT password is dropped (the next ``yiyang mqtt-auth``
    leaves it out of the broker's password file) and the sweeper no longer watches it.

    Its open alerts stay open: an alarm it raised (an SOS, a fall) was a call from the elder and
    is answered and closed by an operator with an outcome; a device-offline alert is closed by
    the operator as "device fault". Retiring a device says nothing about the elder."""
    _manageable(actor, device)
    _raise(rules.check_retire(DeviceStatus(device.status)))
    if device.elder_id is not None:
        unbind(session, actor, device, reason=reason)
    device.status = DeviceStatus.RETIRED
    device.mqtt_password_hash = None  # audited, masked
    device.mqtt_password_issued_at = None
    device.notes = "\n".join(
        filter(None, [device.notes, _("Retired: {reason}").format(reason=reason)])
    )
    session.flush()
    return device


def detail(session: Session, actor: Actor, device: Device) -> dict[str, Any]:
    bindings = session.scalars(
        select(DeviceBinding)
        .where(DeviceBinding.device_id == device.id)
        .order_by(DeviceBinding.bound_at.desc())
    ).all()
    query = (
        select(DeviceMessage.at, DeviceMessage.event, DeviceMessage.data, DeviceMessage.battery)
        .where(
            DeviceMessage.device_id == device.id, DeviceMessage.elder_id == (device.elder_id or -1)
        )
        .order_by(DeviceMessage.at.desc())
        .limit(50)
    )
    # The consent rules (registry.permissions): without the health-monitoring consent no
    # reading of passive monitoring is shown, to anyone; a family member without the consent
    # to share sees what happened and when, not the readings or positions.
    elder_ids = {device.elder_id} if device.elder_id is not None else set()
    if not elders.monitored_ids(session, actor, elder_ids):
        query = query.where(DeviceMessage.event.not_in(sorted(PASSIVE_EVENTS)))
    shared = bool(elders.shared_ids(session, actor, elder_ids))
    recent = session.execute(query).all()
    return {
        "bindings": bindings,
        "recent": [
            {"at": r.at, "event": r.event, "data": r.data if shared else {}, "battery": r.battery}
            for r in recent
        ],
    }


def set_alarm_account(
    session: Session, actor: Actor, device: Device, data: AlarmAccountSet
) -> dict[str, Any]:
    """Give an alarm panel its DC-09 / Contact ID account, AES key and supervision interval.
    The receiver picks the change up within its refresh interval."""
    _manageable(actor, device)
    if device.device_type != DeviceType.ALARM_PANEL:
        raise ValidationFailed(
            _("Only an alarm panel has a receiver account."), field="device_type"
        )
    account = data.account.upper()
    taken = session.scalar(
        select(AlarmAccount.device_id).where(
            AlarmAccount.account == account, AlarmAccount.device_id != device.id
        )
    )
    if taken is not None:
        raise Conflict(
            _("Account {account} belongs to another panel.").format(account=account),
            field="account",
        )
    row = session.scalar(select(AlarmAccount).where(AlarmAccount.device_id == device.id))
    if row is None:
        row = AlarmAccount(device_id=device.id, account=account, aes_key=data.aes_key)
        session.add(row)
    else:
        row.account = account
        if data.aes_key is not None:
            row.aes_key = data.aes_key
    device.report_interval_s = data.supervision_s
    session.flush()
    return alarm_account_view(row, device)


def alarm_account_view(row: AlarmAccount, device: Device) -> dict[str, Any]:
    return {
        "device_id": device.id,
        "account": row.account,
        "encrypted": bool(row.aes_key),
        "supervision_s": device.report_interval_s,
    }


def issue_mqtt_password(session: Session, actor: Actor, device: Device) -> dict[str, str]:
    """A new MQTT password for the device (replacing any earlier one): returned this once, kept
    only as Mosquitto's hash. It takes effect when ``yiyang mqtt-auth`` next writes the broker's
    password file."""
    _manageable(actor, device)
    _raise(rules.check_mqtt_password(DeviceStatus(device.status), DeviceProtocol(device.protocol)))
    password = credentials.new_password()
    device.mqtt_password_hash = credentials.mosquitto_hash(password)  # audited, masked
    device.mqtt_password_issued_at = now()
    session.flush()
    return {"username": device.serial, "password": password}


def broker_users(session: Session) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """What the broker's password file lists (``yiyang mqtt-auth``): every device with an issued
    MQTT password that is not retired (username = serial) and every active vendor gateway with
    one (username = vendor code), each with Mosquitto's hash."""
    devices = session.execute(
        select(Device.serial, Device.mqtt_password_hash).where(
            Device.mqtt_password_hash.is_not(None), Device.status != DeviceStatus.RETIRED
        )
    ).all()
    vendors = session.execute(
        select(Vendor.code, Vendor.mqtt_password_hash).where(
            Vendor.mqtt_password_hash.is_not(None), Vendor.active.is_(True)
        )
    ).all()
    return (
        [(r.serial, r.mqtt_password_hash) for r in devices],
        [(r.code, r.mqtt_password_hash) for r in vendors],
    )
