from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from yiyang.accounts import service
from yiyang.accounts.schemas import Me, TokenRead, TokenRequest
from yiyang.core.auth import client_ip, current_actor
from yiyang.core.db import get_session, unit_of_work
from yiyang.core.errors import DomainError
from yiyang.core.roles import ROLE_PERMS
from yiyang.core.scoping import Actor

router = APIRouter(prefix="/api/auth", tags=["auth"])


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


async def slow_down(username: str) -> None:
    def count() -> int:
        with unit_of_work() as session:
            return service.failed_logins(session, username)

    delay = service.failure_delay(await run_in_threadpool(count))
    if delay:
        await asyncio.sleep(delay)


@router.post("/token", response_model=TokenRead, summary="Exchange username/password for a token")
async def token(data: TokenRequest, request: Request) -> TokenRead:
    await slow_down(data.username)
    value, expires = await run_in_threadpool(
        login_committed, data.username, data.password, "api", client_ip(request)
    )
    return TokenRead(access_token=value, expires_at=expires)


@router.get("/me", response_model=Me)
def me(actor: Annotated[Actor, Depends(current_actor)]) -> Me:
    return Me(
        id=actor.user_id,
        username=actor.username,
        display_name=actor.display_name,
        role=actor.role,
        region_path=actor.region_path,
        permissions=sorted(p.value for p in ROLE_PERMS[actor.role]),
    )


@router.post("/logout", status_code=204)
def logout(
    request: Request,
    actor: Annotated[Actor, Depends(current_actor)],
    session: Annotated[Session, Depends(get_session, scope="function")],
) -> None:
    header = request.headers.get("authorization", "")
    token_value = (
        header[7:].strip()
        if header.lower().startswith("bearer ")
        else request.cookies.get("yiyang_session", "")
    )
    service.logout(session, token_value)
