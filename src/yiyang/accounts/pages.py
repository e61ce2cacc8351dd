from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from yiyang.accounts import service
from yiyang.accounts.endpoints import login_committed, slow_down
from yiyang.core.auth import COOKIE, client_ip, current_actor
from yiyang.core.config import get_settings
from yiyang.core.db import get_session
from yiyang.core.errors import DomainError
from yiyang.core.scoping import Actor
from yiyang.web.templating import render

router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/") and not value.startswith("//") else "/elders"


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", next=_safe_next(next), error=None, username="")


@router.post("/login")
async def login_submit(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    from starlette.concurrency import run_in_threadpool

    await slow_down(username)
    try:
        token, _expires = await run_in_threadpool(
            login_committed, username, password, "cookie", client_ip(request)
        )
    except DomainError as exc:
        return render(
            request,
            "login.html",
            status_code=exc.status_code,
            next=_safe_next(next),
            error=exc.message,
            username=username,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    settings = get_settings()
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        max_age=settings.session_hours * 3600,
    )
    return response


@router.post("/logout")
def logout(
    request: Request,
    actor: Annotated[Actor, Depends(current_actor)],
    session: Annotated[Session, Depends(get_session, scope="function")],
) -> Response:
    service.logout(session, request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
