"""Console pages: the live queue, the emergency card with its actions, the 120 brief (HTML
and PDF), service levels, and the responder's phone page (reached by the link in their SMS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from yiyang.alarms import service as alerts
from yiyang.alarms.enums import AlertState, AlertType, Outcome
from yiyang.console import card as cards
from yiyang.console import pdf, reports
from yiyang.console import service as response
from yiyang.console.repository import QueueFilters, QueueRow, queue
from yiyang.console.schemas import (
    AlertClaim,
    AlertHandOver,
    AlertResolution,
    ArrivalReport,
    CallCreate,
    Callee,
    DispatchCreate,
    EmergencyRequestCreate,
)
from yiyang.core import i18n
from yiyang.core.auth import require, session_watch
from yiyang.core.clock import now
from yiyang.core.config import get_settings
from yiyang.core.db import DB
from yiyang.core.roles import Perm
from yiyang.core.scoping import Actor
from yiyang.core.types import Id
from yiyang.devices import vitals
from yiyang.notifications import delivery
from yiyang.web.actions import run_action
from yiyang.web.nav import NavEntry, needs, register_nav
from yiyang.web.security import content_disposition
from yiyang.web.templating import (
    TEMPLATES,
    localtime,
    register_filters,
    register_globals,
    render,
)

router = APIRouter(include_in_schema=False)
register_nav(NavEntry("console", "/console", i18n.N_("Console"), needs(Perm.HANDLE_ALERTS), 30))


def _place(facility: Any) -> dict[str, Any]:
    """A facility as the card's map reads it."""
    return {
        "name": facility.name,
        "kind": facility.kind,
        "lat": facility.latitude,
        "lon": facility.longitude,
    }


def _trackpoint(point: Any) -> list[Any]:
    """A track point ``(lat, lon, at)`` as the card's map reads it."""
    return [point[0], point[1], localtime(point[2], "%H:%M")]


register_filters(place=_place, trackpoint=_trackpoint)
register_globals(
    delivery_label=delivery.label,
    delivery_failed=delivery.failed,
    vital_label=vitals.vital_label,
    vital_value=vitals.vital_value,
)
Operator = Annotated[Actor, Depends(require(Perm.HANDLE_ALERTS))]


def queue_filters(
    actor: Actor, region: str = "", alert_type: str = "", state: str = ""
) -> QueueFilters:
    """Filters from the query string; a region outside the actor's area is ignored (the scope
    still applies in the query, this only keeps the form honest)."""
    if region and not region.startswith(actor.region_path) and actor.region_path != "/":
        region = ""
    if alert_type not in {t.value for t in AlertType}:
        alert_type = ""
    if state not in {s.value for s in AlertState if s is not AlertState.RESOLVED}:
        state = ""
    return QueueFilters(region=region, alert_type=alert_type, state=state)


def render_row(row: QueueRow) -> str:
    return TEMPLATES.env.get_template("console/_row.html").render(row=row, locale=i18n.get_locale())


def _regions(session: Session, actor: Actor) -> list[Any]:
    from sqlalchemy import select

    from yiyang.regions.models import Region

    rows = session.execute(select(Region.path, Region.name, Region.level).order_by(Region.path))
    scope = actor.region_path if actor.region_path != "/" else ""
    return [r for r in rows if r.path.startswith(scope) and r.level != "community"]


@router.get("/console")
def console_page(
    request: Request,
    actor: Operator,
    session: DB,
    region: str = "",
    alert_type: str = "",
    state: str = "",
) -> Response:
    f = queue_filters(actor, region, alert_type, state)
    rows = queue(session, actor, f)
    today = reports.today(session, actor)
    return render(
        request,
        "console/index.html",
        rows=rows,
        filters=f,
        regions=_regions(session, actor),
        alert_types=list(AlertType),
        states=[s for s in AlertState if s is not AlertState.RESOLVED],
        today=today,
    )


@router.get("/console/queue")
def queue_fragment(
    request: Request,
    actor: Operator,
    session: DB,
    region: str = "",
    alert_type: str = "",
    state: str = "",
) -> Response:
    rows = queue(session, actor, queue_filters(actor, region, alert_type, state))
    return render(request, "console/_rows.html", rows=rows)


@router.get("/console/stream")
async def console_stream(
    request: Request,
    actor: Operator,
    region: str = "",
    alert_type: str = "",
    state: str = "",
) -> StreamingResponse:
    hub = await hub_of(request)
    session_id, alive = await session_watch(request)  # the stream ends with the session
    stream = hub.stream(
        actor,
        queue_filters(actor, region, alert_type, state),
        i18n.get_locale(),
        session_id=session_id,
        alive=alive,
    )
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def hub_of(request: Request) -> Any:
    from yiyang.console.live import ConsoleHub

    app = request.app
    hub = getattr(app.state, "console_hub", None)
    if hub is None:
        hub = app.state.console_hub = ConsoleHub(render_row)
        await hub.start()
    return hub


# -- the emergency card ----------------------------------------------------------------------


def _card(request: Request, actor: Actor, session: Session, alert_id: Id, **extra: Any) -> Response:
    alert = alerts.get_alert(session, actor, alert_id)
    c = cards.load(session, actor, alert, now())
    settings = get_settings()
    return render(
        request,
        "console/card.html",
        c=c,
        outcomes=list(Outcome),
        tile_url=settings.map_tile_url,
        attribution=settings.map_attribution,
        status_code=extra.pop("status_code", 200),
        **extra,
    )


@router.get("/console/alerts/{alert_id}")
def card_page(request: Request, actor: Operator, session: DB, alert_id: Id) -> Response:
    return _card(request, actor, session, alert_id)


def _act(
    request: Request,
    actor: Actor,
    session: Session,
    alert_id: Id,
    run: Callable[[], object],
    fragment: str = "",
) -> Response:
    """Run one action (``web.actions.run_action``); on success back to the card
    (post/redirect/get), on a refusal the card again with the reason (e.g. who already has the
    alert)."""
    refused = run_action(session, run)
    if refused is not None:
        return _refused(request, actor, session, alert_id, refused.message, refused.status_code)
    target = f"/console/alerts/{alert_id}" + (f"#{fragment}" if fragment else "")
    return RedirectResponse(target, status_code=303)


def _refused(
    request: Request, actor: Actor, session: Session, alert_id: Id, message: str, status: int
) -> Response:
    return _card(request, actor, session, alert_id, error=message, status_code=status)


Text = Annotated[str, Form()]


@router.post("/console/alerts/{alert_id}/claim")
def claim_action(request: Request, actor: Operator, session: DB, alert_id: Id) -> Response:
    # the claim writes before it reads (see response.service.claim_by_id)
    return _act(
        request,
        actor,
        session,
        alert_id,
        lambda: response.claim_by_id(session, actor, alert_id, AlertClaim(), now()),
    )


@router.post("/console/alerts/{alert_id}/release")
def release_action(
    request: Request, actor: Operator, session: DB, alert_id: Id, note: Text = ""
) -> Response:
    alert = alerts.get_alert(session, actor, alert_id)
    data = AlertClaim(note=note or None)
    return _act(
        request,
        actor,
        session,
        alert_id,
        lambda: response.release(session, actor, alert, data, now()),
    )


@router.post("/console/alerts/{alert_id}/handover")
def handover_action(
    request: Request,
    actor: Operator,
    session: DB,
    alert_id: Id,
    to_user_id: Annotated[int, Form()],
    note: Text,
) -> Response:
    alert = alerts.get_alert(session, actor, alert_id)
    data = AlertHandOver(to_user_id=to_user_id, note=note)
    return _act(
        request,
        actor,
        session,
        alert_id,
        lambda: response.hand_over(session, actor, alert, data, now()),
    )


@router.post("/console/alerts/{alert_id}/call")
def call_action(
    request: Request,
    actor: Operator,
    session: DB,
    alert_id: Id,
    callee: Text,
    answered: Text,
    outcome: Text = "",
) -> Response:
    alert = alerts.get_alert(session, actor, alert_id)
    kind, _, rest = callee.partition("|")
    name, _, phone = rest.partition("|")
    data = CallCreate(
        callee=Callee(kind) if kind in Callee.__members__.values() else Callee.OTHER,
        callee_name=(name or "?")[:64],
        phone=(phone or None) and phone[:20],
        answered=answered == "yes",
        outcome=(outcome or None) and outcome[:2000],
    )
    return _act(
        request,
        actor,
        session,
        alert_id,
        lambda: response.log_call(session, actor, alert, data, now()),
        fragment="calls",
    )


@router.post("/console/alerts/{alert_id}/dispatch")
def dispatch_action(
    request: Request, actor: Operator, session: DB, alert_id: Id, target: Text, note: Text = ""
) -> Response:
    alert = alerts.get_alert(session, actor, alert_id)
    kind, _, ident = target.partition(":")
    if kind not in ("responder", "contact") or not ident.isdigit():
        message = i18n.gettext("Choose who to send.")
        return _refused(request, actor, session, alert_id, message, 422)
    data = DispatchCreate(
        responder_id=int(ident) if kind == "responder" else None,
        contact_id=int(ident) if kind == "contact" else None,
        note=note or None,
    )
    return _act(
        request,
        actor,
        session,
        alert_id,
        lambda: response.dispatch(session, actor, alert, data, now()),
        fragment="dispatches",
    )


@router.post("/console/alerts/{alert_id}/request-120")
def request_120_action(
    request: Request, actor: Operator, session: DB, alert_id: Id, note: Text = ""
) -> Response:
    alert = alerts.get_alert(session, actor, alert_id)
    data = EmergencyRequestCreate(note=note or None)
    return _act(
        request,
        actor,
        session,
        alert_id,
        lambda: response.request_120(session, actor, alert, data, now()),
        fragment="e120",
    )


@router.post("/console/alerts/{alert_id}/resolve")
def resolve_action(
    request: Request,
    actor: Operator,
    session: DB,
    alert_id: Id,
    outcome: Text = "",
    note: Text = "",
    confirm_en_route: Text = "",
) -> Response:
    """Resolve; while someone sent is on the way, the same form comes back with a second step
    (who is on the way, "resolve anyway" or keep it open) — no pop-up."""
    alert = alerts.get_alert(session, actor, alert_id)
    if outcome not in {o.value for o in Outcome}:
        message = i18n.gettext("Choose an outcome to resolve the alert.")
        return _refused(request, actor, session, alert_id, message, 422)
    data = AlertResolution(
        outcome=Outcome(outcome), note=note or None, confirm_en_route=confirm_en_route == "yes"
    )
    refused = run_action(session, lambda: response.resolve(session, actor, alert, data, now()))
    if isinstance(refused, response.EnRoute):
        confirm = {"message": refused.message, "outcome": outcome, "note": note}
        return _card(request, actor, session, alert_id, confirm_resolve=confirm, status_code=409)
    if refused is not None:
        return _refused(request, actor, session, alert_id, refused.message, refused.status_code)
    return RedirectResponse(f"/console/alerts/{alert_id}", status_code=303)


# -- 120 brief -----------------------------------------------------------------------------


@router.get("/console/alerts/{alert_id}/brief")
def brief_page(request: Request, actor: Operator, session: DB, alert_id: Id) -> Response:
    alert = alerts.get_alert(session, actor, alert_id)
    brief = cards.brief(session, actor, alert, now())
    return render(
        request,
        "console/brief.html",
        brief=brief,
        generated_at=pdf.stamp(),
        happened_at=pdf.local_time(brief["alert"]["first_at"]),
    )


@router.get("/console/alerts/{alert_id}/brief.pdf")
def brief_pdf(actor: Operator, session: DB, alert_id: Id) -> Response:
    alert = alerts.get_alert(session, actor, alert_id)
    brief = cards.brief(session, actor, alert, now())
    return Response(
        pdf.render(brief, pdf.stamp()),
        media_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(f"brief-120-{alert_id}.pdf", inline=True)
        },
    )


# -- service levels ------------------------------------------------------------------------


@router.get("/console/sla")
def sla_page(request: Request, actor: Operator, session: DB, month: str = "") -> Response:
    period = reports.parse_month(month)
    rep = reports.monthly(session, actor, period)
    return render(
        request,
        "console/sla.html",
        rep=rep,
        month=period,
        months=reports.recent_months(),
        shift_label=reports.shift_label,
    )


@router.get("/console/sla.xlsx")
def sla_export(actor: Operator, session: DB, month: str = "") -> Response:
    period = reports.parse_month(month)
    body = reports.export_xlsx(session, actor, period)
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": content_disposition(f"sla-{period:%Y-%m}.xlsx")},
    )


# -- the responder's phone page ------------------------------------------------------------


def _link_ended(request: Request, sent: Any, alert: Any) -> Response:
    """The arrival link of a resolved alert: a page saying the visit is no longer needed."""
    return render(request, "console/responder_ended.html", sent=sent, alert=alert, status_code=410)


@router.get("/r/{token}")
def responder_page(request: Request, session: DB, token: str) -> Response:
    sent = response.dispatch_by_token(session, token, now())
    if sent.arrived_at is None and (closed := response.ended_with(session, sent)) is not None:
        return _link_ended(request, sent, closed)
    return render(
        request,
        "console/responder.html",
        sent=sent,
        info=cards.for_responder(session, sent),
        token=token,
    )


@router.post("/r/{token}")
def responder_arrived(
    request: Request,
    session: DB,
    token: str,
    latitude: Text = "",
    longitude: Text = "",
    note: Text = "",
) -> Response:
    def num(v: str) -> float | None:
        try:
            return float(v) if v else None
        except ValueError:
            return None

    sent = response.dispatch_by_token(session, token, now())
    if sent.arrived_at is None and (closed := response.ended_with(session, sent)) is not None:
        return _link_ended(request, sent, closed)  # nothing recorded; the visit is audited
    data = ArrivalReport(latitude=num(latitude), longitude=num(longitude), note=note or None)
    response.confirm_arrival(session, token, data, now())
    session.flush()  # committed by the session dependency before the redirect is sent
    return RedirectResponse(f"/r/{token}", status_code=303)
