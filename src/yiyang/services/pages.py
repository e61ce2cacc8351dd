"""Service pages: the orders board (provider admins, staff), one order with its actions and
dispatch suggestions, the order form for community workers (on behalf of an elder), the
caregiver's phone page (today's jobs in route order, check-in/out with GPS and the elder's
code), the provider's caregivers, and the monthly settlement."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from yiyang.core.auth import require
from yiyang.core.clock import local_zone, now, to_local, today_local
from yiyang.core.db import DB
from yiyang.core.errors import DomainError
from yiyang.core.i18n import N_
from yiyang.core.roles import Perm, Role
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.presence import service as presence
from yiyang.services import dispatch, matching, orders, ratings, settlement
from yiyang.services import repository as repo
from yiyang.services.enums import LABELS, OrderState
from yiyang.services.models import Caregiver, Provider, ServiceItem
from yiyang.services.permissions import caregiver_scope
from yiyang.services.schemas import OrderCreate
from yiyang.subsidies import reports
from yiyang.web.actions import run_action
from yiyang.web.nav import NavEntry, needs, register_nav
from yiyang.web.templating import render

router = APIRouter(include_in_schema=False)


def _sees_board(actor: Actor) -> bool:
    """The orders board is for those who place or manage orders on others' behalf: not a
    caregiver (their jobs page), not the elder's own side (their own page)."""
    if not actor.can(Perm.VIEW_ORDERS) or actor.can(Perm.OWN_SERVICES):
        return False
    return actor.can(Perm.MANAGE_ORDERS) or actor.can(Perm.PLACE_ORDERS)


register_nav(
    # the elder's and family's own page; staff use the board, a caregiver their jobs
    NavEntry("my-services", "/my-services", N_("My services"), needs(Perm.OWN_SERVICES), 8),
    NavEntry(
        "my-jobs",
        "/my-jobs",
        N_("Today's jobs"),
        needs(Perm.DELIVER_ORDERS, unless=(Perm.MANAGE_ORDERS,)),
        60,
    ),
    NavEntry(
        "orders",
        "/orders",
        N_("Services"),
        _sees_board,
        61,
        ("/caregivers", "/settlement"),
    ),
)
Viewer = Annotated[Actor, Depends(require(Perm.VIEW_ORDERS))]
Placer = Annotated[Actor, Depends(require(Perm.PLACE_ORDERS))]
Marker = Annotated[Actor, Depends(require(Perm.MARK_AWAY))]
Deliverer = Annotated[Actor, Depends(require(Perm.DELIVER_ORDERS))]
ProviderStaff = Annotated[Actor, Depends(require(Perm.MANAGE_ORDERS))]
Settlement = Annotated[Actor, Depends(require(Perm.VIEW_SETTLEMENT))]


def yuan(fen: int | None) -> str:
    return f"{(fen or 0) / 100:.2f}"


MEALS = {"breakfast": N_("Breakfast"), "lunch": N_("Lunch"), "dinner": N_("Dinner")}


def _ctx() -> dict[str, Any]:
    return {"SVC": LABELS, "yuan": yuan, "MEALS": MEALS}


@router.get("/orders")
def board(
    request: Request, actor: Viewer, session: DB, state: str = "", day: str = "", flagged: str = ""
) -> Response:
    if actor.role is Role.CAREGIVER:
        return RedirectResponse("/my-jobs", status_code=303)
    if actor.role in (Role.ELDER, Role.FAMILY):
        return RedirectResponse("/my-services", status_code=303)
    chosen = dt.date.fromisoformat(day) if day else None
    rows = repo.board(
        session,
        actor,
        repo.OrderFilters(
            state=state if state in LABELS else "", day=chosen, flagged=bool(flagged)
        ),
    )
    return render(
        request,
        "services/board.html",
        rows=rows,
        state=state,
        day=day,
        flagged=flagged,
        states=[s.value for s in OrderState],
        **_ctx(),
    )


@router.get("/orders/new")
def new_order(
    request: Request, actor: Placer, session: DB, elder_id: Id | None = None, q: str = ""
) -> Response:
    values = {"elder_id": elder_id or "", "quantity": 1, "pay_with": "subsidy_first", "q": q}
    return _form(request, actor, session, values)


# What an order-form field must hold, beside it (never pydantic's English).
ORDER_HINTS = {
    "elder_id": N_("Choose the elder from the search results."),
    "item_id": N_("Choose a service."),
    "scheduled_at": N_("Choose the day and time of the service."),
    "quantity": N_("A quantity from 1 to 12."),
    "pay_with": N_("Choose how it is paid."),
    "note": N_("At most 1000 characters."),
}


def _form(
    request: Request,
    actor: Actor,
    session: Session,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    quote: orders.Quote | None = None,
    status_code: int = 200,
) -> Response:
    from yiyang.registry import service as registry

    found = None
    choices: list[Any] = []
    if str(values.get("elder_id") or "").isdigit():
        found = registry.elder_choice(session, actor, int(values["elder_id"]))
    elder = found[1] if found else None
    if found:
        choices = [elder]
    elif values.get("q"):
        choices = registry.elder_choices(session, actor, str(values["q"]))
    items = repo.orderable_items(session, actor, found[0].region_path if found else None)
    default_at = dt.datetime.combine(today_local() + dt.timedelta(days=1), dt.time(9, 0))
    return render(
        request,
        "services/form.html",
        status_code=status_code,
        values={"scheduled_at": default_at.strftime("%Y-%m-%dT%H:%M"), **values},
        elder=elder,
        choices=choices,
        chosen=elder.id if elder is not None else "",
        q=values.get("q") or "",
        items=items,
        errors=errors or {},
        quote=quote,
        form_key=values.get("idempotency_key") or uuid.uuid4().hex,
        **_ctx(),
    )


def _order_data(form: Any) -> tuple[dict[str, Any], OrderCreate | dict[str, str]]:
    """The order form's values as typed, and the order they make — or the errors beside the
    fields (a missing or foreign elder, a malformed time or quantity)."""
    from pydantic import ValidationError

    from yiyang.core.i18n import gettext as _

    keys = ("elder_id", "q", "item_id", "scheduled_at", "quantity", "pay_with", "note")
    values: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in keys}
    values["idempotency_key"] = str(form.get("idempotency_key") or "")[:80]
    try:
        at: Any = dt.datetime.fromisoformat(values["scheduled_at"]).replace(tzinfo=local_zone())
    except ValueError:
        at = None
    try:
        data = OrderCreate(
            elder_id=values["elder_id"] or None,
            item_id=values["item_id"] or None,
            scheduled_at=at,
            quantity=values["quantity"] or 1,
            pay_with=values["pay_with"] or "subsidy_first",
            note=values["note"] or None,
        )
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for e in exc.errors():
            key = str(e["loc"][0]) if e.get("loc") else "form"
            errors.setdefault(key, _(ORDER_HINTS.get(key, GENERIC)))
        return values, errors
    return values, data


@router.post("/orders/new")
async def place_order(request: Request, actor: Placer, session: DB) -> Response:
    """Two steps on one form: without ``step=confirm`` the form comes back with the price, what
    the subsidy pays and what the elder pays (nothing is placed); ``confirm`` places the order
    at the figures shown (``expected_self_pay_fen``) or shows the new ones (409)."""
    form = await request.form()
    values, data = _order_data(form)
    if not isinstance(data, OrderCreate):
        return _form(request, actor, session, values, data, status_code=422)
    return await run_in_threadpool(
        _quote_or_place,
        request,
        actor,
        session,
        values,
        data,
        str(form.get("step") or ""),
        str(form.get("expected_self_pay_fen") or ""),
        _fen(form.get("expected_amount_fen")),
    )


def _quote_or_place(
    request: Request,
    actor: Actor,
    session: Session,
    values: dict[str, Any],
    data: OrderCreate,
    step: str,
    expected: str,
    amount: int | None,
) -> Response:
    try:
        fresh = orders.quote(session, actor, data)
    except DomainError as exc:
        if exc.status_code == 404:
            exc = DomainError(exc.message, field="elder_id")
        return _form(request, actor, session, values, _beside(exc), status_code=422)
    if step != "confirm" or not expected.isdigit():
        return _form(request, actor, session, values, quote=fresh)
    confirmed = data.model_copy(
        update={"expected_self_pay_fen": int(expected), "expected_amount_fen": amount}
    )
    placed: list[Any] = []
    refused = run_action(
        session,
        lambda: placed.append(
            orders.place_order(session, actor, confirmed, values["idempotency_key"] or None)[0]
        ),
    )
    if refused is not None:
        if refused.code == "price_changed":
            fresh = orders.quote(session, actor, data)
        return _form(request, actor, session, values, _beside(refused), fresh, refused.status_code)
    return RedirectResponse(f"/orders/{placed[0].id}", status_code=303)


def _fen(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 10 else None


def _beside(exc: DomainError) -> dict[str, str]:
    return {exc.field if exc.field in ORDER_HINTS else "form": exc.message}


@router.get("/orders/{order_id}")
def order_page(
    request: Request, actor: Viewer, session: DB, order_id: Id, error: str = ""
) -> Response:
    order = orders.get_order(session, actor, order_id)
    item = session.get(ServiceItem, order.item_id)
    caregiver = session.get(Caregiver, order.caregiver_id) if order.caregiver_id else None
    suggestions: list[matching.Suggestion] = []
    if actor.can(Perm.MANAGE_ORDERS) and order.state in (OrderState.PLACED, OrderState.ASSIGNED):
        suggestions = dispatch.suggest(session, actor, order.id)
    from yiyang.registry.repository import get_readable

    elder = get_readable(session, actor, order.elder_id)
    page = render(
        request,
        "services/detail.html",
        order=order,
        item=item,
        caregiver=caregiver,
        elder=elder,
        trail=repo.trail(session, order.id),
        suggestions=suggestions,
        EXCLUSIONS=dispatch.EXCLUSIONS,
        error=_page_error(request, error),
        **_ctx(),
    )
    return _shown(page, request)


@router.post("/orders/{order_id}/assign")
def assign(
    actor: ProviderStaff,
    session: DB,
    order_id: Id,
    caregiver_id: Annotated[int, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    return _act(
        session,
        f"/orders/{order_id}",
        lambda: dispatch.assign(session, actor, order_id, caregiver_id, note or None),
    )


@router.post("/orders/{order_id}/act")
def act(
    actor: Viewer,
    session: DB,
    order_id: Id,
    action: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    stars: Annotated[int, Form()] = 0,
) -> Response:
    ops = {
        "confirm": lambda: orders.confirm(session, actor, order_id),
        "cancel": lambda: orders.cancel(session, actor, order_id, reason),
        "dispute": lambda: orders.dispute(session, actor, order_id, reason),
        "rate": lambda: ratings.rate(session, actor, order_id, stars, reason or None),
        "uphold": lambda: orders.resolve_dispute(session, actor, order_id, True, reason),
        "reject": lambda: orders.resolve_dispute(session, actor, order_id, False, reason),
        "reissue_code": lambda: orders.reissue_code(session, actor, order_id),
    }
    if action not in ops:
        return RedirectResponse(f"/orders/{order_id}", status_code=303)
    if action in ("cancel", "dispute", "uphold", "reject") and len(reason.strip()) < 2:
        return RedirectResponse(f"/orders/{order_id}?error=reason", status_code=303)
    return _act(session, f"/orders/{order_id}", ops[action])


def _act(session: Session, back: str, op: Any, anchor: str = "") -> Response:
    """Run a page action (``web.actions.run_action``); back to the page, with the refusal as
    a one-time message (``_refuse``) when there is one."""
    refused = run_action(session, op)
    if refused is not None:
        return _refuse(back, refused.message, anchor)
    return RedirectResponse(f"{back}{anchor}", status_code=303)


# --- page errors: never text from the query string ---
#
# A refusal goes back to the page as ``?error=flash`` with the message in a short-lived signed
# cookie (``FLASH``), read once by the page; ``?error=<code>`` names one of ``ERRORS``' fixed
# messages (the family's invitation code); any other ``error`` shows ``GENERIC``. So a link
# cannot put text of its own on a page.

FLASH = "yiyang_flash"
ERRORS = {
    "code": N_("This code is wrong, used or expired."),
    "locked": N_("Too many wrong codes. Try again in %(minutes)d minutes."),
    "linked": N_("Your account is already linked to this elder."),
    "family": N_("Only a family member's account can be linked with a code."),
    "reason": N_("Please give a reason."),
}
GENERIC = N_("This could not be done.")


def _signed(message: str) -> str:
    import base64

    return _signed_body(base64.urlsafe_b64encode(message.encode()).decode().rstrip("="))


def _unsigned(value: str) -> str | None:
    import base64
    import hmac

    body = value.rsplit(".", 1)[0]
    if not body or not hmac.compare_digest(_signed_body(body), value):
        return None
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except ValueError:
        return None


def _signed_body(body: str) -> str:
    import hashlib
    import hmac

    from yiyang.core.config import get_settings

    key = f"{get_settings().secret_key}:flash".encode()
    return body + "." + hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def _refuse(back: str, message: str, anchor: str = "") -> Response:
    from yiyang.core.config import get_settings

    response = RedirectResponse(f"{back}?error=flash{anchor}", status_code=303)
    response.set_cookie(
        FLASH,
        _signed(message[:500]),
        max_age=60,
        httponly=True,
        samesite="lax",
        secure=get_settings().cookie_secure,
        path="/",
    )
    return response


def _page_error(request: Request, error: str, minutes: int = 0) -> str:
    """The message a page shows for its ``error`` parameter (see above)."""
    from yiyang.core.i18n import gettext as _

    if not error:
        return ""
    if error == "flash":
        return _unsigned(request.cookies.get(FLASH, "")) or _(GENERIC)
    if error == "locked":
        return _(ERRORS["locked"], minutes=max(1, min(minutes, 24 * 60)))
    return _(ERRORS[error]) if error in ERRORS else _(GENERIC)


def _shown(response: Response, request: Request) -> Response:
    """The page was rendered: the one-time message is spent."""
    if FLASH in request.cookies:
        response.delete_cookie(FLASH, path="/")
    return response


# --- the caregiver's phone page ---


@router.get("/my-jobs")
def my_jobs(
    request: Request, actor: Deliverer, session: DB, error: str = "", day: str = ""
) -> Response:
    me = repo.caregiver_for_user(session, actor.user_id)
    chosen = dt.date.fromisoformat(day) if day else today_local()
    rows = repo.board(session, actor, repo.OrderFilters(day=chosen)) if me else []
    rows = [r for r in rows if r.ServiceOrder.state != OrderState.CANCELLED]
    order = matching.route_order(
        me.home_lat if me else None,
        me.home_lon if me else None,
        [
            (
                r.ServiceOrder.id,
                r.ServiceOrder.scheduled_at,
                r.ServiceOrder.home_lat,
                r.ServiceOrder.home_lon,
            )
            for r in rows
        ],
    )
    by_id = {r.ServiceOrder.id: r for r in rows}
    page = render(
        request,
        "services/jobs.html",
        me=me,
        jobs=[by_id[i] for i in order],
        day=chosen,
        error=_page_error(request, error),
        now=now(),
        **_ctx(),
    )
    return _shown(page, request)


def _coordinate(value: str, limit: float) -> float | None:
    """A position the phone sent, or None when it sent none or nothing usable (then the visit
    is recorded without one and flagged, as when the phone gives no position)."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and abs(number) <= limit else None


@router.post("/my-jobs/{order_id}/{action}")
def job_action(
    actor: Deliverer,
    session: DB,
    order_id: Id,
    action: str,
    lat: Annotated[str, Form()] = "",
    lon: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    la, lo = _coordinate(lat, 90), _coordinate(lon, 180)
    ops = {
        "accept": lambda: orders.accept(session, actor, order_id),
        "decline": lambda: orders.decline(session, actor, order_id, reason or "—"),
        "depart": lambda: orders.depart(session, actor, order_id),
        "check-in": lambda: orders.check_in(session, actor, order_id, la, lo),
        "check-out": lambda: orders.check_out(
            session, actor, order_id, la, lo, code.strip() or None
        ),
    }
    if action not in ops:
        return RedirectResponse("/my-jobs", status_code=303)
    return _act(session, "/my-jobs", ops[action], f"#job-{order_id}")


# --- provider pages ---


@router.get("/caregivers")
def caregivers_page(
    request: Request, actor: Annotated[Actor, Depends(require(Perm.MANAGE_CAREGIVERS))], session: DB
) -> Response:
    staff = session.scalars(
        select(Caregiver).where(caregiver_scope(actor)).order_by(Caregiver.id)
    ).all()
    certs = repo.certificates(session, [c.id for c in staff])
    scores = ratings.scores(session, "caregiver", [c.id for c in staff])
    return render(
        request,
        "services/caregivers.html",
        staff=staff,
        certs=certs,
        scores=scores,
        today=today_local(),
        **_ctx(),
    )


@router.get("/settlement")
def settlement_page(request: Request, actor: Settlement, session: DB, period: str = "") -> Response:
    period = period or f"{today_local():%Y-%m}"
    pid = actor.provider_id if actor.role is Role.PROVIDER_ADMIN else None
    rows = settlement.statements(session, period, pid)
    names = dict(session.execute(select(Provider.id, Provider.name)).all())
    return render(
        request, "services/settlement.html", period=period, rows=rows, names=names, **_ctx()
    )


@router.post("/settlement")
def settle_month(
    actor: Annotated[Actor, Depends(require(Perm.MANAGE_SUBSIDIES))],
    session: DB,
    period: Annotated[str, Form()],
) -> Response:
    import re

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        return RedirectResponse("/settlement", status_code=303)
    settlement.settle(session, period)
    return RedirectResponse(f"/settlement?period={period}", status_code=303)


# --- the elder's and family's own page (适老化: large print, one big button per action) ---

FAMILY_SIDE = (Role.ELDER, Role.FAMILY)


@router.get("/my-services")
def my_services(
    request: Request,
    actor: Viewer,
    session: DB,
    error: str = "",
    linked: str = "",
    minutes: int = 0,
) -> Response:
    """The elder's and family's home page (长辈版): services, meals, subsidy, the community
    worker to call; the family also sees today's state of the home, the alerts and their own
    notification settings."""
    if actor.role not in FAMILY_SIDE:
        return RedirectResponse("/orders", status_code=303)
    return _shown(
        _mine_page(
            request, actor, session, error=_page_error(request, error, minutes), linked=bool(linked)
        ),
        request,
    )


def _mine_page(
    request: Request,
    actor: Actor,
    session: Session,
    *,
    error: str = "",
    linked: bool = False,
    ordering: dict[int, dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    """The 长辈版 page; ``ordering``: an elder's order in progress (values typed, the quote to
    confirm, errors beside the fields), shown in place in that elder's card."""
    from yiyang.registry.models import Elder
    from yiyang.registry.repository import readable

    elders = session.scalars(readable(actor).order_by(Elder.id).limit(5)).all()
    where = presence.presence_of(session, actor, elders)
    cards = [{**_home_card(session, actor, e), "presence": where[e.id]} for e in elders]
    return render(
        request,
        "services/mine.html",
        status_code=status_code,
        cards=cards,
        error=error,
        linked=linked,
        when=_when,
        ordering=ordering or {},
        new_key=lambda: uuid.uuid4().hex,
        tomorrow=today_local() + dt.timedelta(days=1),
        SLOTS=ORDER_SLOTS,
        **_ctx(),
    )


ORDER_SLOTS = [f"{h:02d}:00" for h in range(8, 19)]


@router.post("/my-services/order")
async def order_mine(request: Request, actor: Placer, session: DB) -> Response:
    """The elder's or family's order, in two steps in the elder's card: "see the price" shows
    the price, what the subsidy pays and what they pay; only "confirm" places it."""
    if actor.role not in FAMILY_SIDE:
        return RedirectResponse("/orders/new", status_code=303)
    form = await request.form()
    typed = {k: str(form.get(k) or "") for k in form.keys()}  # noqa: SIM118
    day, time = typed.get("day", "").strip(), typed.get("time", "").strip()
    typed["scheduled_at"] = f"{day}T{time}" if day and time else ""
    values, data = _order_data(typed)
    values.update(day=day, time=time)
    elder_id = int(values["elder_id"]) if values["elder_id"].isdigit() else 0
    if not isinstance(data, OrderCreate):
        return _mine_page(
            request,
            actor,
            session,
            ordering={elder_id: {"values": values, "errors": data}},
            status_code=422,
        )
    return await run_in_threadpool(
        _quote_or_place_mine,
        request,
        actor,
        session,
        values,
        data,
        typed.get("step", ""),
        typed.get("expected_self_pay_fen", ""),
        _fen(typed.get("expected_amount_fen")),
    )


def _quote_or_place_mine(
    request: Request,
    actor: Actor,
    session: Session,
    values: dict[str, Any],
    data: OrderCreate,
    step: str,
    expected: str,
    amount: int | None,
) -> Response:
    def again(errors: dict[str, str], quote: orders.Quote | None, status: int) -> Response:
        state = {"values": values, "errors": errors, "quote": quote}
        return _mine_page(
            request, actor, session, ordering={data.elder_id: state}, status_code=status
        )

    try:
        fresh = orders.quote(session, actor, data)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return again(_beside(exc), None, 422)
    if step != "confirm" or not expected.isdigit():
        return again({}, fresh, 200)
    confirmed = data.model_copy(
        update={"expected_self_pay_fen": int(expected), "expected_amount_fen": amount}
    )
    placed: list[Any] = []
    refused = run_action(
        session,
        lambda: placed.append(
            orders.place_order(session, actor, confirmed, values["idempotency_key"] or None)[0]
        ),
    )
    if refused is not None:
        if refused.code == "price_changed":
            fresh = orders.quote(session, actor, data)
        return again(_beside(refused), fresh, refused.status_code)
    return RedirectResponse(f"/my-services#order-{placed[0].id}", status_code=303)


def _when(value: dt.datetime) -> str:
    """A time of today as 09:12, of another day with its date."""
    local = value.astimezone(local_zone())
    return local.strftime("%H:%M" if local.date() == today_local() else "%m-%d %H:%M")


def _home_card(session: Session, actor: Actor, elder: Any) -> dict[str, Any]:
    from yiyang.services import home, meals
    from yiyang.services.models import MealOrder, Rating

    today = today_local()
    since = dt.datetime.combine(today - dt.timedelta(days=7), dt.time(0), tzinfo=local_zone())
    rows = repo.board(session, actor, repo.OrderFilters(elder_id=elder.id))
    week = [
        r
        for r in rows
        if r.ServiceOrder.scheduled_at >= since and r.ServiceOrder.state != OrderState.CANCELLED
    ]
    ids = [r.ServiceOrder.id for r in week] or [0]
    rated = set(session.scalars(select(Rating.order_id).where(Rating.order_id.in_(ids))))
    menus = meals.menus(session, elder.region_path, today)
    ordered = dict(
        session.execute(
            select(MealOrder.menu_id, MealOrder.state).where(
                MealOrder.elder_id == elder.id,
                MealOrder.menu_id.in_([m.id for m, _c in menus] or [0]),
            )
        ).all()
    )
    family = actor.role == Role.FAMILY
    return {
        "elder": elder,
        "orders": week,
        "rated": rated,
        "balances": reports.elder_balances(session, elder.id),
        "menus": menus,
        "meal_state": ordered,
        "meal_subsidy": meals.meal_subsidy(session, elder, today)[1],
        "worker": home.community_worker(session, elder),
        "today": home.home_today(session, actor, elder) if family else None,
        "today_services": sum(
            1 for r in week if to_local(r.ServiceOrder.scheduled_at).date() == today
        ),
        "contact": home.own_contact(session, actor, elder.id) if family else None,
        "items": repo.orderable_items(session, actor, elder.region_path)
        if actor.can(Perm.PLACE_ORDERS)
        else [],
    }


@router.post("/my-services/notifications/{elder_id}")
def save_notifications(
    actor: Viewer,
    session: DB,
    elder_id: Id,
    sms: Annotated[str, Form()] = "",
    email: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """The family member's own notification settings: SMS on alerts and an e-mail address,
    on their own row among the elder's emergency contacts (audited as a change of that row)."""
    from yiyang.services import home

    return _act(
        session,
        "/my-services",
        lambda: home.set_notifications(session, actor, elder_id, on=sms == "1", email=email),
        f"#notify-{elder_id}",
    )


@router.post("/my-services/presence/{elder_id}/away")
def away_from_home(
    actor: Marker,
    session: DB,
    elder_id: Id,
    until_date: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Away from now (the elder, or their family), maybe back on a day: that day's evening."""
    from yiyang.presence.schemas import AwayCreate
    from yiyang.presence.state import back_on

    def op() -> object:
        try:
            day = dt.date.fromisoformat(until_date) if until_date else None
        except ValueError:
            day = None
        until = back_on(day, local_zone()) if day is not None else None
        return presence.mark_away(session, actor, elder_id, AwayCreate(until=until))

    return _act(session, "/my-services", op, f"#presence-{elder_id}")


@router.post("/my-services/presence/{elder_id}/back")
def back_home(actor: Marker, session: DB, elder_id: Id) -> Response:
    return _act(
        session,
        "/my-services",
        lambda: presence.mark_back(session, actor, elder_id),
        f"#presence-{elder_id}",
    )


@router.post("/my-services/meal")
def order_meal_page(
    actor: Placer,
    session: DB,
    elder_id: Annotated[int, Form()],
    menu_id: Annotated[int, Form()],
    mode: Annotated[str, Form()] = "pickup",
) -> Response:
    from yiyang.services import meals
    from yiyang.services.schemas import MealOrderCreate

    if mode not in ("pickup", "delivery"):
        mode = "pickup"
    data = MealOrderCreate(elder_id=elder_id, menu_id=menu_id, mode=mode)
    return _act(session, "/my-services", lambda: meals.order_meal(session, actor, data))


@router.post("/my-services/{order_id}/{action}")
def my_service_action(
    actor: Placer,
    session: DB,
    order_id: Id,
    action: str,
    stars: Annotated[int, Form()] = 0,
) -> Response:
    ops = {
        "confirm": lambda: orders.confirm(session, actor, order_id),
        "rate": lambda: ratings.rate(session, actor, order_id, stars, None),
        "new-code": lambda: orders.reissue_code(session, actor, order_id),
    }
    if action not in ops or (action == "rate" and not 1 <= stars <= 5):
        return RedirectResponse("/my-services", status_code=303)
    return _act(session, "/my-services", ops[action], f"#order-{order_id}")
