from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from yiyang.accounts import service, user_endpoints, users
from yiyang.accounts.schemas import Me, PasswordChange, SessionListItem, TokenCreate, TokenRead
from yiyang.core.auth import client_ip, current_actor, request_token
from yiyang.core.db import DB, unit_of_work
from yiyang.core.errors import DomainError
from yiyang.core.roles import ROLE_PERMS
from yiyang.core.scoping import Actor

auth = APIRouter(prefix="/api/auth", tags=["auth"])


def login_committed(
    username: str, password: str, kind: str, ip: str | None
) -> tuple[str, dt.datetime]:
    """Log in in a unit of work of its own, so a failed attempt's count is committed even
    though the attempt itself raises."""
    failure: DomainError | None = None
    with unit_of_work() as session:
        try:
            result = service.login(session, username, password, kind=kind, ip=ip)
            return result.token, result.session.expires_at
        except DomainError as exc:
            failure = exc
    raise failure


async def slow_down(username: str, ip: str | None) -> None:
    """Hold the attempt back by the failures this (username, address) pair has run up."""

    def count() -> int:
        with unit_of_work() as session:
            return service.pending_failures(session, username, ip)

    delay = service.failure_delay(await run_in_threadpool(count))
    if delay:
        await asyncio.sleep(delay)


@auth.post("/token", response_model=TokenRead, summary="Exchange username/password for a token")
async def token(data: TokenCreate, request: Request) -> TokenRead:
    ip = client_ip(request)
    await slow_down(data.username, ip)
    value, expires = await run_in_threadpool(
        login_committed, data.username, data.password, "api", ip
    )
    return TokenRead(access_token=value, expires_at=expires)


@auth.get("/me", response_model=Me)
def me(actor: Annotated[Actor, Depends(current_actor)]) -> Me:
    return Me(
        id=actor.user_id,
        username=actor.username,
        display_name=actor.display_name,
        role=actor.role,
        region_path=actor.region_path,
        permissions=sorted(p.value for p in ROLE_PERMS[actor.role]),
    )


@auth.post("/logout", status_code=204)
def logout(
    request: Request,
    actor: Annotated[Actor, Depends(current_actor)],
    session: DB,
) -> None:
    credential = request_token(request)
    if credential is not None:
        service.logout(session, credential[0])


def _current_session_id(request: Request, session: Session) -> int | None:
    credential = request_token(request)
    return service.session_id_for(session, *credential) if credential else None


@auth.get(
    "/tokens",
    response_model=list[SessionListItem],
    summary="Your browser sessions and API tokens (a user manager: ?user_id= for a user in area)",
)
def list_tokens(
    request: Request,
    actor: Annotated[Actor, Depends(current_actor)],
    session: DB,
    user_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[SessionListItem]:
    current = _current_session_id(request, session)
    return [
        SessionListItem(
            id=s.id,
            kind=s.kind,
            created_at=s.created_at,
            expires_at=s.expires_at,
            ip=s.ip,
            current=s.id == current,
        )
        for s in service.list_sessions(session, actor, user_id)
    ]


@auth.delete(
    "/tokens/{token_id}",
    status_code=204,
    summary="Revoke a session or API token (yours, or a user's in your area as a user manager)",
)
def revoke_token(
    actor: Annotated[Actor, Depends(current_actor)],
    session: DB,
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> None:
    service.revoke_session(session, actor, token_id)


@auth.post(
    "/password",
    response_model=Me,
    summary="Change your own password (also a temporary one an admin issued)",
)
def change_password(
    data: PasswordChange, actor: Annotated[Actor, Depends(current_actor)], session: DB
) -> Me:
    user = users.change_own_password(session, actor, data.current_password, data.new_password)
    return me(service.actor_for(user))


# What the app includes: sign-in and tokens, and user management (``accounts.user_endpoints``).
router = APIRouter()
router.include_router(auth)
router.include_router(user_endpoints.router)
