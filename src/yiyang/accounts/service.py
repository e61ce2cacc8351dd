"""Login with slow-down and lock-out, session/token issue and lookup, user creation."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yiyang.accounts.models import AuthSession, User
from yiyang.core import audit
from yiyang.core.clock import now
from yiyang.core.config import get_settings
from yiyang.core.errors import NotAuthenticated, TooManyAttempts, ValidationFailed
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


@dataclass(frozen=True)
class LoginResult:
    token: str
    session: AuthSession
    user: User


def failure_delay(failures: int) -> float:
    """Seconds to hold a failed login back: 0, 0, 0.5, 1, 2, 4 … capped at 4."""
    if failures < 3:
        return 0.0
    return float(min(0.5 * 2 ** (failures - 3), 4.0))


def login(
    session: Session, username: str, password: str, *, kind: str, ip: str | None
) -> LoginResult:
    settings = get_settings()
    user = session.scalar(select(User).where(User.username == username.strip()))
    current = now()
    if user is None:
        burn_verify(password)
        audit.record(
            session,
            "login_failed",
            "app_user",
            None,
            summary=f"unknown user {username!r}",
            actor=audit.AuditActor(None, username[:64] or "?", ip=ip),
        )
        raise NotAuthenticated(_("Wrong username or password."))
    actor = audit.AuditActor(user.id, user.username, user.role, ip=ip)
    if user.locked_until and user.locked_until > current:
        minutes = max(1, int((user.locked_until - current).total_seconds() // 60) + 1)
        raise TooManyAttempts(
            _("Too many failed attempts. Try again in %(minutes)d minutes.", minutes=minutes),
            retry_after=minutes * 60,
        )
    if not user.active or not verify_password(user.password_hash, password):
        failures = user.failed_logins + 1
        values: dict[str, object] = {"failed_logins": failures}
        if failures >= settings.login_max_failures:
            values["locked_until"] = current + dt.timedelta(minutes=settings.login_lock_minutes)
        session.execute(update(User).where(User.id == user.id).values(**values))
        audit.record(
            session,
            "login_failed",
            "app_user",
            str(user.id),
            actor=actor,
            region_path=user.region_path,
            summary=f"failed attempt {failures}",
        )
        if "locked_until" in values:
            audit.record(
                session,
                "account_locked",
                "app_user",
                str(user.id),
                actor=actor,
                region_path=user.region_path,
            )
            raise TooManyAttempts(
                _(
                    "Too many failed attempts. Try again in %(minutes)d minutes.",
                    minutes=settings.login_lock_minutes,
                ),
                retry_after=settings.login_lock_minutes * 60,
            )
        raise NotAuthenticated(_("Wrong username or password."), failures=failures)
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=0, locked_until=None, last_login_at=current)
    )
    token = new_token()
    hours = settings.session_hours if kind == "cookie" else settings.api_token_hours
    auth = AuthSession(
        token_hash=token_digest(token),
        user_id=user.id,
        kind=kind,
        ip=ip,
        csrf_token=secrets.token_urlsafe(24),
        created_at=current,
        expires_at=current + dt.timedelta(hours=hours),
    )
    session.add(auth)
    audit.record(
        session,
        "login",
        "app_user",
        str(user.id),
        actor=actor,
        summary=kind,
        region_path=user.region_path,
    )
    session.flush()
    return LoginResult(token=token, session=auth, user=user)


def failed_logins(session: Session, username: str) -> int:
    return session.scalar(select(User.failed_logins).where(User.username == username.strip())) or 0


def resolve_token(session: Session, token: str, kind: str) -> Actor | None:
    row = session.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.token_hash == token_digest(token), AuthSession.kind == kind)
    ).first()
    if row is None:
        return None
    auth, user = row
    if auth.revoked or auth.expires_at <= now() or not user.active:
        return None
    return actor_for(user, csrf_token=auth.csrf_token)


def actor_for(user: User, csrf_token: str | None = None) -> Actor:
    """The acting user as the rest of the code sees it (requests, CLI jobs, demo loading)."""
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        region_id=user.region_id,
        region_path=user.region_path,
        provider_id=user.provider_id,
        csrf_token=csrf_token,
    )


def logout(session: Session, token: str) -> None:
    session.execute(
        update(AuthSession)
        .where(AuthSession.token_hash == token_digest(token))
        .values(revoked=True)
    )
    audit.record(session, "logout", "auth_session", None)


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
