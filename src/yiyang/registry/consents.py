"""Consent (PIPL art. 14, 15 and 29): three separate consents, each given or withdrawn on its
own, with the text version the elder was shown, who recorded it and when.

- ``data_processing`` — the registry may hold and use the elder's personal information for care
  services, emergency help and subsidies. The other two rest on it: neither can be given
  without it, and withdrawing it withdraws them too.
- ``health_monitoring`` — the *separate* consent for sensitive information: devices at home
  that observe the elder (vitals, activity, bed, water, location). Without it a monitoring
  device cannot be bound (``devices.service.bind``), the rule worker runs no passive rule for
  the elder (``alarms.engine``), and no reading is shown; SOS, fall, smoke and gas alarms are
  never affected.
- ``share_with_family`` — family members linked to the elder see the medical profile, phones,
  the address beyond the community, coordinates and access notes. Without it they see the
  name, today's state and the services (``registry.permissions``, the ``elder.details`` rules).

Each change is a new ``ConsentRecord`` (append-only, audited); the elder's ``consent_*`` columns
hold the state in force and are set in the same flush, here and nowhere else. Staff who may edit
the elder record consents; the elder may withdraw their own at any time (art. 15).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.core.clock import today_local
from yiyang.core.errors import Conflict, Forbidden, ValidationFailed
from yiyang.core.i18n import N_, get_locale
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Role
from yiyang.core.scoping import Actor
from yiyang.registry.models import ConsentRecord, Elder
from yiyang.registry.permissions import can_edit_elder


class Purpose(enum.StrEnum):
    DATA_PROCESSING = "data_processing"
    HEALTH_MONITORING = "health_monitoring"
    SHARE_WITH_FAMILY = "share_with_family"


class Action(enum.StrEnum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"


class Method(enum.StrEnum):
    """How the elder said so."""

    PAPER = "paper"  # a signed form, kept by the community
    IN_PERSON = "in_person"  # said to staff in person, no form
    PHONE = "phone"  # said on the phone (the 12349 line)
    APP = "app"  # the elder's own page or API
    IMPORT = "import"  # carried over from an earlier system (migration, demo data)


# The elder's column holding each consent in force.
FLAG: dict[Purpose, str] = {
    Purpose.DATA_PROCESSING: "consent_data_processing",
    Purpose.HEALTH_MONITORING: "consent_health_monitoring",
    Purpose.SHARE_WITH_FAMILY: "consent_share_with_family",
}
# The consents that rest on data processing.
DEPENDS_ON_PROCESSING = (Purpose.HEALTH_MONITORING, Purpose.SHARE_WITH_FAMILY)

PURPOSE_LABELS: dict[str, str] = {
    Purpose.DATA_PROCESSING: N_("Personal information processing"),
    Purpose.HEALTH_MONITORING: N_("Health monitoring by devices"),
    Purpose.SHARE_WITH_FAMILY: N_("Sharing with family"),
}
ACTION_LABELS: dict[str, str] = {
    Action.GIVEN: N_("given"),
    Action.WITHDRAWN: N_("withdrawn"),
}
METHOD_LABELS: dict[str, str] = {
    Method.PAPER: N_("signed form"),
    Method.IN_PERSON: N_("in person"),
    Method.PHONE: N_("by phone"),
    Method.APP: N_("on the elder's own page"),
    Method.IMPORT: N_("carried over"),
}

LEGACY = "legacy"  # flags set before texts were versioned (migration 0013)
CURRENT_VERSION = "2026-01"
# The consent texts, by version: what the elder was shown. A new wording is a new version
# (never edit one an elder may have agreed to); records name the version.
TEXTS: dict[str, dict[Purpose, dict[str, str]]] = {
    "2026-01": {
        Purpose.DATA_PROCESSING: {
            "zh_CN": (
                "本人同意本区居家社区养老服务平台收集、保存和使用本人的姓名、身份证号、联系电话、"
                "住址、家庭情况和健康状况等个人信息，仅用于提供养老服务、紧急救助和发放政府补贴。"
                "本人可随时撤回本同意；撤回后健康监测和向家属共享一并停止。"
            ),
            "en": (
                "I agree that the district's home and community care platform collects, keeps "
                "and uses my name, ID number, phone numbers, address, household and health "
                "information, only to provide care services, emergency help and government "
                "subsidies. I may withdraw this consent at any time; health monitoring and "
                "sharing with my family then stop as well."
            ),
        },
        Purpose.HEALTH_MONITORING: {
            "zh_CN": (
                "本人单独同意在家中安装智能设备（手表、床垫、人体感应、门磁、水表、血压计、血糖仪等），"
                "持续采集心率、血压、血糖、活动、起居、用水和位置等健康与行为数据，用于发现异常并提醒"
                "社区和家属。撤回后平台立即停止上述监测，也不再显示这些数据；一键呼叫、跌倒、烟雾和"
                "燃气报警不受影响。"
            ),
            "en": (
                "I separately agree that devices in my home (watch, bed sensor, motion and door "
                "sensors, water meter, blood-pressure and glucose meters) continuously collect my "
                "heart rate, blood pressure, glucose, activity, sleep, water use and location, to "
                "detect anything unusual and alert my community and family. If I withdraw, this "
                "monitoring and its display stop at once; SOS, fall, smoke and gas alarms are not "
                "affected."
            ),
        },
        Purpose.SHARE_WITH_FAMILY: {
            "zh_CN": (
                "本人单独同意平台向已与本人绑定的家属展示本人的健康档案、联系电话、详细住址、位置和"
                "入户信息（钥匙保管人、门禁说明）。未同意或撤回后，家属只能看到本人的姓名、当日状态"
                "和服务情况。"
            ),
            "en": (
                "I separately agree that family members linked to me may see my medical profile, "
                "phone numbers, full address, location and home-access notes (key holder, entry "
                "instructions). Without this consent they see only my name, today's state and my "
                "services."
            ),
        },
    },
}


def text_of(version: str, purpose: Purpose | str) -> str | None:
    """The consent text of a version in the current locale (Chinese when there is no other)."""
    texts = TEXTS.get(version, {}).get(Purpose(purpose))
    if not texts:
        return None
    return texts.get(get_locale()) or texts["zh_CN"]


@dataclass(frozen=True)
class Change:
    """One consent to record: what the elder said, about which text, how and on which day."""

    purpose: Purpose
    action: Action
    text_version: str = CURRENT_VERSION
    signed_on: dt.date | None = None  # today when not given
    method: Method = Method.PAPER
    note: str | None = None


def in_force(elder: Elder) -> dict[Purpose, bool]:
    """The consents in force (the elder's ``consent_*`` columns)."""
    return {p: bool(getattr(elder, FLAG[p])) for p in Purpose}


def plan(current: dict[Purpose, bool], change: Change) -> list[tuple[Purpose, Action]]:
    """The records a change makes (pure): the change itself, and for a withdrawal of data
    processing the withdrawal of what rests on it. Refused: giving monitoring or sharing
    without data processing in force, withdrawing what is not in force, an unknown text."""
    if change.action is Action.GIVEN:
        if change.text_version not in TEXTS:
            raise ValidationFailed(
                _("Unknown consent text version %(version)s.", version=change.text_version),
                field="text_version",
            )
        if change.purpose in DEPENDS_ON_PROCESSING and not current[Purpose.DATA_PROCESSING]:
            raise ValidationFailed(
                _(
                    "Record the consent to personal information processing first: "
                    "this consent rests on it."
                ),
                field="purpose",
            )
        return [(change.purpose, Action.GIVEN)]
    if not current[change.purpose]:
        raise Conflict(_("This consent is not in force."), field="purpose")
    out = [(change.purpose, Action.WITHDRAWN)]
    if change.purpose is Purpose.DATA_PROCESSING:
        out += [(p, Action.WITHDRAWN) for p in DEPENDS_ON_PROCESSING if current[p]]
    return out


def check_may_record(actor: Actor, elder: Elder, change: Change) -> None:
    """Staff who may edit the elder record any consent; the elder withdraws their own."""
    if can_edit_elder(actor, elder.region_path):
        return
    if actor.role is Role.ELDER and change.action is Action.WITHDRAWN:
        return  # the elder is linked (the caller read the elder through the actor's scope)
    raise Forbidden(_("Your role may not do this."))


def record(session: Session, actor: Actor, elder: Elder, change: Change) -> list[ConsentRecord]:
    """Record a consent given or withdrawn and set the state in force, in one flush (audited:
    both the records and the elder's columns). ``elder`` was read through the actor's scope."""
    check_may_record(actor, elder, change)
    signed_on = change.signed_on or today_local()
    if signed_on > today_local():
        raise ValidationFailed(_("The date cannot be in the future."), field="signed_on")
    rows = []
    for purpose, action in plan(in_force(elder), change):
        derived = purpose is not change.purpose
        rows.append(
            ConsentRecord(
                elder_id=elder.id,
                region_path=elder.region_path,
                purpose=purpose.value,
                action=action.value,
                text_version=change.text_version,
                signed_on=signed_on,
                method=change.method.value,
                note=(
                    _("withdrawn with the consent to personal information processing")
                    if derived
                    else change.note
                ),
                recorded_by=actor.user_id,
                recorded_by_name=actor.display_name[:64],
            )
        )
        setattr(elder, FLAG[purpose], action is Action.GIVEN)
    elder.consent_date = signed_on
    session.add_all(rows)
    session.flush()
    return rows


def check_initial(given: Sequence[Purpose]) -> None:
    """Refuse registration consents that rest on a data-processing consent not given (checked
    before anything is written)."""
    current = dict.fromkeys(Purpose, False)
    for purpose in sorted(set(given), key=list(Purpose).index):
        plan(current, Change(purpose, Action.GIVEN))
        current[purpose] = True


def record_initial(
    session: Session, actor: Actor, elder: Elder, given: Sequence[Purpose], signed_on: dt.date
) -> list[ConsentRecord]:
    """The consents given at registration (the registration form), data processing first."""
    out: list[ConsentRecord] = []
    for purpose in sorted(set(given), key=list(Purpose).index):
        out += record(session, actor, elder, Change(purpose, Action.GIVEN, signed_on=signed_on))
    return out


def history(session: Session, elder_id: int) -> Sequence[ConsentRecord]:
    """Every record of the elder, newest first. (The caller has read the elder in scope.)"""
    return session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.elder_id == elder_id)
        .order_by(ConsentRecord.id.desc())
    ).all()


def latest(records: Sequence[ConsentRecord]) -> dict[Purpose, ConsentRecord]:
    """The newest record of each purpose, from ``history``."""
    out: dict[Purpose, ConsentRecord] = {}
    for r in records:
        out.setdefault(Purpose(r.purpose), r)
    return out
