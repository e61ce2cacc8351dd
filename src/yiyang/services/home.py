"""The elder's and family's home page (长辈版 / family portal): what the home looks like today.

Read-only look-ups, each through the actor's scope: the community worker to call (the nearest
community worker of the elder's region with a phone on their account), the state of the home
today (last activity, devices online or not), the alert history the family may read, and the
family member's own emergency-contact row (their notification settings)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yiyang.accounts.models import User
from yiyang.alarms.models import Alert, ElderState
from yiyang.alarms.repository import readable_alerts
from yiyang.core.clock import now
from yiyang.core.errors import Forbidden, NotFound, ValidationFailed
from yiyang.core.i18n import gettext
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor
from yiyang.devices.enums import TYPE_LABELS, DeviceStatus, DeviceType
from yiyang.devices.models import Device
from yiyang.devices.service import readable as readable_devices
from yiyang.registry.models import Elder, EmergencyContact
from yiyang.registry.permissions import monitoring_allowed
from yiyang.registry.repository import get_readable

ALERT_HISTORY = 10
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# No movement for this long during the day is worth a look (the silence rules decide alarms).
QUIET_AFTER = dt.timedelta(hours=4)


@dataclass(frozen=True)
class Worker:
    name: str
    phone: str


@dataclass
class HomeToday:
    # False: the elder has not consented to health monitoring by devices (the
    # ``elder.monitored`` rule), so no activity is read or shown
    monitored: bool = True
    last_activity_at: dt.datetime | None = None
    quiet: bool = False
    devices_ok: int = 0
    devices_down: list[str] = field(default_factory=list)
    alerts: Sequence[Alert] = ()


def community_worker(session: Session, elder: Elder) -> Worker | None:
    """The community worker to call: an active community worker whose region contains the
    elder's and who has a phone on their account, the nearest region first."""
    row = session.execute(
        select(User.display_name, User.phone)
        .where(
            User.role == Role.COMMUNITY_WORKER,
            User.active,
            User.phone.is_not(None),
            User.phone != "",
            func.substr(elder.region_path, 1, func.length(User.region_path)) == User.region_path,
        )
        .order_by(func.length(User.region_path).desc(), User.id)
        .limit(1)
    ).first()
    return Worker(row[0], row[1]) if row and row[1] else None


def home_today(session: Session, actor: Actor, elder: Elder) -> HomeToday:
    """Today's state of the elder's home, as far as the actor may see it."""
    state = HomeToday(monitored=monitoring_allowed(elder))
    if state.monitored:
        last = session.scalar(
            select(ElderState.last_activity_at).where(ElderState.elder_id == elder.id)
        )
        state.last_activity_at = last
        state.quiet = last is None or now() - last > QUIET_AFTER
    if actor.can(Perm.VIEW_DEVICES):
        for device in session.scalars(readable_devices(actor).where(Device.elder_id == elder.id)):
            if device.status == DeviceStatus.RETIRED:
                continue
            if device.status == DeviceStatus.ACTIVE:
                state.devices_ok += 1
            else:
                state.devices_down.append(gettext(TYPE_LABELS[DeviceType(device.device_type)]))
    if actor.can(Perm.VIEW_ALERTS):
        state.alerts = session.scalars(
            readable_alerts(actor)
            .where(Alert.elder_id == elder.id)
            .order_by(Alert.first_at.desc())
            .limit(ALERT_HISTORY)
        ).all()
    return state


def own_contact(session: Session, actor: Actor, elder_id: int) -> EmergencyContact | None:
    """The family member's own row among the elder's emergency contacts: the one with the
    phone on their account. Only a family member has one."""
    if actor.role != Role.FAMILY:
        return None
    phone = session.scalar(select(User.phone).where(User.id == actor.user_id))
    if not phone:
        return None
    return session.scalar(
        select(EmergencyContact)
        .where(EmergencyContact.elder_id == elder_id, EmergencyContact.phone == phone)
        .order_by(EmergencyContact.priority)
        .limit(1)
    )


def set_notifications(
    session: Session, actor: Actor, elder_id: int, *, on: bool, email: str = ""
) -> EmergencyContact:
    """The family member's own notification settings, on their own row among the elder's
    emergency contacts: alerts by SMS on or off, and an e-mail address to send them to as well
    (empty: none). Audited like every edit of that row; nobody changes another contact here."""
    if get_readable(session, actor, elder_id) is None:
        raise NotFound(_("No such elder."))
    contact = own_contact(session, actor, elder_id)
    if contact is None:
        raise Forbidden(_("Your phone is not among the emergency contacts."))
    address = email.strip()
    if address and (len(address) > 255 or not EMAIL.fullmatch(address)):
        raise ValidationFailed(_("Enter an e-mail address such as name@example.com."))
    contact.receives_alerts = on
    contact.email = address or None
    session.flush()
    return contact
