"""``/check-ins``: the open check-in tasks of the reader's region, oldest due first, overdue
ones marked; each with the elder's name, the reason, the phones to call (``tel:`` links, masked
as the reader may see them) and, for those who record calls (community workers), the three
outcomes with a note. Officers and operators read the list; other roles get 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from yiyang.alarms.enums import TYPE_LABELS
from yiyang.checkins import service
from yiyang.checkins.enums import OUTCOME_LABELS, STATE_LABELS, CallOutcome
from yiyang.core import i18n
from yiyang.core.auth import require
from yiyang.core.clock import now
from yiyang.core.db import DB
from yiyang.core.errors import DomainError, ValidationFailed
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.web.actions import run_action
from yiyang.web.nav import NavEntry, needs, register_nav
from yiyang.web.templating import render

router = APIRouter(include_in_schema=False)
register_nav(
    NavEntry("check-ins", "/check-ins", i18n.N_("Check-ins"), needs(Perm.VIEW_CHECK_INS), 35)
)
NOTE_MAX = 1000


def _type_label(alert_type: str) -> str:
    label = TYPE_LABELS.get(alert_type)
    return i18n.gettext(label) if label else alert_type


def _page(
    request: Request,
    actor: Actor,
    session: DB,
    error: DomainError | None = None,
    failed: int | None = None,
) -> Response:
    tasks = service.list_tasks(session, actor, now(), limit=200)
    return render(
        request,
        "checkins/list.html",
        status_code=error.status_code if error else 200,
        tasks=tasks,
        error=error.message if error else None,
        failed=failed,
        outcomes=list(CallOutcome),
        OUTCOME_LABELS=OUTCOME_LABELS,
        STATE_LABELS=STATE_LABELS,
        type_label=_type_label,
    )


@router.get("/check-ins")
def check_ins_page(
    request: Request,
    actor: Annotated[Actor, Depends(require(Perm.VIEW_CHECK_INS))],
    session: DB,
) -> Response:
    return _page(request, actor, session)


@router.post("/check-ins/{task_id}/calls")
def record_call_form(
    request: Request,
    actor: Annotated[Actor, Depends(require(Perm.HANDLE_CHECK_INS))],
    session: DB,
    task_id: Id,
    outcome: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    def op() -> None:
        if outcome not in set(CallOutcome):
            raise ValidationFailed(i18n.gettext("Choose the outcome of the call."), field="outcome")
        if len(note) > NOTE_MAX or "\x00" in note:
            raise ValidationFailed(
                i18n.gettext("Enter at most %(max_length)s characters.", max_length=NOTE_MAX),
                field="note",
            )
        service.record_call(session, actor, task_id, CallOutcome(outcome), note, now())

    refused = run_action(session, op)
    if refused is not None:
        return _page(request, actor, session, refused, task_id)
    return RedirectResponse("/check-ins", status_code=303)
