"""Family sign-in by phone and a one-time code through the SMS adapter: with no gateway the
code waits in the outbox, shown to the platform admin on /dev/outbox; the code is stored
hashed, expires, is used once; wrong codes lock like the password sign-in; every step audited;
the answer does not tell whether a number has an account."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from yiyang.accounts.models import PhoneSignInCode, User
from yiyang.core.audit_models import AuditEvent
from yiyang.notifications.models import Notification

pytestmark = pytest.mark.pages


def _phone(session) -> str:  # type: ignore[no-untyped-def]
    return str(session.scalar(select(User.phone).where(User.username == "family")))


def _send(client, phone: str):  # type: ignore[no-untyped-def]
    client.get("/login/phone")
    token = client.cookies.get("yiyang_login_csrf")
    return client.post("/login/phone", data={"phone": phone, "csrf_token": token})


def _verify(client, phone: str, code: str):  # type: ignore[no-untyped-def]
    token = client.cookies.get("yiyang_login_csrf")
    return client.post(
        "/login/phone/verify",
        data={"phone": phone, "code": code, "csrf_token": token},
        follow_redirects=False,
    )


def _code_from_outbox(session, phone: str) -> str:  # type: ignore[no-untyped-def]
    session.expire_all()
    body = session.scalar(
        select(Notification.body)
        .where(Notification.recipient == phone, Notification.channel == "sms")
        .order_by(Notification.id.desc())
    )
    found = re.search(r"\b(\d{6})\b", body or "")
    assert found, body
    return found.group(1)


def test_a_family_member_signs_in_with_a_code_by_sms(client, browser_login, session) -> None:
    phone = _phone(session)
    page = _send(client, "+86 " + phone[:3] + " " + phone[3:7] + " " + phone[7:])
    assert page.status_code == 200 and 'id="code-sent"' in page.text
    code = _code_from_outbox(session, phone)
    stored = session.scalar(select(PhoneSignInCode).where(PhoneSignInCode.phone == phone))
    assert stored is not None and code not in stored.code_hash
    r = _verify(client, phone, code)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert client.get("/", follow_redirects=False).headers["location"] == "/my-services"
    assert client.get("/my-services").status_code == 200
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.actor_username == "family")
    ).all()
    assert "sign_in_code_sent" in actions and "login" in actions
    # used once
    client.cookies.clear()
    client.get("/login/phone")
    assert _verify(client, phone, code).status_code == 400


def test_the_admin_reads_codes_on_the_development_outbox(
    client, browser_login, session, monkeypatch
) -> None:
    from yiyang.core.config import get_settings

    monkeypatch.setattr(get_settings(), "dev_outbox", True)  # as under make run
    phone = _phone(session)
    _send(client, phone)
    code = _code_from_outbox(session, phone)
    browser_login("admin")
    page = client.get("/dev/outbox")
    assert page.status_code == 200 and code in page.text and phone in page.text
    browser_login("community")
    assert client.get("/dev/outbox").status_code == 403
    browser_login("family")
    assert client.get("/dev/outbox").status_code == 403


def test_the_outbox_page_is_gone_with_a_gateway(client, browser_login, monkeypatch) -> None:
    from yiyang.core.config import get_settings

    browser_login("admin")
    monkeypatch.setattr(get_settings(), "sms_url", "http://sms.example.invalid/send")
    assert client.get("/dev/outbox").status_code == 404


def test_unknown_numbers_get_the_same_answer_and_no_sms(client, session) -> None:
    page = _send(client, "13700000000")
    assert page.status_code == 200 and 'id="code-sent"' in page.text
    assert (
        session.scalar(select(Notification.id).where(Notification.recipient == "13700000000"))
        is None
    )
    assert _send(client, "12345").status_code == 422  # not a mobile number


def test_expired_and_wrong_codes_are_refused_and_five_lock(client, session) -> None:
    phone = _phone(session)
    _send(client, phone)
    code = _code_from_outbox(session, phone)
    row = session.scalar(
        select(PhoneSignInCode)
        .where(PhoneSignInCode.phone == phone)
        .order_by(PhoneSignInCode.id.desc())
    )
    row.expires_at = row.created_at - dt.timedelta(seconds=1)
    session.commit()
    assert _verify(client, phone, code).status_code == 400  # expired (attempt 1)
    _send(client, phone)
    fresh = _code_from_outbox(session, phone)
    wrong = f"{(int(fresh) + 1) % 1_000_000:06d}"
    statuses = [_verify(client, phone, wrong).status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]  # the fifth wrong code locks
    r = _verify(client, phone, fresh)  # the right code, but locked
    assert r.status_code == 429 and "location" not in r.headers
    locked = session.scalar(
        select(AuditEvent.id).where(
            AuditEvent.action == "login_failed", AuditEvent.summary.contains("attempt 5")
        )
    )
    assert locked is not None


def test_sending_is_throttled_per_number(client, session) -> None:
    phone = _phone(session)
    statuses = [_send(client, phone).status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 200, 200, 429]


def test_staff_accounts_cannot_sign_in_by_phone(client, session) -> None:
    user = session.scalar(select(User).where(User.username == "community"))
    assert user.phone
    _send(client, user.phone)
    assert (
        session.scalar(select(PhoneSignInCode.id).where(PhoneSignInCode.phone == user.phone))
        is None
    )
