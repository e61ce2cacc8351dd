"""Request authentication: bearer token for the API, cookie session for pages; CSRF for cookie
writes; ``require(perm)`` for permission checks. Sets the audit actor for the request."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from yiyang.core import audit
from yiyang.core.db import unit_of_work
from yiyang.core.errors import Forbidden, NotAuthenticated
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor

COOKIE = "yiyang_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _lookup(token: str, kind: str) -> Actor | None:
    from yiyang.accounts.service import resolve_token

    with unit_of_work() as session:
        return resolve_token(session, token, kind)


async def optional_actor(request: Request) -> Actor | None:
    if hasattr(request.state, "actor"):
        cached: Actor | None = request.state.actor
        return cached
    header = request.headers.get("authorization", "")
    actor: Actor | None = None
    via_cookie = False
    if header.lower().startswith("bearer "):
        actor = await run_in_threadpool(_lookup, header[7:].strip(), "api")
    elif token := request.cookies.get(COOKIE):
        actor = await run_in_threadpool(_lookup, token, "cookie")
        via_cookie = True
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


async def current_actor(actor: Actor | None = Depends(optional_actor)) -> Actor:
    if actor is None:
        raise NotAuthenticated(_("Please sign in."))
    return actor


def require(perm: Perm) -> Callable[[Actor], Awaitable[Actor]]:
    async def dependency(actor: Actor = Depends(current_actor)) -> Actor:
        if not actor.can(perm):
            raise Forbidden(_("Your role may not do this."))
        return actor

    return dependency
