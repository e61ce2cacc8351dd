"""Who hears about an alert, and what they read: recipients per escalation rung, Chinese message
templates (the deployment's default locale), and the outbox rows — written in the caller's
transaction, deduplicated per (alert, rung, channel, recipient)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from yiyang.accounts.models import User
from yiyang.alarms import describe
from yiyang.alarms.enums import SEVERITY_LABELS, Severity
from yiyang.alarms.models import Alert
from yiyang.core import i18n
from yiyang.core.clock import now, to_local
from yiyang.core.config import get_settings
from yiyang.core.db import upsert
from yiyang.core.i18n import N_, gettext
from yiyang.core.roles import Role
from yiyang.notifications.models import Notification
from yiyang.notifications.outbox import enqueue_message
from yiyang.regions.models import Region
from yiyang.registry import repository as elders
from yiyang.registry.models import Elder, EmergencyContact

AUDIENCE_LABELS = {
    "contacts": N_("emergency contacts"),
    "community": N_("community worker"),
    "duty": N_("district duty officer"),
    "webhook": N_("district integration (webhook)"),
    "elder": N_("the elder"),
}


@dataclass(frozen=True, slots=True)
class Recipient:
    channel: str
    address: str
    label: str


def recipients(session: Session, alert: Alert, audience: str) -> list[Recipient]:
    settings = get_settings()
    out: list[Recipient] = []
    if audience == "contacts":
        contacts = session.scalars(
            select(EmergencyContact)
            .where(
                EmergencyContact.elder_id == alert.elder_id,
                or_(EmergencyContact.receives_alerts, EmergencyContact.email.is_not(None)),
            )
            .order_by(EmergencyContact.priority)
        )
        for c in contacts:  # SMS when receives_alerts; e-mail when the family member gave one
            if c.receives_alerts:
                out.append(Recipient("sms", c.phone, f"{c.relation} {c.name}"))
            if c.email:
                out.append(Recipient("email", c.email, f"{c.relation} {c.name}"))
    elif audience in ("community", "duty"):
        role = Role.COMMUNITY_WORKER if audience == "community" else Role.DISTRICT_OFFICER
        users = session.scalars(
            select(User).where(User.role == role, User.active).order_by(User.id)
        )
        for u in users:
            if not alert.region_path.startswith(u.region_path):
                continue
            if u.email:
                out.append(Recipient("email", u.email, u.display_name))
            elif u.phone:
                out.append(Recipient("sms", u.phone, u.display_name))
        if audience == "duty" and settings.duty_email:
            out.append(Recipient("email", settings.duty_email, gettext("District duty officer")))
    elif audience == "webhook" and settings.webhook_url:
        out = [Recipient("webhook", settings.webhook_url, "webhook")]
    return out


def for_contacts(session: Session, alert: Alert, address: str) -> tuple[str, dict[str, Any]]:
    """The address and figures the emergency contacts (family) may read (PIPL, issue #18).

    The contacts are family: without the elder's consent to share with family
    (``consent_share_with_family``, the ``elder.details_shared`` rule) their message names the
    community instead of the street address and carries no readings or position
    (``describe.shown_detail``); readings also need the health-monitoring consent
    (``elder.monitored``). An SOS, fall, smoke or gas alarm is still sent — never dropped — and
    still without the address: we chose not to send it without consent even in an emergency
    (the contact may be an estranged relative; the care centre, which has the address, sends
    help and the message tells them to call it). docs/registry.md "Consent" says the same."""
    rows = elders.system_rows(
        session,
        [alert.elder_id],
        Elder.consent_share_with_family,
        Elder.consent_health_monitoring,
        Elder.region_id,
    )
    row = rows[0] if rows else None
    shared = bool(row and row.consent_share_with_family)
    monitored = bool(row and row.consent_health_monitoring)
    shown = describe.shown_detail(alert.detail, describe.figures_shown(shared, monitored))
    if shared:
        return address, shown
    community = session.get(Region, row.region_id) if row else None
    return (community.name if community else ""), shown


def _render(alert: Alert, elder_name: str, address: str, detail: dict[str, Any]) -> tuple[str, str]:
    token = i18n.set_locale(get_settings().default_locale)
    try:
        severity = gettext(SEVERITY_LABELS.get(Severity(alert.severity), alert.severity))
        at = to_local(alert.first_at)
        subject = gettext("[Yiyang] {severity}: {title} — {name}").format(
            severity=severity, title=describe.title(alert.alert_type), name=elder_name
        )
        body = gettext(
            "{severity} alert for {name} ({address}) at {time}: {explanation}. "
            "Please contact the elder or the care centre at once. Alert no. {id}."
        ).format(
            severity=severity,
            name=elder_name,
            address=address,
            time=at.strftime("%Y-%m-%d %H:%M") if at else "",
            explanation=describe.explain(alert.alert_type, detail),
            id=alert.id,
        )
        return subject, body
    finally:
        i18n.reset_locale(token)


def enqueue(
    session: Session,
    alert: Alert,
    audience: str,
    step: int,
    *,
    elder_name: str,
    address: str,
) -> list[Recipient]:
    """Outbox rows for one rung; returns who they go to (for the alert's trail)."""
    targets = recipients(session, alert, audience)
    if not targets:
        return []
    detail = alert.detail
    if audience == "contacts":  # family: the address and figures by consent (for_contacts)
        address, detail = for_contacts(session, alert, address)
    subject, body = _render(alert, elder_name, address, detail)
    payload: dict[str, Any] = {
        "event": "alert.escalated" if step else "alert.created",
        "alert_id": alert.id,
        "elder_id": alert.elder_id,
        "type": alert.alert_type,
        "severity": alert.severity,
        "state": alert.state,
        "first_at": alert.first_at.isoformat(),
        "audience": audience,
        "step": step,
        "detail": detail,
    }
    at = now()
    rows = [
        {
            "dedupe_key": f"alert:{alert.id}:{step}:{audience}:{r.channel}:{r.address}"[:160],
            "created_at": at,
            "alert_id": alert.id,
            "elder_id": alert.elder_id,
            "channel": r.channel,
            "recipient": r.address,
            "recipient_label": r.label[:128],
            "subject": subject[:255],
            "body": body,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": at,
        }
        for r in targets
    ]
    stmt = upsert(session, Notification)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]), rows)
    return targets


def prompt_elder(session: Session, elder_id: int, phone: str | None, key: str) -> None:
    """Ask the elder to check in before raising an inactivity alert (SMS or a voice call
    through the SMS adapter)."""
    if not phone:
        return
    token = i18n.set_locale(get_settings().default_locale)
    try:
        text = gettext(
            "[Yiyang] We have not noticed any activity at home for a while. "
            "Please press your SOS button's check-in key or call the care centre."
        )
    finally:
        i18n.reset_locale(token)
    enqueue_message(
        session,
        dedupe_key=f"prompt:{elder_id}:{key}",
        channel="sms",
        recipient=phone,
        label=gettext(AUDIENCE_LABELS["elder"]),
        subject=text[:60],
        body=text,
        payload={"event": "elder.prompt", "elder_id": elder_id},
        elder_id=elder_id,
    )
