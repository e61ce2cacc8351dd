"""A forgotten password (``/login/forgot``).

1. ``start``: the user types their username. When it is an active account with a mobile phone,
   a six-digit code valid for ``VALID_FOR`` goes to that phone through the outbox's SMS channel
   (without a gateway, as under ``make run``, it waits on ``/dev/outbox`` like the phone sign-in
   codes). An active account without a mobile phone gets a request in its user managers' queue
   (``/users/reset-requests``), who issue a temporary password or refuse. The answer is the same
   in every case, an unknown username included. Attempts are throttled per username and per
   client address.
2. ``complete``: the username, the code and a new password. Only the code's keyed hash is
   stored; it expires and is used once; wrong codes count per username, per day and per address
   and lock like the sign-in (``accounts.codes``). Success sets the password, ends every session
   and token of the account and lifts its sign-in lock-out. Every step is audited, never with
   the code or a password."""

from __future__ import annotations

import datetime as dt
import hmac

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yiyang.accounts import codes, phone_sign_in, repository, rules, service, throttle
from yiyang.accounts.models import PasswordResetCode, PasswordResetRequest, User
from yiyang.core import audit
from yiyang.core.clock import now
from yiyang.core.errors import TooManyAttempts, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.security import hash_password
from yiyang.notifications.outbox import enqueue_message

VALID_FOR = dt.timedelta(minutes=10)
DIGITS = 6
PURPOSE = "reset"
ASKED, ASKED_ADDRESS = "rst-ask", "rst-aip"  # requests per username, per address
ASK_LIMITS = {
    ASKED: throttle.Limits(5, dt.timedelta(hours=1), dt.timedelta(hours=1)),
    ASKED_ADDRESS: throttle.Limits(20, dt.timedelta(hours=1), dt.timedelta(hours=1)),
}
WRONG, WRONG_DAY, WRONG_ADDRESS = "rst", "rst-d", "rst-ip"  # wrong codes
DAY_LIMITS = throttle.Limits(10, dt.timedelta(days=1), dt.timedelta(days=1))


def _name(username: str) -> str:
    return username.strip()[:64]


def _user(session: Session, name: str) -> User | None:
    user = repository.user_by_username(session, name)
    return user if user is not None and user.active else None


def mobile(user: User) -> str | None:
    """The user's phone when it can take an SMS (a mainland mobile number), else None."""
    try:
        return phone_sign_in.normalise_phone(user.phone or "")
    except ValidationFailed:
        return None


def _actor(user: User | None, name: str, ip: str | None) -> audit.AuditActor:
    if user is None:
        return audit.AuditActor(None, name or "?", ip=ip)
    return audit.AuditActor(user.id, user.username, user.role, ip=ip)


def start(session: Session, username: str, ip: str | None, at: dt.datetime | None = None) -> None:
    """Send a code or queue a request; raise only when the throttle refuses (the same for
    every username)."""
    current = at or now()
    name = _name(username)
    if not name:
        raise ValidationFailed(_("Enter your username."), field="username")
    address = throttle.address_key(ip)
    for scope, key in ((ASKED, name), (ASKED_ADDRESS, address)):
        refused = codes.locked(session, scope, key, current)
        if refused is not None:
            raise refused
    for scope, key in ((ASKED, name), (ASKED_ADDRESS, address)):
        codes.count_failure(session, scope, key, current, ASK_LIMITS[scope])
    user = _user(session, name)
    with audit.acting_as(_actor(user, name, ip)):
        if user is None:
            audit.record(
                session,
                "password_reset_refused",
                "app_user",
                None,
                summary=f"no active account {name!r} from {address}",
            )
            return
        number = mobile(user)
        if number is None:
            _queue_request(session, user, ip, current)
        else:
            _send_code(session, user, number, current)


def _queue_request(session: Session, user: User, ip: str | None, at: dt.datetime) -> None:
    """One pending request per account: asking again adds none."""
    if repository.pending_requests(session, user.id):
        return
    session.add(
        PasswordResetRequest(
            user_id=user.id, region_path=user.region_path, state="pending", ip=ip, created_at=at
        )
    )
    session.flush()


def _void_live_codes(session: Session, user_id: int, at: dt.datetime) -> None:
    session.execute(
        update(PasswordResetCode)
        .where(PasswordResetCode.user_id == user_id, PasswordResetCode.used_at.is_(None))
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )


def _send_code(session: Session, user: User, number: str, at: dt.datetime) -> None:
    _void_live_codes(session, user.id, at)
    code = codes.new_code(DIGITS)
    row = PasswordResetCode(
        user_id=user.id,
        code_hash=codes.digest(PURPOSE, code),
        created_at=at,
        expires_at=at + VALID_FOR,
    )
    session.add(row)
    session.flush()
    enqueue_message(
        session,
        dedupe_key=f"password-reset-code:{row.id}",
        channel="sms",
        recipient=number,
        label=user.display_name,
        subject=_("Yiyang password reset code"),
        body=_(
            "Your Yiyang password reset code is %(code)s, valid for %(minutes)d minutes. "
            "Do not give it to anyone.",
            code=code,
            minutes=int(VALID_FOR.total_seconds() // 60),
        ),
        payload={"event": "password_reset_code"},
    )
    audit.record(
        session,
        "password_reset_code_sent",
        "app_user",
        str(user.id),
        region_path=user.region_path,
        summary=f"SMS to {number[:3]}****{number[-4:]}",
    )


def complete(
    session: Session,
    username: str,
    code: str,
    new_password: str,
    ip: str | None,
    at: dt.datetime | None = None,
) -> User:
    """Set the new password when the code is right, or raise (a wrong code is counted)."""
    current = at or now()
    name = _name(username)
    address = throttle.address_key(ip)
    counters = ((WRONG, name), (WRONG_DAY, name), (WRONG_ADDRESS, address))
    for scope, key in counters:
        refused = codes.locked(session, scope, key, current)
        if refused is not None:
            raise refused
    problem = rules.check_new_password(new_password, name)
    if problem is not None:  # before the code is looked at: says nothing about the account
        raise ValidationFailed(problem, field="password")
    user = _user(session, name)
    match = _matching_code(session, user, code, current) if user is not None else None
    if user is None or match is None:
        raise _wrong_code(session, user, name, address, ip, current)
    codes.forget(session, WRONG, name)
    match.used_at = current
    with audit.acting_as(_actor(user, name, ip)):
        user.password_hash = hash_password(new_password)
        user.must_change_password = False
        session.flush()
        service.revoke_all(session, user, "token_revoked")
        repository.forget_username_counters(session, (throttle.ACCOUNT,), user.username)
        audit.record(
            session,
            "password_reset_by_code",
            "app_user",
            str(user.id),
            region_path=user.region_path,
            summary=f"{user.username} set a new password with a code sent to their phone",
        )
    return user


def _matching_code(
    session: Session, user: User, code: str, at: dt.datetime
) -> PasswordResetCode | None:
    digest = codes.digest(PURPOSE, "".join(code.split()))
    candidates = session.scalars(
        select(PasswordResetCode)
        .where(
            PasswordResetCode.user_id == user.id,
            PasswordResetCode.used_at.is_(None),
            PasswordResetCode.expires_at > at,
        )
        .with_for_update()
    ).all()
    return next((c for c in candidates if hmac.compare_digest(c.code_hash, digest)), None)


def _wrong_code(
    session: Session,
    user: User | None,
    name: str,
    address: str,
    ip: str | None,
    at: dt.datetime,
) -> TooManyAttempts:
    by_name = codes.count_failure(session, WRONG, name, at)
    by_day = codes.count_failure(session, WRONG_DAY, name, at, DAY_LIMITS)
    by_address = codes.count_failure(session, WRONG_ADDRESS, address, at)
    with audit.acting_as(_actor(user, name, ip)):
        audit.record(
            session,
            "password_reset_failed",
            "app_user",
            str(user.id) if user else None,
            region_path=user.region_path if user else None,
            summary=f"wrong password reset code for {name!r}, attempt {by_name.failures}",
        )
    locked = [c for c in (by_day, by_name, by_address) if c.locked_until is not None]
    if locked and user is not None:
        _void_live_codes(session, user.id, at)
    worst = max(locked, key=lambda c: c.locked_until or at) if locked else by_name
    return codes.refusal(worst, at, _("The code is wrong or has expired."))


def forget_locks(session: Session, user: User) -> int:
    """An admin's unlock: the account's wrong-code and request counters go too."""
    cleared = 0
    for scope in (WRONG, WRONG_DAY, ASKED):
        cleared += repository.forget_username_counters(session, (scope,), user.username)
    return cleared
