"""Subsidy pages: use and balance per street or community within the viewer's area; the
subsidy policies (district officers create, edit and end their district's; region staff
read)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from yiyang.core.auth import require
from yiyang.core.clock import today_local
from yiyang.core.db import DB
from yiyang.core.errors import DomainError
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import REGION_SCOPED, Perm, Role
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.registry.enums import Category
from yiyang.subsidies import policies, reports
from yiyang.subsidies.enums import LABELS, CarryOver, PolicyKind
from yiyang.subsidies.models import SubsidyPolicy
from yiyang.web.actions import run_action
from yiyang.web.templating import render

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_SUBSIDIES))]


@router.get("/subsidies")
def report_page(
    request: Request, actor: Viewer, session: DB, period: str = "", depth: int = 3
) -> Response:
    if actor.role not in REGION_SCOPED and actor.role is not Role.PLATFORM_ADMIN:
        return RedirectResponse("/my-services", status_code=303)
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        period = f"{today_local():%Y-%m}"
    depth = 2 if depth == 2 else 3
    rows = reports.region_report(session, actor, period, depth)
    return render(request, "services/subsidies.html", period=period, depth=depth, rows=rows)


# --- subsidy policies: district officers manage their district's, region staff read ---------

Manager = Annotated[Actor, Depends(require(Perm.MANAGE_SUBSIDIES))]


def _policy_ctx() -> dict[str, Any]:
    return {
        "KINDS": [k.value for k in PolicyKind],
        "CARRY": [c.value for c in CarryOver],
        "CATEGORIES": [c.value for c in Category],
        "LEVELS": list(policies.LEVELS),
        "SUBSIDY_LABELS": LABELS,
        "yuan": lambda fen: f"{(fen or 0) / 100:.2f}",
    }


@router.get("/subsidies/policies")
def policy_list(request: Request, actor: Viewer, session: DB) -> Response:
    if actor.role not in REGION_SCOPED and actor.role is not Role.PLATFORM_ADMIN:
        return RedirectResponse("/my-services", status_code=303)
    return render(
        request,
        "subsidies/policies.html",
        rows=policies.list_policies(session, actor),
        can_manage=policies.can_manage(actor),
        manageable=lambda p: policies.can_manage(actor, p),
        **_policy_ctx(),
    )


def _policy_form(
    request: Request,
    actor: Actor,
    policy: SubsidyPolicy | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    saved: bool = False,
) -> Response:
    return render(
        request,
        "subsidies/policy_form.html",
        status_code=status_code,
        saved=saved,
        policy=policy,
        values=values,
        errors=errors or {},
        editable=policies.can_manage(actor, policy),
        **_policy_ctx(),
    )


@router.get("/subsidies/policies/new")
def policy_new(request: Request, actor: Manager) -> Response:
    values = {"kind": "credit", "carry_over": "none", "priority": "100", "categories": []}
    values["starts_on"] = f"{today_local():%Y-%m-01}"
    return _policy_form(request, actor, None, values)


async def _submitted(request: Request) -> tuple[dict[str, Any], Any]:
    form = await request.form()
    values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    values["categories"] = [str(c) for c in form.getlist("categories")]
    body, errors = policies.from_form(values, values["categories"])
    try:
        return values, policies.validate(body, errors)
    except DomainError as exc:
        return values, exc


def _errors_of(exc: DomainError) -> dict[str, str]:
    fields = exc.extra.get("fields")
    return dict(fields) if isinstance(fields, dict) else {exc.field or "form": exc.message}


@router.post("/subsidies/policies/new")
async def policy_create(request: Request, actor: Manager, session: DB) -> Response:
    values, data = await _submitted(request)
    if isinstance(data, DomainError):
        return _policy_form(request, actor, None, values, _errors_of(data), 422)
    made: list[SubsidyPolicy] = []
    refused = await run_in_threadpool(
        run_action, session, lambda: made.append(policies.create_policy(session, actor, data))
    )
    if refused is not None:
        return _policy_form(request, actor, None, values, _errors_of(refused), refused.status_code)
    return RedirectResponse(f"/subsidies/policies/{made[0].id}?saved=1", status_code=303)


@router.get("/subsidies/policies/{policy_id}")
def policy_page(
    request: Request, actor: Viewer, session: DB, policy_id: Id, saved: str = ""
) -> Response:
    if actor.role not in REGION_SCOPED and actor.role is not Role.PLATFORM_ADMIN:
        return RedirectResponse("/my-services", status_code=303)
    policy = policies.get_policy(session, actor, policy_id)
    return _policy_form(request, actor, policy, policies.to_form(policy), saved=bool(saved))


@router.post("/subsidies/policies/{policy_id}")
async def policy_update(request: Request, actor: Manager, session: DB, policy_id: Id) -> Response:
    policy = await run_in_threadpool(policies.get_policy, session, actor, policy_id)
    values, data = await _submitted(request)
    values["code"] = policy.code
    if isinstance(data, DomainError):
        return _policy_form(request, actor, policy, values, _errors_of(data), 422)
    refused = await run_in_threadpool(
        run_action, session, lambda: policies.update_policy(session, actor, policy_id, data)
    )
    if refused is not None:
        if refused.status_code in (403, 404):
            raise refused
        return _policy_form(
            request, actor, policy, values, _errors_of(refused), refused.status_code
        )
    return RedirectResponse(f"/subsidies/policies/{policy_id}?saved=1", status_code=303)


@router.post("/subsidies/policies/{policy_id}/end")
def policy_end(
    request: Request,
    actor: Manager,
    session: DB,
    policy_id: Id,
    ends_on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    policy = policies.get_policy(session, actor, policy_id)
    try:
        day = dt.date.fromisoformat(ends_on)
    except ValueError:
        errors = {"end": _(policies.HINTS["ends_on"])}
        return _policy_form(request, actor, policy, policies.to_form(policy), errors, 422)
    refused = run_action(session, lambda: policies.end_policy(session, actor, policy_id, day))
    if refused is not None:
        if refused.status_code in (403, 404):
            raise refused
        errors = {"end": refused.message}
        form = policies.to_form(policy)
        return _policy_form(request, actor, policy, form, errors, refused.status_code)
    return RedirectResponse(f"/subsidies/policies/{policy_id}?saved=1", status_code=303)
