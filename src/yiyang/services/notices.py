"""Notices to a provider admin about one of their orders (SMS and e-mail through the outbox):
an assignment not accepted in time, a declined job, a dispute, a locked elder's code."""

from __future__ import annotations

from sqlalchemy.orm import Session

from yiyang.core import i18n
from yiyang.core.clock import to_local
from yiyang.core.config import get_settings
from yiyang.core.i18n import gettext as _
from yiyang.notifications.outbox import enqueue_message
from yiyang.services import proof
from yiyang.services.models import Provider, ServiceOrder


def notify_provider(session: Session, order: ServiceOrder, what: str, detail: str = "") -> None:
    provider = session.get(Provider, order.provider_id)
    if provider is None:
        return
    local = to_local(order.scheduled_at)
    when = f"{local:%m-%d %H:%M}"
    token = i18n.set_locale(get_settings().default_locale)
    try:  # Chinese message templates: the deployment's default locale
        subject = _("[Yiyang] Order %(id)s needs you", id=order.id)
        body = {
            "unaccepted": _(
                "Order %(id)s (%(when)s) was not accepted within 30 minutes of assignment. "
                "Please reassign it.",
                id=order.id,
                when=when,
            ),
            "declined": _(
                "The caregiver declined order %(id)s (%(when)s): %(detail)s. Please reassign it.",
                id=order.id,
                when=when,
                detail=detail,
            ),
            "disputed": _(
                "The elder's side disputes order %(id)s: %(detail)s.", id=order.id, detail=detail
            ),
            "code_locked": _(
                "The elder's code for order %(id)s (%(when)s) was entered wrongly %(n)d times "
                "and is locked. Check with the caregiver and the elder; issue a new code on the "
                "order's page if the service was done.",
                id=order.id,
                when=when,
                n=proof.CODE_MAX_FAILURES,
            ),
        }[what]
    finally:
        i18n.reset_locale(token)
    channels = [("sms", provider.contact_phone)]
    if provider.contact_email:
        channels.append(("email", provider.contact_email))
    for channel, address in channels:
        enqueue_message(
            session,
            dedupe_key=f"order:{order.id}:{what}:{order.version}:{channel}",
            channel=channel,
            recipient=address,
            label=provider.contact_name,
            subject=subject,
            body=body,
            payload={"order_id": order.id, "event": what},
            elder_id=order.elder_id,
        )
