"""The development outbox (``/dev/outbox``): with no SMS gateway configured (``YIYANG_SMS_URL``
empty, as under ``make run``) SMS are never sent — the dispatcher marks them ``skipped`` — so the
last messages are listed here for the platform admin to read, sign-in codes included. The page
exists only when development explicitly turns it on (``YIYANG_DEV_OUTBOX=true``, set by
``make run``) and no gateway is configured; otherwise 404. Each read is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select

from yiyang.core import audit
from yiyang.core.auth import current_actor
from yiyang.core.config import get_settings
from yiyang.core.db import DB
from yiyang.core.errors import Forbidden, NotFound
from yiyang.core.i18n import gettext as _
from yiyang.core.roles import Role
from yiyang.core.scoping import Actor
from yiyang.notifications.models import Notification
from yiyang.web.templating import render

router = APIRouter(include_in_schema=False)
SHOWN = 50


@router.get("/dev/outbox")
def dev_outbox(
    request: Request, actor: Annotated[Actor, Depends(current_actor)], session: DB
) -> Response:
    settings = get_settings()
    if not settings.dev_outbox or settings.sms_url:
        raise NotFound(_("There is an SMS gateway: messages are sent, not kept here."))
    if actor.role != Role.PLATFORM_ADMIN:  # a development tool, for the platform's admin only
        raise Forbidden(_("Only the platform admin may read the development outbox."))
    messages = session.scalars(
        select(Notification).order_by(Notification.id.desc()).limit(SHOWN)
    ).all()
    audit.record(
        session,
        "dev_outbox_read",
        "notification",
        None,
        summary=f"development outbox read: {len(messages)} messages shown",
    )
    return render(request, "dev_outbox.html", messages=messages)
