from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from yiyang.core.audit import Audited
from yiyang.core.clock import now
from yiyang.core.db import Base
from yiyang.core.roles import Role


class User(Audited, Base):
    __tablename__ = "app_user"
    __audit_exclude__ = frozenset({"password_hash", "last_login_at"})

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(String(32))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    region_path: Mapped[str] = mapped_column(String(255))
    # The provider organisation for provider_admin / caregiver (providers arrive with services).
    provider_id: Mapped[int | None] = mapped_column(Integer)
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when an admin issued a temporary password: the user must choose their own at the
    # next sign-in before anything else (``accounts.users``).
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    last_login_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


class UserElderLink(Audited, Base):
    """Binds a person-scoped user (family, elder, doctor, caregiver, volunteer) to elders."""

    __tablename__ = "user_elder_link"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elder.id"), primary_key=True, index=True)
    relation: Mapped[str | None] = mapped_column(String(32))


class AuthSession(Base):
    """A login: a browser cookie or an API bearer token. Only the token's hash is stored."""

    __tablename__ = "auth_session"
    __table_args__ = (Index("ix_auth_session_user", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(8))  # "cookie" | "api"
    csrf_token: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    expires_at: Mapped[dt.datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginThrottle(Base):
    """Failed sign-ins counted per (username, client address) — scope "account" — and per client
    address — scope "address", username "" (see ``accounts.throttle``). Unknown usernames get
    rows like known ones; a success deletes its own pair's row."""

    __tablename__ = "login_throttle"
    __table_args__ = (
        UniqueConstraint("scope", "address", "username", name="uq_login_throttle_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))  # "account" | "address"
    address: Mapped[str] = mapped_column(String(64))  # IPv4, IPv6 /64, or the peer's name
    username: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer)
    first_failure_at: Mapped[dt.datetime]
    last_failure_at: Mapped[dt.datetime]
    locked_until: Mapped[dt.datetime | None]


class LinkInvitation(Audited, Base):
    """A one-time code that links a family member's account to an elder. Issued by a staff
    member in the elder's area or by a family member already linked; only the code's hash is
    stored; it expires, and is used at most once (``accounts.invitations``)."""

    __tablename__ = "link_invitation"
    __audit_exclude__ = frozenset({"code_hash"})
    __table_args__ = (Index("ix_link_invitation_elder", "elder_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elder.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    relation: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    def audit_elder_id(self) -> int | None:
        return self.elder_id


class PhoneSignInCode(Base):
    """A one-time sign-in code sent by SMS to a family member's phone (``accounts.phone_sign_in``):
    only its keyed hash is stored; it expires and is used once. Sending and using are audited
    as events (this row is not itself an edit of anything)."""

    __tablename__ = "phone_sign_in_code"
    __table_args__ = (Index("ix_phone_sign_in_code_phone", "phone", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class PasswordResetCode(Base):
    """A one-time code sent by SMS to a staff member's own phone to reset their password
    (``accounts.recovery``): only its keyed hash is stored; it expires and is used once.
    Sending and using are audited as events."""

    __tablename__ = "password_reset_code"
    __table_args__ = (Index("ix_password_reset_code_user", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class PasswordResetRequest(Audited, Base):
    """A user without a phone asked for their password to be reset: a row in the admins' queue
    (``/users/reset-requests``), handled by issuing a temporary password or refused."""

    __tablename__ = "password_reset_request"
    __table_args__ = (Index("ix_password_reset_request_state", "state", "region_path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    region_path: Mapped[str] = mapped_column(String(255))  # the user's, for scoping
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|reset|refused
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    handled_at: Mapped[dt.datetime | None]
