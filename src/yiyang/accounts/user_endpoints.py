"""The JSON API of user management (``/api/users``), for holders of ``can_manage_users``:
thin routes over ``accounts.users``; the accounts reached through the central
``MANAGED_USERS`` rule."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from yiyang.accounts import users
from yiyang.accounts.schemas import (
    ResetRequestListItem,
    TemporaryPasswordRead,
    UserCreate,
    UserListItem,
    UserRead,
    UserUpdate,
)
from yiyang.core.auth import require
from yiyang.core.db import DB
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor
from yiyang.core.types import Id, Offset

router = APIRouter(prefix="/api/users", tags=["users"])
Manager = Annotated[Actor, Depends(require(Perm.MANAGE_USERS))]


@router.get("", response_model=list[UserListItem], summary="Accounts you manage, searched")
def list_users(
    actor: Manager,
    session: DB,
    q: Annotated[str, Query(max_length=64)] = "",
    role: Role | None = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[UserListItem]:
    return users.list_users(
        session, actor, q=q, role=role, active=active, limit=limit, offset=offset
    )


@router.post(
    "",
    response_model=TemporaryPasswordRead,
    status_code=201,
    summary="Create an account; its temporary password is in this answer only",
)
def create_user(data: UserCreate, actor: Manager, session: DB) -> TemporaryPasswordRead:
    issued = users.create(session, actor, data)
    return TemporaryPasswordRead(
        user=users.to_read(session, issued.user), temporary_password=issued.temporary_password
    )


@router.get(
    "/reset-requests",
    response_model=list[ResetRequestListItem],
    summary="Password reset requests of users without a phone (pending by default)",
)
def reset_requests(
    actor: Manager,
    session: DB,
    state: Annotated[str | None, Query(pattern="^(pending|reset|refused)$")] = "pending",
) -> list[ResetRequestListItem]:
    return [
        ResetRequestListItem(
            id=r.id,
            user_id=u.id,
            username=u.username,
            display_name=u.display_name,
            role=Role(u.role),
            region_path=u.region_path,
            state=r.state,
            created_at=r.created_at,
            handled_at=r.handled_at,
        )
        for r, u in users.list_reset_requests(session, actor, state)
    ]


@router.post(
    "/reset-requests/{request_id}/refuse",
    response_model=ResetRequestListItem,
    summary="Refuse a pending password reset request",
)
def refuse_request(actor: Manager, session: DB, request_id: Id) -> ResetRequestListItem:
    request = users.refuse_request(session, actor, request_id)
    user = users.access_user(session, actor, request.user_id)
    return ResetRequestListItem(
        id=request.id,
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        region_path=user.region_path,
        state=request.state,
        created_at=request.created_at,
        handled_at=request.handled_at,
    )


@router.get("/{user_id}", response_model=UserRead)
def read_user(actor: Manager, session: DB, user_id: Id) -> UserRead:
    return users.read_user(session, actor, user_id)


@router.patch("/{user_id}", response_model=UserRead, summary="Change role, region, links, phone")
def update_user(data: UserUpdate, actor: Manager, session: DB, user_id: Id) -> UserRead:
    return users.to_read(session, users.update(session, actor, user_id, data))


@router.post("/{user_id}/deactivate", response_model=UserRead)
def deactivate(actor: Manager, session: DB, user_id: Id) -> UserRead:
    return users.to_read(session, users.set_active(session, actor, user_id, False))


@router.post("/{user_id}/reactivate", response_model=UserRead)
def reactivate(actor: Manager, session: DB, user_id: Id) -> UserRead:
    return users.to_read(session, users.set_active(session, actor, user_id, True))


@router.post(
    "/{user_id}/unlock", response_model=UserRead, summary="Lift the failed sign-in lock-out"
)
def unlock(actor: Manager, session: DB, user_id: Id) -> UserRead:
    return users.to_read(session, users.unlock(session, actor, user_id))


@router.post(
    "/{user_id}/password-reset",
    response_model=TemporaryPasswordRead,
    summary="Issue a temporary password (in this answer only; changed at the next sign-in)",
)
def reset_password(
    actor: Manager,
    session: DB,
    user_id: Id,
    request_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> TemporaryPasswordRead:
    issued = users.issue_temporary_password(session, actor, user_id, request_id)
    return TemporaryPasswordRead(
        user=users.to_read(session, issued.user), temporary_password=issued.temporary_password
    )
