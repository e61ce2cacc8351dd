"""The family portal's security review (#18): phone sign-in codes are void once a newer one is
sent or the number locks, and wrong codes are capped per day; invitation codes are limited per
client address and per day, a new code never collides with a stored one, and a family member
linking another family account is shown to the community worker; /dev/outbox exists only when
development turns it on, each read audited; a page's error comes from a fixed list, never from
the query string."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from yiyang.accounts import codes, invitations, phone_sign_in
from yiyang.accounts.models import LinkInvitation, PhoneSignInCode, User, UserElderLink
from yiyang.accounts.service import actor_for
from yiyang.core.audit_models import AuditEvent
from yiyang.core.clock import now
from yiyang.core.errors import TooManyAttempts
from yiyang.core.roles import Role
from yiyang.notifications.models import Notification

pytestmark = pytest.mark.pages

IP = "203.0.113.7"


def _family(session) -> User:  # type: ignore[no-untyped-def]
    return session.scalar(select(User).where(User.username == "family"))


def _last_code(session, phone: str) -> str:  # type: ignore[no-untyped-def]
    import re

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


# --- 1. phone sign-in codes ---


def test_a_second_code_voids_the_first(session, monkeypatch) -> None:
    phone = str(_family(session).phone)
    drawn = iter(["111111", "222222"])
    monkeypatch.setattr(codes, "new_code", lambda digits: next(drawn))
    at = now()
    phone_sign_in.send_code(session, phone, IP, at)
    phone_sign_in.send_code(session, phone, IP, at + dt.timedelta(seconds=30))
    live = session.scalars(
        select(PhoneSignInCode).where(
            PhoneSignInCode.phone == phone, PhoneSignInCode.used_at.is_(None)
        )
    ).all()
    assert len(live) == 1
    with pytest.raises(TooManyAttempts):  # the first code, within its ten minutes: void
        phone_sign_in.verify(session, phone, "111111", IP, at + dt.timedelta(minutes=1))
    assert phone_sign_in.verify(session, phone, "222222", IP, at + dt.timedelta(minutes=1))


def test_the_lock_voids_the_live_code(session, monkeypatch) -> None:
    # a code that would outlive the lock (VALID_FOR longer than the lock) shows the point
    monkeypatch.setattr(phone_sign_in, "VALID_FOR", codes.LIMITS.lock * 2)
    phone = str(_family(session).phone)
    at = now()
    phone_sign_in.send_code(session, phone, IP, at)
    code = _last_code(session, phone)
    for i in range(codes.LIMITS.max_failures):
        with pytest.raises(TooManyAttempts):
            phone_sign_in.verify(session, phone, _wrong(code), IP, at + dt.timedelta(seconds=i))
    after = at + codes.LIMITS.lock + dt.timedelta(minutes=1)  # the lock is over …
    with pytest.raises(codes.WrongCode):  # … but the code guessed at is void
        phone_sign_in.verify(session, phone, code, "198.51.100.77", after)
    row = session.scalar(select(PhoneSignInCode).where(PhoneSignInCode.phone == phone))
    assert row is not None and row.used_at is not None


def test_wrong_codes_are_capped_per_day(session) -> None:
    phone = str(_family(session).phone)
    at = now()
    cap = phone_sign_in.DAY_LIMITS.max_failures
    assert cap <= 10
    wrong = 0
    step = 0
    while wrong < cap:  # wrong codes spread out so the 15-minute lock never trips
        current = at + dt.timedelta(minutes=20 * step)
        step += 1
        phone_sign_in.send_code(session, phone, f"198.51.100.{step}", current)
        code = _last_code(session, phone)
        for _ in range(2):
            if wrong == cap:
                break
            with pytest.raises(TooManyAttempts):
                phone_sign_in.verify(session, phone, _wrong(code), f"198.51.100.{step}", current)
            wrong += 1
    later = at + dt.timedelta(minutes=20 * step + 16)
    phone_sign_in.send_code(session, phone, "198.51.100.250", later)
    code = _last_code(session, phone)
    with pytest.raises(TooManyAttempts) as refused:  # the right code, but the day is over
        phone_sign_in.verify(session, phone, code, "198.51.100.250", later)
    assert not isinstance(refused.value, codes.WrongCode)
    nextday = later + phone_sign_in.DAY_LIMITS.lock  # a day after the cap was reached
    phone_sign_in.send_code(session, phone, "198.51.100.251", nextday)
    code = _last_code(session, phone)
    assert phone_sign_in.verify(session, phone, code, "198.51.100.251", nextday)


# --- 2. invitation codes ---


def _community(session):  # type: ignore[no-untyped-def]
    return actor_for(session.scalar(select(User).where(User.username == "community")))


def _an_elder(session) -> int:  # type: ignore[no-untyped-def]
    family = _family(session)
    return int(
        session.scalar(select(UserElderLink.elder_id).where(UserElderLink.user_id == family.id))
    )


def _another_family(session, name: str = "family-two") -> User:  # type: ignore[no-untyped-def]
    family = _family(session)
    user = User(
        username=name,
        display_name=name,
        password_hash="!",
        role=Role.FAMILY,
        region_id=family.region_id,
        region_path=family.region_path,
    )
    session.add(user)
    session.flush()
    return user


def test_invitation_codes_are_limited_per_address(session) -> None:
    users = [actor_for(_another_family(session, f"guesser-{i}")) for i in range(8)]
    tries = 0
    with pytest.raises(TooManyAttempts):
        for user in users:  # a few wrong codes per account, all from one address
            for _ in range(3):
                tries += 1
                try:
                    invitations.redeem(session, user, f"{tries:08d}", IP)
                except codes.WrongCode:
                    continue
    assert tries <= invitations.ADDRESS_LIMITS.max_failures
    issued = invitations.issue(session, _community(session), _an_elder(session))
    fresh = actor_for(_another_family(session, "fresh"))
    with pytest.raises(TooManyAttempts):  # locked address: even the right code is refused
        invitations.redeem(session, fresh, issued.code, IP)
    assert invitations.redeem(session, fresh, issued.code, "198.51.100.9")


def test_invitation_codes_are_capped_per_user_per_day(session, monkeypatch) -> None:
    user = actor_for(_another_family(session))
    start = now()
    cap = invitations.DAY_LIMITS.max_failures
    for i in range(cap):  # spread out: the 15-minute lock never trips
        monkeypatch.setattr(invitations, "now", lambda i=i: start + dt.timedelta(minutes=20 * i))
        with pytest.raises(TooManyAttempts):
            invitations.redeem(session, user, f"{i:08d}", f"198.51.100.{i}")
    monkeypatch.setattr(invitations, "now", lambda: start + dt.timedelta(hours=5))
    issued = invitations.issue(session, _community(session), _an_elder(session))
    with pytest.raises(TooManyAttempts) as refused:
        invitations.redeem(session, user, issued.code, "198.51.100.200")
    assert not isinstance(refused.value, codes.WrongCode)


def test_a_new_invitation_code_never_collides_with_an_old_one(session, monkeypatch) -> None:
    elder_id = _an_elder(session)
    old = invitations.issue(session, _community(session), elder_id)
    old.invitation.used_at = now()  # used long ago
    session.flush()
    drawn = iter([old.code, old.code, "12345678"])
    monkeypatch.setattr(codes, "new_code", lambda digits: next(drawn))
    fresh = invitations.issue(session, _community(session), elder_id)
    assert fresh.code == "12345678"
    assert session.get(LinkInvitation, old.invitation.id) is not None


def test_the_worker_sees_a_family_member_linking_another(session) -> None:
    family = _family(session)
    elder_id = _an_elder(session)
    issued = invitations.issue(session, actor_for(family), elder_id)
    other = _another_family(session)
    invitations.redeem(session, actor_for(other), issued.code, IP)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "family_linked_family"))
    assert event is not None and event.elder_id == elder_id
    assert "family-two" in (event.summary or "") and "family" in (event.summary or "")
    worker = session.scalar(select(User).where(User.username == "community"))
    assert worker is not None and worker.phone  # the elder's community worker gets an SMS
    sms = session.scalar(
        select(Notification).where(
            Notification.dedupe_key == f"family-linked:{issued.invitation.id}"
        )
    )
    assert sms is not None and sms.recipient == worker.phone and "family-two" in sms.body


def test_a_worker_s_own_invitation_is_not_reported(session) -> None:
    issued = invitations.issue(session, _community(session), _an_elder(session))
    invitations.redeem(session, actor_for(_another_family(session)), issued.code, IP)
    assert (
        session.scalar(select(AuditEvent).where(AuditEvent.action == "family_linked_family"))
        is None
    )


# --- 3. the development outbox ---


def test_the_development_outbox_is_off_by_default(client, browser_login) -> None:
    from yiyang.core.config import Settings

    assert Settings.model_fields["dev_outbox"].default is False
    browser_login("admin")
    assert client.get("/dev/outbox").status_code == 404


def test_the_development_outbox_when_on_is_audited(
    client, browser_login, session, monkeypatch
) -> None:
    from yiyang.core.config import get_settings

    monkeypatch.setattr(get_settings(), "dev_outbox", True)
    browser_login("admin")
    assert client.get("/dev/outbox").status_code == 200
    session.expire_all()
    reads = session.scalars(select(AuditEvent).where(AuditEvent.action == "dev_outbox_read")).all()
    assert len(reads) == 1 and reads[0].actor_username == "admin"
    browser_login("family")
    assert client.get("/dev/outbox").status_code == 403


def test_make_run_turns_the_development_outbox_on() -> None:
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "YIYANG_DEV_OUTBOX=true" in run


# --- 4. page errors ---


def test_the_family_page_shows_no_text_from_the_link(client, browser_login) -> None:
    browser_login("family")
    page = client.get("/my-services?error=Call+13800000000+now+to+unlock+your+account")
    assert page.status_code == 200
    assert "13800000000" not in page.text and 'id="mine-error"' in page.text
    assert "This could not be done." in page.text
    page = client.get("/my-services?error=code")
    assert "This code is wrong, used or expired." in page.text


def test_staff_pages_show_no_text_from_the_link(client, browser_login, session) -> None:
    from yiyang.services.models import ServiceOrder

    order_id = session.scalar(select(ServiceOrder.id).order_by(ServiceOrder.id).limit(1))
    browser_login("admin")
    page = client.get(f"/orders/{order_id}?error=Wire+the+fee+to+6222000011112222")
    assert page.status_code == 200 and "6222000011112222" not in page.text
    assert "This could not be done." in page.text
    page = client.get(f"/orders/{order_id}?error=flash")  # no signed message: generic
    assert "This could not be done." in page.text


def test_a_refusal_still_shows_its_own_message_once(client, browser_login, session) -> None:
    from yiyang.services.models import ServiceOrder

    order_id = session.scalar(select(ServiceOrder.id).order_by(ServiceOrder.id).limit(1))
    csrf = browser_login("admin")
    r = client.post(
        f"/orders/{order_id}/act",
        data={"csrf_token": csrf, "action": "cancel", "reason": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "error=" in r.headers["location"]
    page = client.get(r.headers["location"])
    assert "Please give a reason." in page.text


def test_a_staff_page_refusal_shows_its_message_once(client, browser_login, session) -> None:
    from yiyang.registry.models import EmergencyContact

    csrf = browser_login("family")
    mine = _an_elder(session)
    other = session.scalar(
        select(EmergencyContact.elder_id).where(EmergencyContact.elder_id != mine)
    )
    r = client.post(
        f"/my-services/notifications/{other}",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    location = r.headers["location"]
    assert r.status_code == 303 and "error=flash" in location
    page = client.get(location)
    shown = page.text.split('id="mine-error">', 1)[1].split("<", 1)[0]
    assert shown and shown != "This could not be done."  # the refusal's own message
    again = client.get("/my-services")
    assert 'id="mine-error"' not in again.text  # shown once
