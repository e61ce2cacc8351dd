"""Request authentication: bearer token for the API, cookie session for pages; CSRF for cookie
writes; ``require(perm)`` for permission checks. Sets the audit actor for the request.

Tokens are looked up in the ``SessionStore`` the accounts domain installs at start-up
(``accounts.permissions.register()`` via ``yiyang.domains.install()``); core imports no domain.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import uuid
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Protocol

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from yiyang.core import audit
from yiyang.core.config import get_settings
from yiyang.core.db import unit_of_work
from yiyang.core.errors import Forbidden, NotAuthenticated
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor

COOKIE = "yiyang_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# An actor signed in with a temporary password an admin issued carries this key in ``extra``
# (the session store sets it) and may reach only these paths until they chose their own.
PASSWORD_CHANGE = "must_change_password"
PASSWORD_CHANGE_PATHS = frozenset(
    {"/account/password", "/logout", "/api/auth/password", "/api/auth/logout", "/api/auth/me"}
)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=4)
def _trusted_networks(spec: str) -> tuple[Network, ...]:
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_ip(request: Request) -> str | None:
    """The client's address. The TCP peer, unless it is a trusted proxy (YIYANG_TRUSTED_PROXIES):
    then X-Forwarded-For is read from the right, and the first address not itself a trusted
    proxy is the client (entries left of it are whatever the client chose to send)."""
    peer = request.client.host if request.client else None
    networks = _trusted_networks(get_settings().trusted_proxies)
    if peer is None or not networks:
        return peer
    address = _ip(peer)
    if address is None or not any(address in n for n in networks):
        return peer
    hops = [h for v in request.headers.getlist("x-forwarded-for") for h in v.split(",")]
    for hop in reversed(hops):
        parsed = _ip(hop)
        if parsed is None:  # garbage: the hop that wrote it is the last one we can believe
            break
        address = parsed
        if not any(address in n for n in networks):
            break
    return str(address)


def request_token(request: Request) -> tuple[str, str] | None:
    """The credential this request carries: (token, "api") for a bearer token, (token,
    "cookie") for the browser session cookie."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), "api"
    if token := request.cookies.get(COOKIE):
        return token, "cookie"
    return None


class SessionStore(Protocol):
    """Where a token is looked up ("api" bearer tokens, "cookie" browser sessions)."""

    def resolve_token(self, session: Session, token: str, kind: str) -> Actor | None:
        """The actor a usable token stands for, else None."""
        ...

    def session_id_for(self, session: Session, token: str, kind: str) -> int | None:
        """The id of the session a usable token opened, else None."""
        ...

    def session_alive(self, session: Session, session_id: int) -> bool:
        """Whether a session is still usable (not signed out, revoked, expired; user active)."""
        ...


_stores: list[SessionStore] = []  # the one installed store (a list: no module global rebinding)


def set_session_store(store: SessionStore) -> None:
    """Install the token lookup (the accounts domain does, at start-up); idempotent."""
    _stores[:] = [store]


def session_store() -> SessionStore:
    if not _stores:
        raise RuntimeError(
            "no session store is installed in yiyang.core.auth: call yiyang.domains.install() "
            "at start-up (the accounts domain registers it in accounts.permissions.register())"
        )
    return _stores[0]


def _lookup(token: str, kind: str) -> Actor | None:
    store = session_store()
    with unit_of_work() as session:
        return store.resolve_token(session, token, kind)


def _session_id(token: str, kind: str) -> int | None:
    store = session_store()
    with unit_of_work() as session:
        return store.session_id_for(session, token, kind)


def _session_alive(session_id: int) -> bool:
    store = session_store()
    with unit_of_work() as session:
        return store.session_alive(session, session_id)


async def session_watch(request: Request) -> tuple[int | None, Callable[[], Awaitable[bool]]]:
    """For a long-lived response (an event stream): the id of the session the request runs
    under, and a check whether that session is still usable (not signed out, revoked or
    expired, its user still active)."""
    credential = request_token(request)
    session_id = await run_in_threadpool(_session_id, *credential) if credential else None

    async def alive() -> bool:
        return session_id is not None and await run_in_threadpool(_session_alive, session_id)

    return session_id, alive


async def optional_actor(request: Request) -> Actor | None:
    if hasattr(request.state, "actor"):
        cached: Actor | None = request.state.actor
        return cached
    credential = request_token(request)
    actor: Actor | None = None
    via_cookie = credential is not None and credential[1] == "cookie"
    if credential is not None:
        actor = await run_in_threadpool(_lookup, *credential)
    if actor is not None:
        if via_cookie and request.method not in SAFE_METHODS:
            await _check_csrf(request, actor)
        ip = client_ip(request)
        actor = dataclasses.replace(actor, ip=ip)
        # An async dependency runs in the request's own context, so the endpoint sees this.
        audit.set_actor(
            audit.AuditActor(
                actor.user_id,
                actor.username,
                actor.role.value,
                ip,
                request.headers.get("x-request-id") or str(uuid.uuid4()),
                display_name=actor.display_name,
            )
        )
    request.state.actor = actor
    return actor


async def _check_csrf(request: Request, actor: Actor) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or sent != actor.csrf_token:
        raise Forbidden(_("The form has expired. Reload the page and try again."), code="csrf")


class PasswordChangeRequired(Forbidden):
    code = "password_change_required"


async def current_actor(request: Request, actor: Actor | None = Depends(optional_actor)) -> Actor:
    if actor is None:
        raise NotAuthenticated(_("Please sign in."))
    if actor.extra.get(PASSWORD_CHANGE) and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired(
            _("You signed in with a temporary password: choose your own first (My account).")
        )
    return actor


def require(perm: Perm) -> Callable[[Actor], Awaitable[Actor]]:
    async def dependency(actor: Actor = Depends(current_actor)) -> Actor:
        if not actor.can(perm):
            raise Forbidden(_("Your role may not do this."))
        return actor

    return dependency
