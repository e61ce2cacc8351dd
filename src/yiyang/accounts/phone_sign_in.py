"""Family sign-in by phone and a one-time code sent by SMS.

1. ``send_code``: the family member types their mobile number. When it is the phone of an
   active family account, a six-digit code valid for ``VALID_FOR`` goes out through the outbox's
   SMS channel (``notifications``; without a gateway, as under ``make run``, the message is kept
   and shown to admins on ``/dev/outbox``). The answer is the same whether or not the number
   has an account. Sends are throttled per number and per client address.
2. ``verify``: the number and the code. Only the code's keyed hash is stored; it expires and is
   used once; wrong codes count per number and per address and lock like the password sign-in
   (``accounts.codes``, the ``login_throttle`` table). Every send, failure and sign-in is
   audited."""

from __future__ import annotations

import datetime as dt
import hmac
import re

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yiyang.accounts import codes, throttle
from yiyang.accounts.models import PhoneSignInCode, User
from yiyang.accounts.service import LoginResult, start_session
from yiyang.core import audit
from yiyang.core.clock import now
from yiyang.core.errors import TooManyAttempts, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Role
from yiyang.notifications.outbox import enqueue_message

VALID_FOR = dt.timedelta(minutes=10)
DIGITS = 6
PURPOSE = "phone"
WRONG, WRONG_ADDRESS = "phone", "phone-ip"  # wrong codes per number, per address
WRONG_DAY = "phone-d"  # wrong codes per number in a day
# Ten wrong codes for one number within a day lock it for a day (the 15-minute lock alone
# would let some 480 guesses a day through).
DAY_LIMITS = throttle.Limits(10, dt.timedelta(days=1), dt.timedelta(days=1))
SENT, SENT_ADDRESS = "sms-to", "sms-ip"  # codes sent per number, per address
# Five codes per number and twenty per address within an hour.
SEND_LIMITS = {
    SENT: throttle.Limits(5, dt.timedelta(hours=1), dt.timedelta(hours=1)),
    SENT_ADDRESS: throttle.Limits(20, dt.timedelta(hours=1), dt.timedelta(hours=1)),
}


def normalise_phone(value: str) -> str:
    """A mainland mobile number as 11 digits (spaces, dashes and +86 dropped), or raise."""
    digits = re.sub(r"[\s\-()]", "", value or "")
    digits = re.sub(r"^(\+?86)(?=1\d{10}$)", "", digits)
    if not re.fullmatch(r"1[3-9]\d{9}", digits):
        raise ValidationFailed(_("Enter an 11-digit mobile number."), field="phone")
    return digits


def _family_user(session: Session, phone: str) -> User | None:
    return session.scalar(
        select(User)
        .where(User.phone == phone, User.role == Role.FAMILY, User.active)
        .order_by(User.id)
        .limit(1)
    )


def _masked(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def _void_live_codes(session: Session, number: str, at: dt.datetime) -> None:
    """Mark the number's unused codes used: only the newest code sent is ever valid, and a lock
    ends every code guessed at."""
    session.execute(
        update(PhoneSignInCode)
        .where(PhoneSignInCode.phone == number, PhoneSignInCode.used_at.is_(None))
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )


def send_code(session: Session, phone: str, ip: str | None, at: dt.datetime | None = None) -> None:
    current = at or now()
    number = normalise_phone(phone)
    address = throttle.address_key(ip)
    for scope, key in ((SENT, number), (SENT_ADDRESS, address)):
        refused = codes.locked(session, scope, key, current)
        if refused is not None:
            raise refused
    for scope, key in ((SENT, number), (SENT_ADDRESS, address)):
        codes.count_failure(session, scope, key, current, SEND_LIMITS[scope])
    user = _family_user(session, number)
    if user is None:
        audit.record(
            session,
            "sign_in_code_refused",
            "app_user",
            None,
            actor=audit.AuditActor(None, _masked(number), ip=ip),
            summary=f"no family account with {_masked(number)} from {address}",
        )
        return
    _void_live_codes(session, number, current)
    code = codes.new_code(DIGITS)
    row = PhoneSignInCode(
        phone=number,
        user_id=user.id,
        code_hash=codes.digest(PURPOSE, code),
        created_at=current,
        expires_at=current + VALID_FOR,
    )
    session.add(row)
    session.flush()
    minutes = int(VALID_FOR.total_seconds() // 60)
    enqueue_message(
        session,
        dedupe_key=f"sign-in-code:{row.id}",
        channel="sms",
        recipient=number,
        label=user.display_name,
        subject=_("Yiyang sign-in code"),
        body=_(
            "Your Yiyang sign-in code is %(code)s, valid for %(minutes)d minutes. "
            "Do not give it to anyone.",
            code=code,
            minutes=minutes,
        ),
        payload={"event": "sign_in_code"},
    )
    audit.record(
        session,
        "sign_in_code_sent",
        "app_user",
        str(user.id),
        actor=audit.AuditActor(user.id, user.username, user.role, ip=ip),
        region_path=user.region_path,
        summary=f"SMS to {_masked(number)}",
    )


def verify(
    session: Session, phone: str, code: str, ip: str | None, at: dt.datetime | None = None
) -> LoginResult:
    current = at or now()
    number = normalise_phone(phone)
    address = throttle.address_key(ip)
    for scope, key in ((WRONG, number), (WRONG_DAY, number), (WRONG_ADDRESS, address)):
        refused = codes.locked(session, scope, key, current)
        if refused is not None:
            raise refused
    digest = codes.digest(PURPOSE, "".join(code.split()))
    candidates = session.scalars(
        select(PhoneSignInCode)
        .where(
            PhoneSignInCode.phone == number,
            PhoneSignInCode.used_at.is_(None),
            PhoneSignInCode.expires_at > current,
        )
        .with_for_update()
    ).all()
    match = next((c for c in candidates if hmac.compare_digest(c.code_hash, digest)), None)
    user = session.get(User, match.user_id) if match else None
    if match is None or user is None or not user.active or user.role != Role.FAMILY:
        raise _wrong_code(session, number, address, ip, current)
    codes.forget(session, WRONG, number)
    match.used_at = current
    return start_session(session, user, kind="cookie", ip=ip, at=current, how="phone code")


def _wrong_code(
    session: Session, number: str, address: str, ip: str | None, at: dt.datetime
) -> TooManyAttempts:
    """Count a wrong code per number (15 minutes and the day) and per address, audit it, and
    void the number's live codes when any of the counters locks."""
    by_number = codes.count_failure(session, WRONG, number, at)
    by_day = codes.count_failure(session, WRONG_DAY, number, at, DAY_LIMITS)
    by_address = codes.count_failure(session, WRONG_ADDRESS, address, at)
    audit.record(
        session,
        "login_failed",
        "app_user",
        None,
        actor=audit.AuditActor(None, _masked(number), ip=ip),
        summary=f"wrong sign-in code for {_masked(number)}, attempt {by_number.failures}",
    )
    locked = [c for c in (by_day, by_number, by_address) if c.locked_until is not None]
    if locked:
        _void_live_codes(session, number, at)
    worst = max(locked, key=lambda c: c.locked_until or at) if locked else by_number
    return codes.refusal(worst, at, _("The code is wrong or has expired."))
