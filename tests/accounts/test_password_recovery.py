"""A forgotten password (/login/forgot): staff with a mobile phone reset it with a one-time code
sent through the SMS adapter (with no gateway the code waits in the outbox, shown on
/dev/outbox); users without one land in the admins' queue; the answer is the same whether or
not the account exists; codes are hashed, used once, expire and lock after wrong tries; requests
are throttled; nothing in the audit trail holds a code or a password."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, login_form_token
from yiyang.accounts import codes, recovery
from yiyang.accounts.models import PasswordResetCode, PasswordResetRequest, User
from yiyang.core.audit_models import AuditEvent
from yiyang.core.clock import now
from yiyang.core.errors import TooManyAttempts
from yiyang.notifications.models import Notification

pytestmark = pytest.mark.pages

MOBILE = "13800007777"
NEW = "Fresh@Pass2026"
IP = "203.0.113.20"


@pytest.fixture
def street_phone(session) -> str:  # type: ignore[no-untyped-def]
    """The street officer gets a mobile phone (the demo gives staff none)."""
    user = session.scalar(select(User).where(User.username == "street"))
    user.phone = MOBILE
    session.commit()
    return MOBILE


def _ask(client, username: str):  # type: ignore[no-untyped-def]
    token = login_form_token(client)
    return client.post("/login/forgot", data={"username": username, "csrf_token": token})


def _verify(client, username: str, code: str, password: str = NEW):  # type: ignore[no-untyped-def]
    token = client.cookies.get("yiyang_login_csrf")
    return client.post(
        "/login/forgot/verify",
        data={
            "username": username,
            "code": code,
            "password": password,
            "password2": password,
            "csrf_token": token,
        },
        follow_redirects=False,
    )


def _code(session, phone: str) -> str:  # type: ignore[no-untyped-def]
    session.expire_all()
    body = session.scalar(
        select(Notification.body)
        .where(Notification.recipient == phone, Notification.channel == "sms")
        .order_by(Notification.id.desc())
    )
    found = re.search(r"\b(\d{6})\b", body or "")
    assert found, body
    return found.group(1)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def _answer(text: str, username: str) -> str:
    """The answer page without what differs by nature (the name typed, the form token)."""
    text = text.replace(username, "NAME")
    return re.sub(r'name="csrf_token" value="[^"]*"', "", text)


def test_the_login_page_links_recovery_and_is_not_staff_only(client) -> None:
    page = client.get("/login")
    assert 'href="/login/forgot"' in page.text
    assert "Staff sign-in" not in page.text and "staff only" not in page.text.lower()


def test_staff_reset_their_password_by_a_code_end_to_end(
    client, login, session, street_phone, monkeypatch
) -> None:
    old = login("street").headers
    r = _ask(client, "street")
    assert r.status_code == 200 and 'id="forgot-sent"' in r.text
    code = _code(session, street_phone)
    stored = session.scalar(select(PasswordResetCode).order_by(PasswordResetCode.id.desc()))
    assert stored is not None and code not in stored.code_hash
    # the admin reads it on the development outbox, as the phone sign-in codes
    from yiyang.core.config import get_settings

    monkeypatch.setattr(get_settings(), "dev_outbox", True)
    assert code in client.get("/dev/outbox", headers=login("admin").headers).text
    # a weak password is refused beside its field, and the code is not used up by it
    weak = _verify(client, "street", code, "short")
    assert weak.status_code == 422 and 'id="err-password"' in weak.text
    done = _verify(client, "street", code)
    assert done.status_code == 303 and done.headers["location"] == "/login?notice=reset"
    assert "Your password is changed" in client.get("/login?notice=reset").text
    assert client.get("/api/auth/me", headers=old).status_code == 401  # sessions ended
    assert (
        client.post(
            "/api/auth/token", json={"username": "street", "password": PASSWORD}
        ).status_code
        == 401
    )
    assert (
        client.post("/api/auth/token", json={"username": "street", "password": NEW}).status_code
        == 200
    )
    # used once
    again = _verify(client, "street", code, "Another@2026")
    assert again.status_code == 400 and 'id="err-code"' in again.text
    # audited, without the code or a password
    rows = session.scalars(select(AuditEvent).where(AuditEvent.actor_username == "street")).all()
    actions = {r.action for r in rows}
    assert {"password_reset_code_sent", "password_reset_by_code"} <= actions
    everything = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(60))
    dumped = json.dumps([[r.summary, r.before, r.after] for r in everything], ensure_ascii=False)
    # the code as a number of its own (six random digits also occur inside coordinates)
    assert not re.search(rf"(?<![\d.]){code}(?!\d)", dumped)
    assert NEW not in dumped and "argon2" not in dumped


def test_the_same_answer_for_any_username(client, session, street_phone) -> None:
    answers = {}
    for name in ("street", "volunteer", "nobody-here"):  # a phone; no phone; no account
        client.cookies.clear()
        client.cookies.set("lang", "en")
        r = _ask(client, name)
        answers[name] = (r.status_code, _answer(r.text, name))
    assert answers["street"] == answers["volunteer"] == answers["nobody-here"]
    # ... while the volunteer's request went to the admins' queue
    volunteer = session.scalar(select(User.id).where(User.username == "volunteer"))
    session.expire_all()
    pending = session.scalars(
        select(PasswordResetRequest).where(PasswordResetRequest.user_id == volunteer)
    ).all()
    assert [p.state for p in pending] == ["pending"]
    _ask(client, "volunteer")  # asking again adds no second request
    session.expire_all()
    assert (
        len(
            session.scalars(
                select(PasswordResetRequest).where(PasswordResetRequest.user_id == volunteer)
            ).all()
        )
        == 1
    )


def test_wrong_codes_lock_and_void_the_code(session, street_phone, monkeypatch) -> None:
    monkeypatch.setattr(codes, "new_code", lambda digits: "424242")
    at = now()
    recovery.start(session, "street", IP, at)
    for attempt in range(4):
        with pytest.raises(TooManyAttempts) as wrong:
            recovery.complete(session, "street", "000000", NEW, IP, at)
        assert wrong.value.status_code == 400, attempt
    with pytest.raises(TooManyAttempts) as locked:
        recovery.complete(session, "street", "000000", NEW, IP, at)
    assert locked.value.status_code == 429
    with pytest.raises(TooManyAttempts):  # the right code, but locked (and the code void)
        recovery.complete(session, "street", "424242", NEW, IP, at + dt.timedelta(minutes=1))
    later = at + dt.timedelta(minutes=16)
    with pytest.raises(TooManyAttempts) as void:
        recovery.complete(session, "street", "424242", NEW, IP, later)
    assert void.value.status_code == 400
    # an admin's unlock lifts the lock on the codes too
    from yiyang.accounts import users
    from yiyang.accounts.service import actor_for

    admin = actor_for(session.scalar(select(User).where(User.username == "admin")))
    street = session.scalar(select(User).where(User.username == "street"))
    recovery.start(session, "street", "203.0.113.21", at)
    for _ in range(5):
        with pytest.raises(TooManyAttempts):
            recovery.complete(session, "street", "000000", NEW, "203.0.113.21", at)
    users.unlock(session, admin, street.id)
    with pytest.raises(TooManyAttempts) as fresh:
        recovery.complete(session, "street", "000000", NEW, "203.0.113.22", at)
    assert fresh.value.status_code == 400  # counted again, not locked


def test_requests_are_throttled_per_username_and_address(session, street_phone) -> None:
    at = now()
    for i in range(5):
        recovery.start(session, "street", f"203.0.113.{30 + i}", at)
    with pytest.raises(TooManyAttempts):
        recovery.start(session, "street", "203.0.113.99", at)
    for i in range(20):
        recovery.start(session, f"made-up-{i}", "198.51.100.1", at)
    with pytest.raises(TooManyAttempts):
        recovery.start(session, "volunteer", "198.51.100.1", at)
    assert (
        session.scalar(  # unknown names were not queued or sent anything
            select(Notification.id).where(Notification.body.contains("made-up"))
        )
        is None
    )
