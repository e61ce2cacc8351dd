"""User management pages (``/users``) for holders of ``can_manage_users``: thin handlers over
``accounts.users``; a refusal is shown beside its field; a temporary password is shown on the
answer that issued it, never again and never in a URL. Deactivating and issuing a temporary
password take an inline confirmation step (no pop-ups)."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from yiyang.accounts import rules, users
from yiyang.accounts.schemas import UserCreate, UserUpdate
from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.errors import field_errors
from yiyang.core.i18n import N_
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.regions import repository as regions
from yiyang.web.actions import run_action
from yiyang.web.nav import NavEntry, needs, register_nav
from yiyang.web.templating import render

router = APIRouter(include_in_schema=False)
register_nav(NavEntry("users", "/users", N_("Users"), needs(Perm.MANAGE_USERS), 95))
Manager = Annotated[Actor, Depends(require(Perm.MANAGE_USERS))]
PAGE_SIZE = 50
_SPLIT = re.compile(r"[\s,，、;；]+")
TEXT_FIELDS = ("username", "display_name", "role", "region_code", "phone", "provider_id")


def _grantable(actor: Actor) -> list[Role]:
    return [r for r in Role if rules.may_grant(actor, r)]


def _form_context(session: Session, actor: Actor) -> dict[str, Any]:
    return {
        "roles": _grantable(actor),
        "regions": regions.visible(session, actor),
        "linked_roles": [r.value for r in rules.LINKED_ROLES],
        "provider_roles": [r.value for r in rules.PROVIDER_ROLES],
    }


def _payload(form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's fields in the API's shape, and what could not be read."""
    values: dict[str, Any] = {}
    for key in TEXT_FIELDS:
        raw = form.get(key)
        values[key] = raw.strip() if isinstance(raw, str) else ""
    errors: dict[str, str] = {}
    raw_elders = form.get("elder_ids")
    parts = [p for p in _SPLIT.split(raw_elders if isinstance(raw_elders, str) else "") if p]
    values["elder_ids_text"] = " ".join(parts)
    if any(not p.isdigit() for p in parts):
        errors["elder_ids"] = _("Enter elder numbers (digits), separated by spaces or commas.")
    values["elder_ids"] = [int(p) for p in parts if p.isdigit()]
    if values["role"] not in {r.value for r in Role}:
        errors["role"] = _("Choose a role.")
    if not values["region_code"]:
        errors["region_code"] = _("Choose a region.")
    if values["provider_id"] and not values["provider_id"].isdigit():
        errors["provider_id"] = _("Enter the provider's number (digits).")
    return values, errors


def _body(values: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in values.items() if k in TEXT_FIELDS or k == "elder_ids"}
    body["provider_id"] = int(values["provider_id"]) if values["provider_id"] else None
    body["phone"] = values["phone"] or None
    return body


def _errors(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for e in field_errors(exc.errors()):
        found.setdefault(e["field"].split(".")[0] or "form", e["message"])
    return found


@router.get("/users")
def user_list(
    request: Request,
    actor: Manager,
    session: DB,
    q: Annotated[str, Query(max_length=64)] = "",
    role: Annotated[str, Query(max_length=32)] = "",
    state: Annotated[str, Query(pattern="^(|active|inactive)$")] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    chosen = role if role in {r.value for r in Role} else None
    active = {"active": True, "inactive": False}.get(state)
    found = users.list_users(
        session,
        actor,
        q=q,
        role=chosen,
        active=active,
        limit=PAGE_SIZE + 1,  # one more tells whether there is a next page
        offset=(page - 1) * PAGE_SIZE,
    )
    query = [("q", q), ("role", chosen or ""), ("state", state)]

    def page_url(number: int) -> str:
        return "/users?" + urlencode([*query, ("page", str(number))])

    return render(
        request,
        "users/list.html",
        users=found[:PAGE_SIZE],
        page=page,
        has_next=len(found) > PAGE_SIZE,
        page_url=page_url,
        q=q,
        role=chosen or "",
        state=state,
        roles=_grantable(actor),
        pending=len(users.list_reset_requests(session, actor)),
        region_names={r.path: r.name for r in regions.visible(session, actor)},
    )


@router.get("/users/new")
def user_new(request: Request, actor: Manager, session: DB) -> Response:
    return render(
        request,
        "users/form.html",
        user=None,
        values={"role": "", "region_code": ""},
        errors={},
        **_form_context(session, actor),
    )


@router.post("/users/new")
async def user_create(request: Request, actor: Manager, session: DB) -> Response:
    values, errors = _payload(await request.form())
    if not errors:
        try:
            data = UserCreate(**_body(values))
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            issued: list[users.Issued] = []
            refused = run_action(session, lambda: issued.append(users.create(session, actor, data)))
            if refused is None:
                return _issued_page(request, session, actor, issued[0], created=True)
            errors = {_field(refused.field): refused.message}
    return render(
        request,
        "users/form.html",
        status_code=422,
        user=None,
        values=values,
        errors=errors,
        **_form_context(session, actor),
    )


def _field(name: str | None) -> str:
    """A service refusal's field as the form names it."""
    return {"region": "region_code", "active": "form", None: "form"}.get(name, name or "form")


def _issued_page(
    request: Request, session: Session, actor: Actor, issued: users.Issued, *, created: bool
) -> Response:
    return render(
        request,
        "users/detail.html",
        user=users.to_read(session, issued.user),
        region_name=_region_name(session, issued.user.region_path),
        temporary_password=issued.temporary_password,
        created=created,
        confirm="",
        error=None,
        is_self=issued.user.id == actor.user_id,
        request_id=None,
    )


def _region_name(session: Session, path: str) -> str:
    found = regions.by_code(session, path.strip("/").split("/")[-1])
    return found.name if found is not None else path


def _detail(
    request: Request,
    session: Session,
    actor: Actor,
    user_id: int,
    *,
    confirm: str = "",
    error: str | None = None,
    status_code: int = 200,
    request_id: int | None = None,
) -> Response:
    user = users.read_user(session, actor, user_id)
    return render(
        request,
        "users/detail.html",
        status_code=status_code,
        user=user,
        region_name=_region_name(session, user.region_path),
        temporary_password=None,
        created=False,
        confirm=confirm,
        error=error,
        is_self=user.id == actor.user_id,
        request_id=request_id,
    )


@router.get("/users/reset-requests")
def reset_requests(request: Request, actor: Manager, session: DB) -> Response:
    return render(
        request,
        "users/reset_requests.html",
        pending=users.list_reset_requests(session, actor, "pending"),
        handled=users.list_reset_requests(session, actor, None)[:50],
    )


@router.post("/users/reset-requests/{request_id}/refuse")
def refuse_request(actor: Manager, session: DB, request_id: Id) -> Response:
    users.refuse_request(session, actor, request_id)
    return RedirectResponse("/users/reset-requests", status_code=303)


@router.get("/users/{user_id}")
def user_detail(
    request: Request,
    actor: Manager,
    session: DB,
    user_id: Id,
) -> Response:
    return _detail(request, session, actor, user_id)


@router.get("/users/{user_id}/edit")
def user_edit(request: Request, actor: Manager, session: DB, user_id: Id) -> Response:
    user = users.read_user(session, actor, user_id)
    values = {
        "display_name": user.display_name,
        "role": user.role.value,
        "region_code": user.region_path.strip("/").split("/")[-1],
        "phone": user.phone or "",
        "provider_id": str(user.provider_id or ""),
        "elder_ids_text": " ".join(str(i) for i in user.elder_ids),
    }
    return render(
        request,
        "users/form.html",
        user=user,
        values=values,
        errors={},
        **_form_context(session, actor),
    )


@router.post("/users/{user_id}/edit")
async def user_update(request: Request, actor: Manager, session: DB, user_id: Id) -> Response:
    user = users.read_user(session, actor, user_id)
    values, errors = _payload(await request.form())
    if not errors:
        body = _body(values)
        body.pop("username", None)
        body["phone"] = body["phone"] or ""
        try:
            data = UserUpdate(**body)
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            refused = run_action(session, lambda: users.update(session, actor, user_id, data))
            if refused is None:
                return RedirectResponse(f"/users/{user_id}", status_code=303)
            errors = {_field(refused.field): refused.message}
    return render(
        request,
        "users/form.html",
        status_code=422,
        user=user,
        values=values,
        errors=errors,
        **_form_context(session, actor),
    )


def _act(
    request: Request,
    session: Session,
    actor: Actor,
    user_id: int,
    op: Any,
) -> Response:
    refused = run_action(session, op)
    if refused is not None:
        return _detail(
            request, session, actor, user_id, error=refused.message, status_code=refused.status_code
        )
    return RedirectResponse(f"/users/{user_id}", status_code=303)


@router.post("/users/{user_id}/deactivate")
def deactivate(
    request: Request,
    actor: Manager,
    session: DB,
    user_id: Id,
    confirmed: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    if confirmed != "yes":  # the inline confirmation step first
        return _detail(request, session, actor, user_id, confirm="deactivate")
    return _act(
        request, session, actor, user_id, lambda: users.set_active(session, actor, user_id, False)
    )


@router.post("/users/{user_id}/reactivate")
def reactivate(request: Request, actor: Manager, session: DB, user_id: Id) -> Response:
    return _act(
        request, session, actor, user_id, lambda: users.set_active(session, actor, user_id, True)
    )


@router.post("/users/{user_id}/unlock")
def unlock(request: Request, actor: Manager, session: DB, user_id: Id) -> Response:
    return _act(request, session, actor, user_id, lambda: users.unlock(session, actor, user_id))


@router.post("/users/{user_id}/password-reset")
def reset_password(
    request: Request,
    actor: Manager,
    session: DB,
    user_id: Id,
    confirmed: Annotated[str, Form(max_length=8)] = "",
    request_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
) -> Response:
    if confirmed != "yes":
        return _detail(request, session, actor, user_id, confirm="password", request_id=request_id)
    issued: list[users.Issued] = []
    refused = run_action(
        session,
        lambda: issued.append(users.issue_temporary_password(session, actor, user_id, request_id)),
    )
    if refused is not None:
        return _detail(
            request, session, actor, user_id, error=refused.message, status_code=refused.status_code
        )
    return _issued_page(request, session, actor, issued[0], created=False)
