"""Sign-in and sign-out pages, and the account page (one's sessions and API tokens)."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from yiyang.accounts import codes, invitations, phone_sign_in, recovery, service, user_pages, users
from yiyang.accounts.endpoints import login_committed, slow_down
from yiyang.accounts.landing import landing, safe_next
from yiyang.core.auth import (
    COOKIE,
    PASSWORD_CHANGE,
    client_ip,
    current_actor,
    optional_actor,
    request_token,
)
from yiyang.core.config import get_settings
from yiyang.core.db import DB, unit_of_work
from yiyang.core.errors import Conflict, DomainError, Forbidden, TooManyAttempts
from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _
from yiyang.core.scoping import Actor
from yiyang.core.types import NO_NUL
from yiyang.web.actions import run_action
from yiyang.web.templating import render

router = APIRouter(include_in_schema=False)
router.include_router(user_pages.router)  # user management: /users


def _after_login(value: str | None) -> str:
    """A safe local ``next=`` wins; otherwise ``/``, which sends the user to their landing page
    (``landing.landing``, decided by their permissions)."""
    return safe_next(value) or "/"


@router.get("/")
def home(actor: Annotated[Actor | None, Depends(optional_actor)]) -> RedirectResponse:
    """``/``: the signed-in user's landing page (the password change first after a temporary
    password), or the sign-in form."""
    if actor is None:
        return RedirectResponse("/login", status_code=303)
    if actor.extra.get(PASSWORD_CHANGE):
        return RedirectResponse(PASSWORD_PAGE, status_code=303)
    return RedirectResponse(landing(actor.can), status_code=303)


# Login CSRF: before there is a session there is no session token to check, so the sign-in form
# carries a double-submit token: a random value in a cookie of its own and the same value in the
# form. Another site can make a browser post the form, but cannot read or set the cookie (with
# YIYANG_COOKIE_SECURE the __Host- prefix stops even a sibling subdomain from setting it).
def login_csrf_cookie() -> str:
    return "__Host-yiyang_login_csrf" if get_settings().cookie_secure else "yiyang_login_csrf"


def _login_form(
    request: Request,
    *,
    status_code: int = 200,
    next: str | None = None,
    error: str | None = None,
    username: str = "",
    fresh: bool = False,
    template: str = "login.html",
    **extra: object,
) -> Response:
    cookie = login_csrf_cookie()
    token = request.cookies.get(cookie, "")
    if fresh or len(token) != 32:
        token = secrets.token_urlsafe(24)
    response = render(
        request,
        template,
        status_code=status_code,
        next=safe_next(next) or "",
        error=error,
        username=username,
        login_csrf=token,
        **extra,
    )
    response.set_cookie(
        cookie,
        token,
        httponly=True,
        samesite="lax",
        secure=get_settings().cookie_secure,
        path="/",
    )
    return response


# Notices the sign-in page shows by a fixed code in the link, never text from the link.
LOGIN_NOTICES = {"reset": N_("Your password is changed. Sign in with the new one.")}


@router.get("/login")
def login_page(request: Request, next: str | None = None, notice: str | None = None) -> Response:
    shown = LOGIN_NOTICES.get(notice or "")
    return _login_form(request, next=next, notice=_(shown) if shown else None)


@router.post("/login")
async def login_submit(
    request: Request,
    username: Annotated[str, Form(pattern=NO_NUL)],
    password: Annotated[str, Form()],
    next: Annotated[str | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not _login_csrf_ok(request, csrf_token):
        return _login_form(
            request,
            status_code=403,
            next=next,
            error=_("The form has expired. Reload the page and try again."),
            username=username,
            fresh=True,
        )
    ip = client_ip(request)
    await slow_down(username, ip)
    try:
        token, _expires = await run_in_threadpool(login_committed, username, password, "cookie", ip)
    except DomainError as exc:
        return _login_form(
            request, status_code=exc.status_code, next=next, error=exc.message, username=username
        )
    target = PASSWORD_PAGE if await run_in_threadpool(_must_change, token) else _after_login(next)
    return _signed_in(RedirectResponse(target, status_code=303), token)


def _must_change(token: str) -> bool:
    """Whether this new session's user signed in with a temporary password."""
    with unit_of_work() as session:
        actor = service.resolve_token(session, token, "cookie")
    return actor is not None and bool(actor.extra.get(PASSWORD_CHANGE))


def _login_csrf_ok(request: Request, csrf_token: str) -> bool:
    expected = request.cookies.get(login_csrf_cookie(), "")
    return bool(expected) and hmac.compare_digest(expected.encode(), csrf_token.encode())


def _signed_in(response: Response, token: str) -> Response:
    """The session cookie on the answer to a successful sign-in; the login form's token goes."""
    settings = get_settings()
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        max_age=settings.session_hours * 3600,
    )
    response.delete_cookie(login_csrf_cookie(), path="/", secure=settings.cookie_secure)
    return response


# --- family sign-in by phone and a one-time code (accounts.phone_sign_in) ---

PHONE_FORM = "phone_login.html"


def _send_committed(phone: str, ip: str | None) -> str:
    """Send a code in a unit of work of its own (the send counts stand even when refused)."""
    with unit_of_work() as session:
        phone_sign_in.send_code(session, phone, ip)
    return phone_sign_in.normalise_phone(phone)


def _verify_committed(phone: str, code: str, ip: str | None) -> str:
    """Check the code in a unit of work of its own, so a wrong code's count is committed
    although the attempt raises."""
    failure: DomainError | None = None
    with unit_of_work() as session:
        try:
            return phone_sign_in.verify(session, phone, code, ip).token
        except DomainError as exc:
            failure = exc
    raise failure


def _phone_form_expired(request: Request, phone: str) -> Response:
    """The phone sign-in form again, fresh, when the one posted had an expired token."""
    return _login_form(
        request,
        status_code=403,
        error=_("The form has expired. Reload the page and try again."),
        fresh=True,
        template=PHONE_FORM,
        step="phone",
        phone=phone,
    )


@router.get("/login/phone")
def phone_login_page(request: Request) -> Response:
    return _login_form(request, template=PHONE_FORM, step="phone", phone="")


@router.post("/login/phone")
async def phone_send_code(
    request: Request,
    phone: Annotated[str, Form(max_length=32)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not _login_csrf_ok(request, csrf_token):
        return _phone_form_expired(request, phone)
    try:
        number = await run_in_threadpool(_send_committed, phone, client_ip(request))
    except DomainError as exc:
        return _login_form(
            request,
            status_code=exc.status_code,
            error=exc.message,
            template=PHONE_FORM,
            step="phone",
            phone=phone,
        )
    return _login_form(request, template=PHONE_FORM, step="code", phone=number)


@router.post("/login/phone/verify")
async def phone_verify_code(
    request: Request,
    phone: Annotated[str, Form(max_length=32)],
    code: Annotated[str, Form(max_length=16)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not _login_csrf_ok(request, csrf_token):
        return _phone_form_expired(request, phone)
    try:
        token = await run_in_threadpool(_verify_committed, phone, code, client_ip(request))
    except DomainError as exc:
        return _login_form(
            request,
            status_code=exc.status_code,
            error=exc.message,
            template=PHONE_FORM,
            step="code",
            phone=phone,
        )
    return _signed_in(RedirectResponse("/", status_code=303), token)


@router.post("/logout")
def logout(
    request: Request,
    actor: Annotated[Actor, Depends(current_actor)],
    session: DB,
) -> Response:
    service.logout(session, request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/account")
def account_page(
    request: Request, actor: Annotated[Actor, Depends(current_actor)], session: DB
) -> Response:
    credential = request_token(request)
    current = service.session_id_for(session, *credential) if credential else None
    return render(
        request,
        "account.html",
        sessions=service.list_sessions(session, actor),
        current=current,
    )


@router.post("/account/sessions/{session_id}/revoke")
def revoke_session(
    request: Request,
    actor: Annotated[Actor, Depends(current_actor)],
    session: DB,
    session_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Response:
    credential = request_token(request)
    current = service.session_id_for(session, *credential) if credential else None
    service.revoke_session(session, actor, session_id)
    if session_id == current:  # signed this browser out
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response
    return RedirectResponse("/account", status_code=303)


# --- linking another parent with an invitation code ---


@router.get("/invitations/new")
def invitation_form(
    request: Request,
    actor: Annotated[Actor, Depends(current_actor)],
    session: DB,
    elder_id: Annotated[int, Query(ge=1, le=2**31 - 1)],
) -> Response:
    """The staff member's (or linked family member's) step before issuing a code."""
    if not invitations.can_invite(session, actor, elder_id):
        raise Forbidden(_("You may not invite family members for this elder."))
    return render(request, "invitation.html", elder_id=elder_id, issued=None)


@router.post("/invitations")
def issue_invitation(
    request: Request,
    actor: Annotated[Actor, Depends(current_actor)],
    session: DB,
    elder_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    relation: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Issue a one-time code and show it once, on this answer only (never in a URL)."""
    issued = invitations.issue(session, actor, elder_id, relation)
    return render(
        request,
        "invitation.html",
        elder_id=elder_id,
        issued=issued,
        hours=int(invitations.VALID_FOR.total_seconds() // 3600),
    )


@router.post("/invitations/redeem")
def redeem_invitation(
    request: Request,
    actor: Annotated[Actor, Depends(current_actor)],
    session: DB,
    code: Annotated[str, Form(max_length=32)],
) -> Response:
    ip = client_ip(request)
    refused = run_action(session, lambda: invitations.redeem(session, actor, code, ip))
    if refused is not None:
        # a code naming a fixed message (services.pages ERRORS), never the text itself
        return RedirectResponse(
            f"/my-services?error={_redeem_error(refused)}#link", status_code=303
        )
    return RedirectResponse("/my-services?linked=1", status_code=303)


def _redeem_error(refused: DomainError) -> str:
    if isinstance(refused, codes.WrongCode):
        return "code"
    if isinstance(refused, TooManyAttempts):
        minutes = -(-int(refused.extra.get("retry_after") or 60) // 60)
        return f"locked&minutes={minutes}"
    if isinstance(refused, Conflict):
        return "linked"
    if isinstance(refused, Forbidden):
        return "family"
    return "failed"


# --- a forgotten password (accounts.recovery) and one's own password change (accounts.users) ---

FORGOT_FORM = "forgot.html"
PASSWORD_PAGE = "/account/password"


def _forgot_form(
    request: Request,
    step: str,
    username: str = "",
    *,
    status_code: int = 200,
    error: str | None = None,
    fresh: bool = False,
    errors: dict[str, str] | None = None,
) -> Response:
    return _login_form(
        request,
        status_code=status_code,
        error=error,
        username=username,
        fresh=fresh,
        template=FORGOT_FORM,
        step=step,
        errors=errors or {},
    )


def _start_committed(username: str, ip: str | None) -> None:
    """Send a code or queue a request in a unit of work of its own (the counts stand even when
    the throttle refuses)."""
    with unit_of_work() as session:
        recovery.start(session, username, ip)


def _complete_committed(username: str, code: str, password: str, ip: str | None) -> None:
    """Check the code and set the password in a unit of work of its own, so a wrong code's
    count is committed although the attempt raises."""
    failure: DomainError | None = None
    with unit_of_work() as session:
        try:
            recovery.complete(session, username, code, password, ip)
            return
        except DomainError as exc:
            failure = exc
    raise failure


@router.get("/login/forgot")
def forgot_page(request: Request) -> Response:
    return _forgot_form(request, "username")


@router.post("/login/forgot")
async def forgot_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64, pattern=NO_NUL)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not _login_csrf_ok(request, csrf_token):
        return _forgot_form(
            request,
            "username",
            username,
            status_code=403,
            error=_("The form has expired. Reload the page and try again."),
            fresh=True,
        )
    try:
        await run_in_threadpool(_start_committed, username, client_ip(request))
    except DomainError as exc:
        return _forgot_form(
            request, "username", username, status_code=exc.status_code, error=exc.message
        )
    return _forgot_form(request, "code", username.strip()[:64])


@router.post("/login/forgot/verify")
async def forgot_verify(
    request: Request,
    username: Annotated[str, Form(max_length=64, pattern=NO_NUL)] = "",
    code: Annotated[str, Form(max_length=16)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    password2: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not _login_csrf_ok(request, csrf_token):
        return _forgot_form(
            request,
            "code",
            username,
            status_code=403,
            error=_("The form has expired. Reload the page and try again."),
            fresh=True,
        )
    if password != password2:
        return _forgot_form(
            request,
            "code",
            username,
            status_code=422,
            errors={"password2": _("The two passwords differ.")},
        )
    try:
        await run_in_threadpool(_complete_committed, username, code, password, client_ip(request))
    except DomainError as exc:
        field = exc.field if exc.field == "password" else "code"
        return _forgot_form(
            request, "code", username, status_code=exc.status_code, errors={field: exc.message}
        )
    return RedirectResponse("/login?notice=reset", status_code=303)


@router.get(PASSWORD_PAGE)
def password_page(request: Request, actor: Annotated[Actor, Depends(current_actor)]) -> Response:
    return render(request, "password.html", errors={}, changed=False)


@router.post(PASSWORD_PAGE)
def password_change(
    request: Request,
    actor: Annotated[Actor, Depends(current_actor)],
    session: DB,
    current_password: Annotated[str, Form(max_length=256)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
    new_password2: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    if new_password != new_password2:
        errors = {"new_password2": _("The two passwords differ.")}
        return render(request, "password.html", status_code=422, errors=errors, changed=False)
    refused = run_action(
        session,
        lambda: users.change_own_password(session, actor, current_password, new_password),
    )
    if refused is not None:
        errors = {refused.field or "form": refused.message}
        return render(request, "password.html", status_code=422, errors=errors, changed=False)
    return RedirectResponse("/", status_code=303)
