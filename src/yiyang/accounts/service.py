"""Sign-in with slow-down and lock-out per (username, client address) and per address; session
and API token issue, lookup, listing and revocation; user creation."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiyang.accounts import repository, rules, throttle
from yiyang.accounts.models import AuthSession, User
from yiyang.accounts.throttle import failure_delay as failure_delay
from yiyang.core import audit, auth, events
from yiyang.core.clock import now
from yiyang.core.config import get_settings
from yiyang.core.errors import NotAuthenticated, NotFound, TooManyAttempts, ValidationFailed
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Role
from yiyang.core.scoping import Actor
from yiyang.core.security import (
    burn_verify,
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from yiyang.regions.models import Region

SESSION_ENDED = "session.ended"  # event: a session or token was signed out or revoked


@dataclass(frozen=True)
class LoginResult:
    token: str
    session: AuthSession
    user: User


def _limits() -> tuple[throttle.Limits, throttle.Limits]:
    """(per username and address, per address)."""
    s = get_settings()
    window = dt.timedelta(minutes=s.login_window_minutes)
    lock = dt.timedelta(minutes=s.login_lock_minutes)
    return (
        throttle.Limits(s.login_max_failures, window, lock),
        throttle.Limits(s.login_address_max_failures, window, lock),
    )


def _locked_out(until: dt.datetime, at: dt.datetime) -> TooManyAttempts:
    minutes = throttle.minutes_left(until, at)
    return TooManyAttempts(
        _("Too many failed attempts. Try again in %(minutes)d minutes.", minutes=minutes),
        retry_after=minutes * 60,
    )


def login(
    session: Session,
    username: str,
    password: str,
    *,
    kind: str,
    ip: str | None,
    at: dt.datetime | None = None,
) -> LoginResult:
    """Sign in, or raise. Known and unknown usernames take the same path (a password hash is
    always verified, failures count per (username, address) either way), so neither the answer
    nor its timing says whether a username exists."""
    current = at or now()
    name = username.strip()[:64]
    address = throttle.address_key(ip)
    per_account, per_address = _limits()
    until = max(
        (
            u
            for u in (
                throttle.locked_until(
                    repository.counter(session, throttle.ACCOUNT, address, name), current
                ),
                throttle.locked_until(
                    repository.counter(session, throttle.ADDRESS, address), current
                ),
            )
            if u is not None
        ),
        default=None,
    )
    if until is not None:
        raise _locked_out(until, current)
    user = repository.user_by_username(session, name)
    if user is None:
        burn_verify(password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password) and user.active
    if not ok:
        _count_failure(session, user, name, address, ip, current, per_account, per_address)
        raise NotAuthenticated(_("Wrong username or password."))
    repository.forget_counter(session, throttle.ACCOUNT, address, name)
    assert user is not None
    return start_session(session, user, kind=kind, ip=ip, at=current)


def start_session(
    session: Session,
    user: User,
    *,
    kind: str,
    ip: str | None,
    at: dt.datetime,
    how: str = "",
) -> LoginResult:
    """A new login for ``user`` (after a password or a one-time code was checked), audited."""
    settings = get_settings()
    user.last_login_at = at
    token = new_token()
    hours = settings.session_hours if kind == "cookie" else settings.api_token_hours
    auth = AuthSession(
        token_hash=token_digest(token),
        user_id=user.id,
        kind=kind,
        ip=ip,
        csrf_token=secrets.token_urlsafe(24),
        created_at=at,
        expires_at=at + dt.timedelta(hours=hours),
    )
    session.add(auth)
    audit.record(
        session,
        "login",
        "app_user",
        str(user.id),
        actor=audit.AuditActor(user.id, user.username, user.role, ip=ip),
        summary=f"{kind}, {how}" if how else kind,
        region_path=user.region_path,
    )
    session.flush()
    return LoginResult(token=token, session=auth, user=user)


def _count_failure(
    session: Session,
    user: User | None,
    name: str,
    address: str,
    ip: str | None,
    at: dt.datetime,
    per_account: throttle.Limits,
    per_address: throttle.Limits,
) -> None:
    """Count a failure on both counters and audit it; raise 429 when this one locked either."""
    if user is not None:
        actor = audit.AuditActor(user.id, user.username, user.role, ip=ip)
        entity_id, region_path, who = str(user.id), user.region_path, ""
    else:
        actor = audit.AuditActor(None, name or "?", ip=ip)
        entity_id, region_path, who = None, None, f"unknown user {name!r}, "
    pair = throttle.after_failure(
        repository.counter_for_update(session, throttle.ACCOUNT, address, name, at),
        at,
        per_account,
    )
    repository.store_counter(session, throttle.ACCOUNT, address, name, pair, at)
    before = repository.counter_for_update(session, throttle.ADDRESS, address, "", at)
    site = throttle.after_failure(before, at, per_address)
    repository.store_counter(session, throttle.ADDRESS, address, "", site, at)
    if site.failures == 1:  # a new window for this address: tidy its lapsed counters
        repository.purge_counters(session, address, at - per_address.window, at)
    audit.record(
        session,
        "login_failed",
        "app_user",
        entity_id,
        actor=actor,
        region_path=region_path,
        summary=f"{who}failed attempt {pair.failures} from {address}",
    )
    if pair.locked_until is not None:
        audit.record(
            session,
            "account_locked",
            "app_user",
            entity_id,
            actor=actor,
            region_path=region_path,
            summary=f"{who}locked for sign-in from {address} until {pair.locked_until:%H:%M} UTC",
        )
    if site.locked_until is not None:
        audit.record(
            session,
            "address_locked",
            "login_address",
            address,
            actor=actor,
            summary=f"{site.failures} failed sign-ins from {address}; "
            f"locked until {site.locked_until:%H:%M} UTC",
        )
    until = max((u for u in (pair.locked_until, site.locked_until) if u is not None), default=None)
    if until is not None:
        raise _locked_out(until, at)


def pending_failures(session: Session, username: str, ip: str | None) -> int:
    """Failures that still count for this (username, address): what the slow-down goes by."""
    per_account, _per_address = _limits()
    found = repository.counter(
        session, throttle.ACCOUNT, throttle.address_key(ip), username.strip()[:64]
    )
    return throttle.current_failures(found, now(), per_account)


def resolve_token(session: Session, token: str, kind: str) -> Actor | None:
    found = repository.session_by_token(session, token, kind)
    if found is None:
        return None
    auth, user = found
    if not _usable(auth, user, now()):
        return None
    return actor_for(user, csrf_token=auth.csrf_token)


def _usable(auth: AuthSession, user: User, at: dt.datetime) -> bool:
    return not auth.revoked and auth.expires_at > at and user.active


def session_id_for(session: Session, token: str, kind: str) -> int | None:
    """The id of the session this token opened, if it is still usable."""
    found = repository.session_by_token(session, token, kind)
    return found[0].id if found is not None and _usable(*found, now()) else None


def session_alive(session: Session, session_id: int) -> bool:
    """Whether a session is still usable (not signed out, revoked or expired; user active):
    what a long-lived console stream re-checks."""
    found = repository.session_with_user(session, session_id)
    return found is not None and _usable(*found, now())


def actor_for(user: User, csrf_token: str | None = None) -> Actor:
    """The acting user as the rest of the code sees it (requests, CLI jobs, demo loading). A
    user signed in with a temporary password carries ``auth.PASSWORD_CHANGE`` in ``extra``:
    ``core.auth`` lets them reach only the password change until they chose their own."""
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        region_id=user.region_id,
        region_path=user.region_path,
        provider_id=user.provider_id,
        csrf_token=csrf_token,
        extra={auth.PASSWORD_CHANGE: "1"} if user.must_change_password else {},
    )


def logout(session: Session, token: str) -> None:
    for kind in ("cookie", "api"):
        found = repository.session_by_token(session, token, kind)
        if found is not None and not found[0].revoked:
            _revoke(session, found[0], found[1], "logout")


def _revoke(session: Session, auth: AuthSession, user: User, action: str) -> None:
    """Revoke a session or token at once, audit it, and tell open console streams to end."""
    auth.revoked = True
    session.flush()
    audit.record(
        session,
        action,
        "auth_session",
        str(auth.id),
        region_path=user.region_path,
        summary=f"{auth.kind} of {user.username}",
    )
    events.emit(session, SESSION_ENDED, {"session_id": auth.id, "user_id": user.id})


def revoke_all(session: Session, user: User, action: str) -> int:
    """Revoke every usable session and API token of ``user`` (a password was reset or
    replaced), each audited; how many."""
    live = repository.active_sessions(session, user.id, now())
    for auth_session in live:
        _revoke(session, auth_session, user, action)
    return len(live)


def list_sessions(session: Session, actor: Actor, user_id: int | None = None) -> list[AuthSession]:
    """Unexpired, unrevoked sessions and API tokens: one's own, or (for a user manager) those of a
    user in their area."""
    owner = _manageable_user(session, actor, user_id)
    return repository.active_sessions(session, owner.id, now())


def revoke_session(session: Session, actor: Actor, session_id: int) -> AuthSession:
    """Revoke one of one's own sessions or tokens, or (for a user manager) one of a user in their
    area. It stops working at once; audited."""
    found = repository.session_with_user(session, session_id)
    if found is None or not _may_manage(actor, found[1]):
        raise NotFound(_("No such session or token."))
    auth, user = found
    if not auth.revoked:
        _revoke(session, auth, user, "token_revoked")
    return auth


def _may_manage(actor: Actor, user: User) -> bool:
    """One's own account, or (a user manager) a user in one's area whose role does not rank
    above one's own (``accounts.rules``)."""
    return user.id == actor.user_id or rules.may_manage(actor, Role(user.role), user.region_path)


def _manageable_user(session: Session, actor: Actor, user_id: int | None) -> User:
    user = repository.user_by_id(session, actor.user_id if user_id is None else user_id)
    if user is None or not _may_manage(actor, user):
        raise NotFound(_("No such user."))
    return user


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    display_name: str,
    role: Role,
    region_code: str,
    provider_id: int | None = None,
    phone: str | None = None,
) -> User:
    region = session.scalar(select(Region).where(Region.code == region_code))
    if region is None:
        raise ValidationFailed(_("Unknown region code %(code)s.", code=region_code), field="region")
    if len(password) < 8:
        raise ValidationFailed(_("The password must have at least 8 characters."), field="password")
    if session.scalar(select(User.id).where(User.username == username)):
        raise ValidationFailed(_("That username is taken."), field="username")
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
        region_id=region.id,
        region_path=region.path,
        provider_id=provider_id,
        phone=phone,
    )
    session.add(user)
    session.flush()
    return user
