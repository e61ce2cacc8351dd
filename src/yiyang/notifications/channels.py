"""Delivery channels. Each ``send`` raises ``DeliveryError`` on failure (the dispatcher retries)
and ``NotConfigured`` when the deployment has no such channel.

- email: SMTP (smtplib), UTF-8 text.
- webhook: HTTP POST of JSON, signed: ``X-Yiyang-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
  "<t>.<body>" with the webhook secret>``, ``X-Yiyang-Delivery`` is the notification id (receivers
  deduplicate on it).
- sms: the SMS adapter, an HTTP POST of ``{"to", "text", "ref"}`` with a bearer token to
  ``YIYANG_SMS_URL``; a small service in front of the carrier's API (阿里云/腾讯云 SMS, or a voice
  call platform) implements it. docs/notifications.md describes the contract.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import time
from email.message import EmailMessage
from email.utils import make_msgid

import httpx
import orjson

from yiyang.core.config import Settings
from yiyang.notifications.models import Notification


class DeliveryError(Exception):
    pass


class NotConfigured(Exception):
    pass


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def send_email(n: Notification, s: Settings) -> None:
    if not s.smtp_host:
        raise NotConfigured("no SMTP server configured (YIYANG_SMTP_HOST)")
    msg = EmailMessage()
    msg["From"] = s.smtp_from
    msg["To"] = n.recipient
    msg["Subject"] = n.subject
    msg["Message-ID"] = make_msgid(idstring=f"yiyang-{n.id}")
    msg.set_content(n.body)
    try:
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP: {exc}") from exc


def _post(url: str, body: bytes, headers: dict[str, str]) -> None:
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"HTTP: {exc}") from exc
    if response.status_code >= 300:
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")


def send_webhook(n: Notification, s: Settings) -> None:
    if not n.recipient:
        raise NotConfigured("no webhook URL configured (YIYANG_WEBHOOK_URL)")
    body = orjson.dumps({**n.payload, "subject": n.subject, "text": n.body, "delivery": n.id})
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Yiyang-Event": str(n.payload.get("event", "alert")),
        "X-Yiyang-Delivery": str(n.id),
        "X-Yiyang-Signature": sign(s.webhook_secret, stamp, body),
    }
    _post(n.recipient, body, headers)


def send_sms(n: Notification, s: Settings) -> None:
    if not s.sms_url:
        raise NotConfigured("no SMS adapter configured (YIYANG_SMS_URL)")
    body = orjson.dumps({"to": n.recipient, "text": n.body, "ref": str(n.id)})
    headers = {"Content-Type": "application/json"}
    if s.sms_token:
        headers["Authorization"] = f"Bearer {s.sms_token}"
    _post(s.sms_url, body, headers)


SENDERS = {"email": send_email, "webhook": send_webhook, "sms": send_sms}
