"""Queries for accounts: sign-in throttle counters, sessions and API tokens, and the managed
accounts (through the central ``MANAGED_USERS`` rule)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from yiyang.accounts import throttle
from yiyang.accounts.models import (
    AuthSession,
    LoginThrottle,
    PasswordResetRequest,
    User,
    UserElderLink,
)
from yiyang.accounts.throttle import Counter
from yiyang.core import scoping
from yiyang.core.scoping import Actor
from yiyang.core.security import token_digest

MANAGED_USERS = "accounts.managed_users"  # the row rule accounts.permissions registers


def _as_counter(row: LoginThrottle | None) -> Counter | None:
    if row is None:
        return None
    return Counter(row.failures, row.first_failure_at, row.locked_until)


def counter(session: Session, scope: str, address: str, username: str = "") -> Counter | None:
    row = session.scalar(
        select(LoginThrottle).where(
            LoginThrottle.scope == scope,
            LoginThrottle.address == address,
            LoginThrottle.username == username,
        )
    )
    return _as_counter(row)


def counter_for_update(
    session: Session, scope: str, address: str, username: str, at: dt.datetime
) -> Counter | None:
    """The counter, row-locked on PostgreSQL so concurrent failures each count; created empty
    first when missing (an insert that ignores a concurrent one)."""
    values = {
        "scope": scope,
        "address": address,
        "username": username,
        "failures": 0,
        "first_failure_at": at,
        "last_failure_at": at,
    }
    if session.get_bind().dialect.name == "postgresql":
        session.execute(postgresql.insert(LoginThrottle).values(values).on_conflict_do_nothing())
    else:
        session.execute(sqlite.insert(LoginThrottle).values(values).on_conflict_do_nothing())
    row = session.scalar(
        select(LoginThrottle)
        .where(
            LoginThrottle.scope == scope,
            LoginThrottle.address == address,
            LoginThrottle.username == username,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None or row.failures == 0:
        return None
    return _as_counter(row)


def store_counter(
    session: Session, scope: str, address: str, username: str, value: Counter, at: dt.datetime
) -> None:
    session.execute(
        update(LoginThrottle)
        .where(
            LoginThrottle.scope == scope,
            LoginThrottle.address == address,
            LoginThrottle.username == username,
        )
        .values(
            failures=value.failures,
            first_failure_at=value.first_failure_at,
            last_failure_at=at,
            locked_until=value.locked_until,
        )
    )


def forget_counter(session: Session, scope: str, address: str, username: str) -> None:
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.scope == scope,
            LoginThrottle.address == address,
            LoginThrottle.username == username,
        )
    )


def purge_counters(session: Session, address: str, before: dt.datetime, at: dt.datetime) -> None:
    """Drop an address's counters that no longer count (last failure before ``before``, no lock
    running), so a spray of made-up usernames does not leave rows behind for ever."""
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.address == address,
            LoginThrottle.last_failure_at < before,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= at),
        )
    )


def user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def session_by_token(session: Session, token: str, kind: str) -> tuple[AuthSession, User] | None:
    row = session.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.token_hash == token_digest(token), AuthSession.kind == kind)
    ).first()
    return None if row is None else (row[0], row[1])


def active_sessions(session: Session, user_id: int, at: dt.datetime) -> list[AuthSession]:
    return list(
        session.scalars(
            select(AuthSession)
            .where(
                AuthSession.user_id == user_id,
                AuthSession.revoked.is_(False),
                AuthSession.expires_at > at,
            )
            .order_by(AuthSession.created_at.desc(), AuthSession.id.desc())
        )
    )


def session_with_user(session: Session, session_id: int) -> tuple[AuthSession, User] | None:
    row = session.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.id == session_id)
    ).first()
    return None if row is None else (row[0], row[1])


def user_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


# --- user management (always through the MANAGED_USERS rule) ---


def managed(actor: Actor) -> Select[User]:
    """Every query for managed accounts starts here: the central ``MANAGED_USERS`` rule."""
    return select(User).where(scoping.row_rule(MANAGED_USERS)(actor))


def search_users(
    session: Session,
    actor: Actor,
    *,
    q: str = "",
    role: str | None = None,
    active: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[User]:
    stmt = managed(actor)
    text = q.strip()
    if text:
        like = f"%{text}%"
        stmt = stmt.where(
            or_(
                User.username.ilike(like, escape="\\"),
                User.display_name.ilike(like, escape="\\"),
                User.phone.ilike(like, escape="\\"),
            )
        )
    if role:
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    return list(session.scalars(stmt.order_by(User.username).limit(limit).offset(offset)))


def managed_user(session: Session, actor: Actor, user_id: int) -> User | None:
    return session.scalar(managed(actor).where(User.id == user_id))


def locked_usernames(session: Session, usernames: Sequence[str], at: dt.datetime) -> set[str]:
    """Which of these usernames are locked out (from any address) at ``at``."""
    if not usernames:
        return set()
    return set(
        session.scalars(
            select(LoginThrottle.username).where(
                LoginThrottle.scope == throttle.ACCOUNT,
                LoginThrottle.username.in_(usernames),
                LoginThrottle.locked_until > at,
            )
        )
    )


def forget_username_counters(session: Session, scopes: Sequence[str], username: str) -> int:
    """Drop a username's counters in these scopes, from every address (an unlock)."""
    result = session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.scope.in_(scopes), LoginThrottle.username == username
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def linked_elder_ids(session: Session, user_id: int) -> list[int]:
    return list(
        session.scalars(
            select(UserElderLink.elder_id)
            .where(UserElderLink.user_id == user_id)
            .order_by(UserElderLink.elder_id)
        )
    )


def links_of(session: Session, user_id: int) -> list[UserElderLink]:
    return list(session.scalars(select(UserElderLink).where(UserElderLink.user_id == user_id)))


def reset_requests(
    session: Session, actor: Actor, state: str | None = "pending", limit: int = 100
) -> list[tuple[PasswordResetRequest, User]]:
    stmt = (
        select(PasswordResetRequest, User)
        .join(User, User.id == PasswordResetRequest.user_id)
        .where(scoping.row_rule(MANAGED_USERS)(actor))
    )
    if state:
        stmt = stmt.where(PasswordResetRequest.state == state)
    rows = session.execute(
        stmt.order_by(PasswordResetRequest.created_at.desc(), PasswordResetRequest.id.desc()).limit(
            limit
        )
    ).all()
    return [(r[0], r[1]) for r in rows]


def pending_requests(session: Session, user_id: int) -> list[PasswordResetRequest]:
    return list(
        session.scalars(
            select(PasswordResetRequest).where(
                PasswordResetRequest.user_id == user_id, PasswordResetRequest.state == "pending"
            )
        )
    )
